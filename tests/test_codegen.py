"""The generated sync modules match their async sources."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sync_modules_are_up_to_date() -> None:
    run = subprocess.run(
        [sys.executable, "tools/gen_sync.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
