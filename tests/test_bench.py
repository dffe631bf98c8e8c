"""The benchmark suite still runs (tiny sizes; the numbers mean nothing here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    text = report.read_text()
    assert "Mode: smoke" in text
    for scenario in ("1. batch ingest", "2. hot issue", "3. single-event", "4. API-key",
                     "5. get_event", "6. fresh migrate", "6. maintain"):  # fmt: skip
        assert f"| {scenario}" in text, scenario
