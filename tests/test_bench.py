"""The benchmark suite still runs and still checks itself (tiny sizes; the
numbers mean nothing here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import baseline, figures
from bench.scenarios import Read, _check, _ids, _row_ids
from mesher._sql import sync_queries

from .conftest import CITUS_UNAVAILABLE

ROOT = Path(__file__).resolve().parent.parent
TO = "\N{EN DASH}"  # of a [min-max] spread


def _bench(tmp_path: Path, *args: str) -> str:
    report = tmp_path / "BENCHMARKS.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(report), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return report.read_text()


def test_bench_smoke(tmp_path: Path) -> None:
    text = _bench(tmp_path)
    assert "Mode: smoke" in text
    assert "1 run, 2 rounds per side" in text
    for scenario in ("1. batch ingest", "1b. ", "2. hot issue", "3. single-event", "4. API-key",
                     "5. get_event", "5. list_issues, deep page", "5. filter_events_by_tags",
                     "7. event_volume, by hour", "7. event_volume, by day", "7. level_breakdown",
                     "7. top_issues", "7. count_issues_by_status", "6. fresh migrate",
                     "6. maintain", "8. Sentry envelopes, 1/envelope",
                     "8. Sentry envelopes, 100/envelope", "9. native batch",
                     "10. get_project_by_api_key", "10. get_event",
                     "10. single-event", "11. batch ingest with / without",
                     "11b. batch ingest with / without",
                     "11c. batch ingest with / without", "12. search_issues",
                     "15a. project B's ingest_event p99", "15c. delete_project(A)",
                     "15e. its longest transaction", "15f. A's rows left",
                     "16a. merge_issues", "16b. unmerge_issue", "16c. the same, its longest",
                     "16d. the issue list", "16f. ingest_events with users",
                     "17a. ingest_events", "17b. tag store bytes", "17. issue_tag_facets",
                     "17. search_issues request_id",
                     "12. search_issues `veryrare:yes"):  # fmt: skip
        assert f"| {scenario}" in text, scenario
    # Every read was checked (same rows on both sides) and returned something.
    reads = re.findall(r"^\| (?:5|7|12)\. .* @ [\d,]+ events → (.*?) \|", text, re.MULTILINE)
    assert len(reads) >= 2 * (17 + 12), reads
    assert all(re.match(r"[1-9][\d,]* (rows?|buckets|events|issues)", r) for r in reads), reads
    if CITUS_UNAVAILABLE is None:  # scenario 13 starts its own cluster; no goal, reported only
        citus = re.findall(r"^\| 13\. Citus / plain PG 15, .* \|  \|  \|$", text, re.MULTILINE)
        assert len(citus) == 6, citus
    for case in ("common tag", "medium tag", "rare tag", "old release"):
        assert re.search(rf"^\| {case}.* \| 24 h", text, re.MULTILINE), case
    # Spread and computed verdicts.
    assert re.search(rf"\| 1\. batch ingest .* events/s \[[\d,]+{TO}[\d,]+\] \|", text)
    assert re.search(r"latency at 5,000 / at 1,000 events \| [\d.]+ x \[", text)
    for sort in ("date", "new", "freq"):  # every sort, first and deep page, growth
        for page in ("first page", "deep page"):
            assert re.search(rf"^\| 12\. search_issues .*, sort {sort}, {page}.*: latency at", text,
                             re.MULTILINE), (sort, page)  # fmt: skip
    assert "## What the numbers say" in text


def test_bench_repeat(tmp_path: Path) -> None:
    text = _bench(tmp_path, "--repeat", "2", "--only", "4,6")
    assert "2 runs, each of 2 rounds per side" in text
    assert re.search(rf"\| 4\. API-key lookup .*/s \[[\d,]+{TO}[\d,]+\]", text)
    assert "| 1. batch ingest" not in text


def test_bench_only_keeps_the_other_rows(tmp_path: Path) -> None:
    """``--only`` into an existing report replaces those scenarios' rows, keeps
    the others, and says which run measured which."""
    first = _bench(tmp_path, "--only", "4,6")
    assert re.search(r"^- Scenarios 4, 6: \d{4}-\d\d-\d\d\. Machine: ", first, re.MULTILINE)
    old_row_4 = next(line for line in first.splitlines() if line.startswith("| 4. API-key lookup"))
    text = _bench(tmp_path, "--only", "6")
    assert old_row_4 in text  # kept as it was
    assert re.search(r"^- Scenarios 4: .*\n- Scenarios 6: ", text, re.MULTILINE)
    assert text.count("| 6. fresh migrate") == 1
    # Scenario 4's rows stay ahead of 6's, as in a full run.
    assert text.index("| 4. API-key lookup") < text.index("| 6. fresh migrate")


def _normal(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", "", sql)  # a comment kept in the statement (a noqa)
    sql = re.sub(r"\s+", " ", sql.strip().rstrip(";"))
    return re.sub(r"\s*([(),])\s*", r"\1", sql)


@pytest.mark.parametrize("name", sorted(baseline.SAME_AS))
def test_baseline_sql_is_the_layers(name: str) -> None:
    """Each baseline statement is the layer's (whitespace aside), so a scenario
    measures the layer and not two query shapes. If this fails, the query in
    sql/queries/ changed: write the same change into bench/baseline.py."""
    assert _normal(baseline.SAME_AS[name]) == _normal(getattr(sync_queries(), name).sql)


def _read(mesher: list[object], base: list[tuple[object, ...]]) -> Read:
    return Read("a read", lambda i: mesher, lambda i: base, _ids, _row_ids)


def test_check_refuses_different_or_empty_results() -> None:
    one, two = SimpleNamespace(id=1), SimpleNamespace(id=2)
    assert _check(_read([one, two], [(1,), (2,)]), 10, 0) == ("2 rows", 2)
    with pytest.raises(figures.CheckFailed, match="differ"):
        _check(_read([one, two], [(2,), (1,)]), 10, 0)  # same rows, another order
    with pytest.raises(figures.CheckFailed, match="nothing"):
        _check(_read([], []), 10, 0)


def test_goals_come_from_the_medians() -> None:
    rate = figures.Result("1", figures.EVENTS_PER_S, [4000, 6000, 5100], [5000, 5000, 6000],
                          figures.at_least(5000, figures.EVENTS_PER_S, ratio=0.8))  # fmt: skip
    assert rate.median == 5100
    assert rate.ratio == pytest.approx(0.85)  # per round: 0.8, 1.2, 0.85
    assert rate.cells({})[1:] == [
        f"5,100 events/s [4,000{TO}6,000]", f"5,000 events/s [5,000{TO}6,000]",
        f"0.85 [0.80{TO}1.20]", "≥ 5,000 events/s and ≥ 0.80", "yes",
    ]  # fmt: skip
    slow = figures.Result("2", figures.EVENTS_PER_S, [4000], [5000],
                          figures.relative_to("1", 0.9, "row 1"))  # fmt: skip
    assert slow.cells({"1": rate})[-1] == "0.78 x row 1: **no**"
    others = [figures.Result("1", figures.EVENTS_PER_S, [m], [6000]) for m in (3000, 6000)]
    runs = figures.combine([rate, *others])
    assert runs.mesher == [5100, 3000, 6000]
    assert runs.cells({})[1] == f"5,100 events/s [3,000{TO}6,000]"
    assert runs.cells({})[3] == f"0.85 [0.50{TO}1.00]"
    assert runs.cells({})[5] == "yes"
