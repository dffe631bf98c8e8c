"""Mesher benchmarks: each scenario against a hand-written psycopg baseline.

    python -m bench [--smoke] [--rounds N] [--output BENCHMARKS.md]

Starts a throw-away PostgreSQL 18 (the embedded binaries), generates the
data, runs every scenario with the Mesher call and the baseline alternating,
prints a table of medians and writes it to BENCHMARKS.md. ``--smoke`` uses
tiny sizes (CI runs it so the suite never rots); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import psycopg

from mesher import embedded

from .scenarios import SCENARIOS, Context, Result, Sizes


def _server(root: Path) -> embedded.Cluster:
    bin_dir = Path(os.environ.get("MESHER_PG18_BIN") or embedded.install_pg18())
    cluster = embedded.Cluster(bin_dir, root / "data", embedded.free_port())
    cluster.init(
        settings=["shared_buffers = '1GB'", "max_wal_size = '8GB'", "checkpoint_timeout = '30min'"]
    )
    cluster.start()
    return cluster


def _table(results: list[Result]) -> list[str]:
    lines = [
        "| scenario | Mesher | baseline | Mesher / baseline | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.mesher} | {r.baseline} | {r.ratio} | {r.goal} | {r.verdict} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per side (default 5)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="report file")
    parser.add_argument("--only", default="", help="scenario numbers to run, e.g. 1,2")
    args = parser.parse_args(argv)
    sizes = Sizes.smoke() if args.smoke else Sizes.full()
    if args.rounds:
        sizes.rounds = args.rounds
    root = Path(tempfile.mkdtemp(prefix="mesher-bench-"))
    root.chmod(0o755)
    cluster = _server(root)
    try:
        with psycopg.connect(cluster.url("postgres")) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        context = Context(cluster, sizes)
        results: list[Result] = []
        chosen = {int(n) for n in args.only.split(",") if n}
        for number, scenario in enumerate(SCENARIOS, start=1):
            if chosen and number not in chosen:
                continue
            print(f"== {scenario.__doc__.splitlines()[0]}", flush=True)  # type: ignore[union-attr]
            for result in scenario(context):
                print("  ", " | ".join(_table([result])[2].split(" | ")[:4]), flush=True)
                results.append(result)
    finally:
        cluster.stop("fast")
        shutil.rmtree(root, ignore_errors=True)
    header = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()},"
        f" Python {platform.python_version()}; PostgreSQL {version}.",
        f"Mode: {'smoke (sizes too small to mean anything)' if args.smoke else 'full'};"
        f" {sizes.rounds} rounds per side, alternating; medians.",
        "",
        "Regenerate with `./dev bench` (full) or `./dev bench --smoke`.",
        "",
    ]
    notes = (Path(__file__).parent / "NOTES.md").read_text()
    report = "\n".join(header + _table(results) + ["", *context.notes, "", notes])
    print("\n".join(_table(results)))
    Path(args.output).write_text(report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
