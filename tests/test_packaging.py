"""A built wheel carries the SQL and works outside the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_sql_and_works_outside_the_repo(tmp_path: Path, empty_db_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("mesher-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for sql in (ROOT / "sql").rglob("*.sql"):
        assert f"mesher/sql/{sql.relative_to(ROOT / 'sql')}" in names
    assert "mesher/py.typed" in names
    probe = (
        "import mesher, mesher.migrate, mesher._sql as s;"
        "print(mesher.__file__); print(s.sql_dir());"
        f"mesher.migrate.migrate({empty_db_url!r}, days=1)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    module_file, sql_folder = run.stdout.split()
    assert module_file.startswith(str(tmp_path / "site"))
    assert sql_folder == str(tmp_path / "site" / "mesher" / "sql")
