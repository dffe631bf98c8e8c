"""BENCHMARKS.md: the table of every scenario's rows, and which run measured them.

A full run writes the whole report. A run of some scenarios (``--only``)
into an existing report replaces those scenarios' rows and keeps the others,
so a long suite can be measured scenario by scenario on a quiet machine; the
report's ``## Runs`` list says which run measured which scenarios, with its
date, machine, server, mode and spread, so rows of different runs are never
passed off as one run's."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

TABLE_HEAD = [
    "| scenario | Mesher | baseline | Mesher / baseline (speed) | goal | met |",
    "|---|---|---|---|---|---|",
]
RUNS = "## Runs"
TAGS = "Tag cases of `filter_events_by_tags`"
NOTES = "## What the numbers say"
_ROW = re.compile(r"^\| (\d+)[a-z]?\. ")
_RUN = re.compile(r"^- Scenarios ([\d, ]+): ")


def scenario_of(row: str) -> int:
    match = _ROW.match(row)
    if not match:
        raise ValueError(f"not a scenario row: {row[:60]!r}")
    return int(match.group(1))


def numbers(chosen: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sorted(chosen))


def write(
    *,
    order: Sequence[int],
    rows: list[str],
    run_line: str,
    measured: set[int],
    tags: list[str],
    notes: list[str],
    old: str | None,
) -> str:
    """The report: ``rows`` (this run's table rows, of the scenarios in
    ``measured``) merged into ``old`` (the previous report, or None for a
    report of this run alone), scenarios in ``order``."""
    kept_rows: list[str] = []
    kept_runs: list[str] = []
    kept_tags: list[str] = []
    if old is not None:
        kept_rows = [r for r in _old_rows(old) if scenario_of(r) not in measured]
        kept_runs = _old_runs(old, measured)
        kept_tags = [] if tags else _old_tags(old)
    position = {n: i for i, n in enumerate(order)}
    table = sorted(kept_rows + rows, key=lambda r: position.get(scenario_of(r), len(order)))
    # sorted() is stable: a scenario's rows keep their order.
    lines = [
        "# Benchmarks",
        "",
        "Mesher / baseline is a speed ratio (above 1: Mesher is faster), per round or run, and"
        " its median likewise. Goals are tested against the medians shown.",
        "Regenerate with `./dev bench` (full), `./dev bench --repeat 3`, or `./dev bench --smoke`;"
        " `--only 14,15` measures those scenarios again and keeps the other rows.",
        "",
        RUNS,
        "",
        *sorted([*kept_runs, f"- Scenarios {numbers(measured)}: {run_line}"], key=_first_number),
        "",
        *TABLE_HEAD,
        *table,
        "",
    ]
    tag_block = tags or kept_tags
    if tag_block:
        lines += [*tag_block, ""]
    return "\n".join(lines + notes)


def _first_number(run: str) -> int:
    match = _RUN.match(run)
    return int(match.group(1).split(",")[0]) if match else 0


def _old_rows(old: str) -> list[str]:
    return [line for line in old.splitlines() if _ROW.match(line)]


def _old_runs(old: str, measured: set[int]) -> list[str]:
    """The previous report's runs, less the scenarios measured again (a run
    left with none is dropped)."""
    kept = []
    for run in old.splitlines():
        match = _RUN.match(run)
        if match:
            left = {int(n) for n in match.group(1).split(",")} - measured
            if left:
                kept.append(f"- Scenarios {numbers(left)}: {run[match.end() :]}")
    return kept


def _old_tags(old: str) -> list[str]:
    lines = old.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(TAGS):
            end = i + 1
            while end < len(lines) and not lines[end].startswith("## "):
                end += 1
            return [line.rstrip() for line in lines[i:end]][: _last_nonblank(lines[i:end]) + 1]
    return []


def _last_nonblank(lines: Sequence[str]) -> int:
    return max(i for i, line in enumerate(lines) if line.strip())
