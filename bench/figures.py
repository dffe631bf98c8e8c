"""Measured rows, their spread, and goals computed from their medians.

A row holds one value per round for each side (or, once several runs are
combined, one value per run: that run's median). Every figure shown is the
median of those values, with their [min-max]. The Mesher / baseline column is
a speed ratio (above 1: Mesher is faster), per round (or per run) and its
median in the same way. Goals are tested against the medians shown."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


class CheckFailed(AssertionError):
    """A scenario's result is not what it claims to measure (e.g. the two
    sides returned different rows, or none)."""


@dataclass(frozen=True)
class Unit:
    suffix: str
    higher_is_better: bool
    decimals: int = 0

    def format(self, value: float) -> str:
        return f"{value:,.{self.decimals}f}"


EVENTS_PER_S = Unit("events/s", True)
CALLS_PER_S = Unit("/s", True)
MS = Unit("ms", False, 2)
US = Unit("µs", False)
SECONDS = Unit("s", False, 2)
TIMES = Unit("x", False, 2)  # growth: latency at the large size over the small one


def _span(values: Sequence[float], unit: Unit) -> str:
    mid = statistics.median(values)
    text = f"{unit.format(mid)} {unit.suffix}".replace(" /s", "/s").strip()
    if len(values) > 1:
        text += f" [{unit.format(min(values))}–{unit.format(max(values))}]"
    return text


@dataclass
class Result:
    """One table row. ``key`` names the row across runs (``name`` may say
    what this run's data returned)."""

    key: str
    unit: Unit
    mesher: list[float]
    baseline: list[float] = field(default_factory=list)
    goal: Goal | None = None
    name: str = ""
    ratios: list[float] = field(default_factory=list)
    #: whether the two sides are compared (not for growth rows)
    paired: bool = True

    def __post_init__(self) -> None:
        self.name = self.name or self.key
        if self.paired and self.baseline and not self.ratios:  # rounds alternate sides
            self.ratios = [
                self.speed(m, b) for m, b in zip(self.mesher, self.baseline, strict=True)
            ]

    def speed(self, mesher: float, base: float) -> float:
        return mesher / base if self.unit.higher_is_better else base / mesher

    @property
    def median(self) -> float:
        return statistics.median(self.mesher)

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    def cells(self, rows: Mapping[str, Result]) -> list[str]:
        met = ""
        if self.goal is not None:
            ok, detail = self.goal.test(self, rows)
            met = f"{detail}: " if detail else ""
            met += "yes" if ok else "**no**"
        return [
            self.name,
            _span(self.mesher, self.unit),
            _span(self.baseline, self.unit) if self.baseline else "",
            _span(self.ratios, Unit("", True, 2)) if self.ratios else "",
            self.goal.text if self.goal else "",
            met,
        ]


def combine(runs: Sequence[Result]) -> Result:
    """One row from the same row of several runs: each run's medians."""
    first = runs[0]
    return Result(
        key=first.key,
        unit=first.unit,
        mesher=[r.median for r in runs],
        baseline=[statistics.median(r.baseline) for r in runs] if first.baseline else [],
        goal=first.goal,
        name=first.name,
        ratios=[r.ratio for r in runs if r.ratio is not None],
        paired=first.paired,
    )


@dataclass(frozen=True)
class Goal:
    """What a row should reach, tested against its medians (and, for goals
    relative to another row, that row's)."""

    text: str
    test: Callable[[Result, Mapping[str, Result]], tuple[bool, str]]


def at_least(value: float, unit: Unit, ratio: float | None = None) -> Goal:
    def test(r: Result, _: Mapping[str, Result]) -> tuple[bool, str]:
        ok = r.median >= value and (ratio is None or (r.ratio or 0) >= ratio)
        return ok, ""

    text = f"≥ {unit.format(value)} {unit.suffix}"
    return Goal(text + (f" and ≥ {ratio:.2f}" if ratio is not None else ""), test)


def ratio_at_least(ratio: float) -> Goal:
    return Goal(f"≥ {ratio:.2f}", lambda r, _: ((r.ratio or 0) >= ratio, ""))


def below(limit: float, unit: Unit, ratio: float | None = None) -> Goal:
    def test(r: Result, _: Mapping[str, Result]) -> tuple[bool, str]:
        return r.median < limit and (ratio is None or (r.ratio or 0) >= ratio), ""

    text = f"< {limit:g} {unit.suffix}"
    return Goal(text + (f" and ≥ {ratio:.2f}" if ratio is not None else ""), test)


def at_most_times(limit: float) -> Goal:
    return Goal(f"≤ {limit:g} x", lambda r, _: (r.median <= limit, ""))


def relative_to(key: str, share: float, label: str) -> Goal:
    """Mesher's median at least ``share`` times another row's Mesher median."""

    def test(r: Result, rows: Mapping[str, Result]) -> tuple[bool, str]:
        if key not in rows:
            return False, f"({label} not run)"
        times = r.median / rows[key].median
        return times >= share, f"{times:.2f} x {label}"

    return Goal(f"≥ {share:g} x {label}", test)


def table(results: Sequence[Result]) -> list[str]:
    rows = {r.key: r for r in results}
    lines = [
        "| scenario | Mesher | baseline | Mesher / baseline (speed) | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r.cells(rows)) + " |" for r in results]
    return lines
