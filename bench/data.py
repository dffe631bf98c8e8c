"""Realistic event payloads: about 2 KB each, with an exception, 10-30 stack
frames, breadcrumbs and tags, spread over a chosen number of fingerprints."""

from __future__ import annotations

import random
from typing import Any

MODULES = ["api", "billing", "auth", "search", "db", "queue", "render", "mailer"]
FUNCS = ["handle", "process", "load", "save", "dispatch", "render", "validate", "retry"]
ERRORS = ["TimeoutError", "KeyError", "ValueError", "ConnectionResetError", "PermissionError"]


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
        "tags": {
            "env": rng.choice(["prod", "staging"]),
            "region": rng.choice(["eu", "us", "ap"]),
            "release": f"1.{rng.randint(0, 40)}.0",
            "browser": rng.choice(["chrome", "firefox", "safari"]),
        },
        "extra": {"request_id": f"{rng.getrandbits(64):016x}", "retries": rng.randint(0, 3)},
        "user_context": {"id": f"user-{rng.randint(1, 50_000)}", "ip": "203.0.113.7"},
        "sdk_name": "mesher-python",
        "sdk_version": "1.4.2",
    }


def payloads(count: int, groups: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [payload(rng, rng.randrange(groups)) for _ in range(count)]
