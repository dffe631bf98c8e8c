"""Mesher benchmarks: each scenario against a hand-written psycopg baseline.

    python -m bench [--smoke] [--rounds N] [--repeat N] [--fresh-data] [--only 1,5]
                    [--output FILE] [--explain FILE]

Starts a throw-away PostgreSQL 18 (the embedded binaries), generates the
data, runs every scenario with the Mesher call and the baseline alternating,
prints a table and writes it to BENCHMARKS.md, which links to the reasoning
written by hand in bench/NOTES.md (not copied: the notes change between runs).
With ``--only``, the scenarios run replace their rows in an existing report
and the others are kept; its list of runs says which run measured which.
Every figure is a median with its [min-max]: over the rounds of one run, or,
with ``--repeat N``, over the N runs' medians. Every read checks that both
sides return the same non-empty rows, and the run fails if they do not.
``--smoke`` uses tiny sizes (CI runs it so the suite never rots); its numbers
mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from mesher import embedded

from . import report
from .citus_scenario import citus
from .deletion_scenario import deletion
from .figures import Result, combine, table
from .http_scenario import http_ingest
from .ingest_scenarios import hot_paths, native_batch, sentry_envelopes, tag_store_cost
from .lifecycle_scenario import lifecycle
from .scenarios import SCENARIOS, Context, Sizes, search_at_scale, tag_table
from .tags_scenario import high_cardinality_tags

#: Every scenario, by the number its rows start with.
ALL_SCENARIOS = {
    **SCENARIOS,
    8: sentry_envelopes,
    9: native_batch,
    10: hot_paths,
    11: tag_store_cost,
    12: search_at_scale,
    13: citus,
    14: http_ingest,
    15: deletion,
    16: lifecycle,
    17: high_cardinality_tags,
}


def _server(root: Path) -> embedded.Cluster:
    bin_dir = Path(os.environ.get("MESHER_PG18_BIN") or embedded.install_pg18())
    cluster = embedded.Cluster(bin_dir, root / "data", embedded.free_port())
    cluster.init(
        settings=["shared_buffers = '1GB'", "max_wal_size = '8GB'", "checkpoint_timeout = '30min'"]
    )
    cluster.start()
    return cluster


def _run(context: Context, chosen: set[int], run: int, runs: int) -> list[Result]:
    results: list[Result] = []
    for number, scenario in ALL_SCENARIOS.items():
        if chosen and number not in chosen:
            continue
        title = scenario.__doc__.splitlines()[0]  # type: ignore[union-attr]
        print(f"== {title}" + (f" (run {run} of {runs})" if runs > 1 else ""), flush=True)
        for result in scenario(context):
            print("  ", " | ".join(table([result])[2].split(" | ")[:4]), flush=True)
            results.append(result)
        context.drop_databases()
    context.drop_databases(end_of_run=True)
    return results


def _combined(runs: list[list[Result]]) -> list[Result]:
    """Per row, the median of the runs' medians, with their spread."""
    if len(runs) == 1:
        return runs[0]
    by_key: dict[str, list[Result]] = {}
    for results in runs:
        for r in results:
            by_key.setdefault(r.key, []).append(r)
    return [combine(rows) for rows in by_key.values()]


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite runs")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per side (default 5)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; reports the median run")
    parser.add_argument(
        "--fresh-data",
        action="store_true",
        help="with --repeat: load the read data sets again for every run (default: once)",
    )
    parser.add_argument("--output", default="BENCHMARKS.md", help="report file")
    parser.add_argument(
        "--explain", default="", help="write EXPLAIN ANALYZE of every read to this file"
    )
    parser.add_argument("--only", default="", help="scenario numbers to run, e.g. 1,2")
    args = parser.parse_args(argv)
    sizes = Sizes.smoke() if args.smoke else Sizes.full()
    if args.rounds:
        sizes.rounds = args.rounds
    chosen = {int(n) for n in args.only.split(",") if n}
    # Stopped (SIGTERM), still stop the server and remove its files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="mesher-bench-"))
    root.chmod(0o755)
    cluster = _server(root)
    runs: list[list[Result]] = []
    walls: list[float] = []
    try:
        with psycopg.connect(cluster.url("postgres")) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        context = Context(
            cluster, sizes, reuse_data=not args.fresh_data, explain=bool(args.explain)
        )
        for run in range(1, args.repeat + 1):
            started = time.perf_counter()
            runs.append(_run(context, chosen, run, args.repeat))
            walls.append(time.perf_counter() - started)
    finally:
        cluster.stop("fast")
        shutil.rmtree(root, ignore_errors=True)
    results = _combined(runs)
    loads = ", ".join(f"{n} in {_minutes(t)}" for n, t in context.load_seconds.items())
    if len(runs) == 1:
        spread = (
            f"1 run, {sizes.rounds} rounds per side, the sides alternating. Each figure is the"
            f" median of the {sizes.rounds} rounds, [min–max] over them."
        )
    else:
        spread = (
            f"{len(runs)} runs, each of {sizes.rounds} rounds per side, the sides alternating."
            f" Each figure is the median of the {len(runs)} runs' medians, [min–max] over them."
        )
    machine = (
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()},"
        f" Python {platform.python_version()}; PostgreSQL {version}."
    )
    mode = f"Mode: {'smoke (sizes too small to mean anything)' if args.smoke else 'full'}; {spread}"
    wall = (
        f"Wall time: {', '.join(_minutes(w) for w in walls)} per run; read data sets"
        f" ({loads or 'none'}) loaded {'per run' if args.fresh_data else 'once'}."
    )
    output = Path(args.output)
    measured = chosen or set(ALL_SCENARIOS)
    text = report.write(
        order=list(ALL_SCENARIOS),
        rows=table(results)[len(report.TABLE_HEAD) :],
        run_line=f"{datetime.date.today().isoformat()}. {machine} {mode} {wall}",
        measured={n for n in measured if n in ALL_SCENARIOS},
        tags=tag_table(context),
        notes=notes_link(output),
        old=output.read_text() if chosen and output.exists() else None,
    )
    print("\n".join(table(results)))
    output.write_text(text)
    print(f"wrote {args.output}")
    if args.explain:
        Path(args.explain).write_text("\n".join(context.plans))
        print(f"wrote {args.explain}")
    return 0


def notes_link(output: Path) -> list[str]:
    """The report's last section: a link to bench/NOTES.md, relative to where the
    report is written inside the repository (``bench/NOTES.md`` from its root,
    and for a report written elsewhere)."""
    notes = Path(__file__).resolve().parent / "NOTES.md"
    root = notes.parent.parent
    if output.resolve().is_relative_to(root):
        target = Path(os.path.relpath(notes, output.resolve().parent)).as_posix()
    else:  # written outside the repository: named from its root, never by a machine's path
        target = "bench/NOTES.md"
    return [
        "## What the numbers say, and what limits the misses",
        "",
        f"What each row measures, how to read it, and what limits the misses: [{target}]({target})",
        "(written by hand; it names the rows above rather than quoting their figures).",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
