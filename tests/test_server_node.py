"""mesher.server and the JavaScript SDK: ``@sentry/node`` (11.x) sends to
a running server through its own transport (it streams its body).

A tier of its own: it runs when Node.js and ``@sentry/node`` are installed
(``./dev setup`` puts the package in ``.mesher/node``; ``$MESHER_SENTRY_NODE``
names another ``node_modules`` folder), and is skipped otherwise, with the
reason in pytest's summary."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mesher import queries as q

from .server_helpers import running_server

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = Path(
    os.environ.get("MESHER_SENTRY_NODE") or ROOT / ".mesher" / "node" / "node_modules"
)


def _unavailable() -> str | None:
    if shutil.which("node") is None:
        return "the @sentry/node tier needs Node.js (node is not on PATH)"
    if not (NODE_MODULES / "@sentry" / "node" / "package.json").exists():
        return f"the @sentry/node tier needs @sentry/node in {NODE_MODULES}: run ./dev setup"
    return None


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")

SCRIPT = """
const Sentry = require("@sentry/node");
Sentry.init({ dsn: process.env.DSN, release: "shop@1.2.3", environment: "production" });
class PaymentError extends Error {
  constructor(message, options) { super(message, options); this.name = "PaymentError"; }
}
try {
  try { JSON.parse("{"); } catch (e) { throw new PaymentError("card declined", { cause: e }); }
} catch (e) { Sentry.captureException(e); }
Sentry.captureMessage("node says hello", "warning");
Sentry.flush(20000).then((ok) => process.exit(ok ? 0 : 1));
"""


def test_sentry_node_sends_to_the_server(
    app_url: str, conn: psycopg.Connection[Any], project_id: uuid.UUID, tmp_path: Path
) -> None:
    key = q.create_api_key(conn, project_id)
    dsn_id = q.get_project(conn, project_id).dsn_id
    conn.commit()
    script = tmp_path / "send.cjs"
    script.write_text(SCRIPT)
    with running_server(app_url) as running:
        env = {**os.environ, "DSN": running.dsn(key, dsn_id), "NODE_PATH": str(NODE_MODULES)}
        run = subprocess.run(
            ["node", str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = conn.execute(
        "SELECT message, level, sdk_name, release, exceptions FROM events ORDER BY level"
    ).fetchall()
    conn.commit()
    assert len(rows) == 2
    (crash, message) = rows
    assert crash[1] == "error" and crash[2] == "sentry.javascript.node" and crash[3] == "shop@1.2.3"
    assert [e.get("type") for e in crash[4]] == ["SyntaxError", "PaymentError"]
    assert crash[4][-1]["value"] == "card declined"
    assert (message[0], message[1]) == ("node says hello", "warning")
