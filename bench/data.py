"""Realistic event payloads: about 2 KB each, with an exception, 10-30 stack
frames, breadcrumbs and tags, spread over a chosen number of fingerprints;
and the tags of the read scenarios' data sets, shaped like a production
project's."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

MODULES = ["api", "billing", "auth", "search", "db", "queue", "render", "mailer"]
FUNCS = ["handle", "process", "load", "save", "dispatch", "render", "validate", "retry"]
ERRORS = ["TimeoutError", "KeyError", "ValueError", "ConnectionResetError", "PermissionError"]

# --- tags ------------------------------------------------------------------------
#
# Every event carries five tags:
#   env          'production' on 70 % of events (the common case), else staging
#                or development;
#   region       'ap-south-1' on 2 % (the medium case), else eu-west-1 or us-east-1;
#   transaction  '/api/refunds' on 0.1 % (the rare case), else one of ten routes;
#   release      one release every 12 hours: the newest is 3.14.0, and an old
#                one's events are all days old (the time-correlated case);
#   browser      chrome, firefox or safari.

ENVS = ("production", "staging", "development")  # 70 %, 25 %, 5 %
REGIONS = ("ap-south-1", "eu-west-1", "us-east-1")  # 2 %, 49 %, 49 %
RARE_ROUTE = "/api/refunds"  # 0.1 %
ROUTES = tuple(f"/api/{name}" for name in (*MODULES, "items", "users"))
BROWSERS = ("chrome", "firefox", "safari")
RELEASE_HOURS = 12
RELEASES = 14  # a week of them


def release(age_hours: float) -> str:
    """The release current ``age_hours`` ago."""
    return f"3.{RELEASES - int(age_hours // RELEASE_HOURS)}.0"


@dataclass(frozen=True)
class TagCase:
    """A filter_events_by_tags case: the tags searched and the share of all
    events they match (in a 7-day window), and the windows it is run with."""

    name: str
    tags: dict[str, str]
    share: float
    windows_hours: tuple[int, ...] = (24, 168)
    #: if set, every match is older than this (checked in SQL)
    older_than_hours: int | None = None


OLD_RELEASE_AGE = 108  # hours: its events are 4.5 to 5 days old
TAG_CASES = (
    TagCase("common tag (70 %)", {"env": ENVS[0]}, 0.70),
    TagCase("medium tag (2 %)", {"region": REGIONS[0]}, 0.02),
    TagCase("rare tag (0.1 %)", {"transaction": RARE_ROUTE}, 0.001),
    # 24 hours would match nothing: its events are all days old.
    TagCase(
        "old release (its events 4.5-5 days old)",
        {"release": release(OLD_RELEASE_AGE)},
        RELEASE_HOURS / (RELEASES * RELEASE_HOURS - 1),
        windows_hours=(168,),
        older_than_hours=OLD_RELEASE_AGE,
    ),
)


def _sql_text(values: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def tags_sql(index: str, count: str, age_hours: str) -> str:
    """The tags as a SQL expression of the event's index (1..count), for a data
    set made by generate_series; ``age_hours`` is its age at load time. Each
    tag hashes the index with its own multiplier (prime to 1000), so every
    1,000 consecutive events hold exactly the shares above, and the tags are
    independent of each other. The rare tag's first event is the 7th newest,
    so even a small data set has one in its last 24 hours."""

    def h(mult: int, offset: int = 0) -> str:
        return f"mod(({index} + {offset})::bigint * {mult}, 1000)"

    return f"""jsonb_build_object(
    'env', CASE WHEN {h(2654435761)} < 700 THEN '{ENVS[0]}'
                WHEN {h(2654435761)} < 950 THEN '{ENVS[1]}' ELSE '{ENVS[2]}' END,
    'region', CASE WHEN {h(40503)} < 20 THEN '{REGIONS[0]}'
                   ELSE ({_sql_text(REGIONS[1:])})[1 + mod({h(40503)}, 2)] END,
    'transaction', CASE WHEN {h(7919, 993)} = 0 THEN '{RARE_ROUTE}'
                        ELSE ({_sql_text(ROUTES)})[1 + mod({h(7919, 993)}, {len(ROUTES)})] END,
    'release', '3.' || ({RELEASES} - floor({age_hours} / {RELEASE_HOURS}))::int || '.0',
    'browser', ({_sql_text(BROWSERS)})[1 + mod({index}, 3)])"""


def tags(rng: random.Random) -> dict[str, str]:
    """Tags of an event received now, with the shares above."""
    env, region, route = rng.random(), rng.random(), rng.random()
    return {
        "env": ENVS[0] if env < 0.7 else ENVS[1] if env < 0.95 else ENVS[2],
        "region": REGIONS[0] if region < 0.02 else rng.choice(REGIONS[1:]),
        "transaction": RARE_ROUTE if route < 0.001 else rng.choice(ROUTES),
        "release": release(0),
        "browser": rng.choice(BROWSERS),
    }


# --- payloads --------------------------------------------------------------------


def payload(rng: random.Random, group: int) -> dict[str, Any]:
    """One event of error group ``group``: the group fixes the in-app frames
    and the exception type; line numbers, values and context vary."""
    shape = random.Random(group)  # same group, same stack
    depth = shape.randint(10, 30)
    frames: list[dict[str, Any]] = [
        {
            "filename": f"app/{shape.choice(MODULES)}/m{i}.py",
            "function_name": f"{shape.choice(FUNCS)}_{group}",
            "lineno": rng.randint(1, 900),
        }
        for i in range(depth)
    ]
    for i in range(0, depth, 3):  # every third frame is the application's
        frames[i]["in_app"] = True
    frames[-1]["context_line"] = "result = self.client.call(payload, timeout=timeout)"
    return {
        "message": f"request {rng.randint(1, 10**9)} failed after {rng.randint(1, 5000)}ms",
        "level": rng.choice(["error", "error", "error", "warning", "fatal"]),
        "exception": {
            "type_name": shape.choice(ERRORS),
            "value": f"timed out after {rng.randint(1, 5000)}ms (attempt {rng.randint(1, 5)})",
            "module": f"app.{shape.choice(MODULES)}",
        },
        "stacktrace": frames,
        "breadcrumbs": [
            {
                "timestamp": "2026-11-26T10:00:00Z",
                "category": rng.choice(["http", "db", "ui"]),
                "message": f"GET /api/v1/items/{rng.randint(1, 10**6)}",
                "level": "info",
                "data": {"status": rng.choice([200, 200, 404, 500]), "ms": rng.randint(1, 900)},
            }
            for _ in range(rng.randint(2, 3))
        ],
        "tags": tags(rng),
        "extra": {"request_id": f"{rng.getrandbits(64):016x}", "retries": rng.randint(0, 3)},
        "user_context": {"id": f"user-{rng.randint(1, 50_000)}", "ip": "203.0.113.7"},
        "sdk_name": "mesher-python",
        "sdk_version": "1.4.2",
    }


def payloads(count: int, groups: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [payload(rng, rng.randrange(groups)) for _ in range(count)]
