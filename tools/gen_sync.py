"""Generate the synchronous modules from their async sources.

``mesher/aio/<name>.py`` is the source; ``mesher/<name>.py`` is written from
it by removing ``async``/``await`` and swapping the async names for the sync
ones. ``python tools/gen_sync.py`` rewrites the files; ``--check`` exits 1 if
any is stale (tests/test_codegen.py runs it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("queries", "partitions", "ingest")
REPLACEMENTS = (
    ("async def ", "def "),
    ("async for ", "for "),
    ("async with ", "with "),
    ("await ", ""),
    ("AsyncConnection", "Connection"),
    ("async_queries", "sync_queries"),
    ("from ..", "from ."),
    ("asyncio.sleep", "time.sleep"),
    ("import asyncio\n", "import time\n"),
    ("AsyncIterator", "Iterator"),
    ("Awaitable[T]", "T"),
    ("Awaitable, ", ""),
)


def generate(name: str) -> str:
    source = (ROOT / "mesher" / "aio" / f"{name}.py").read_text()
    for old, new in REPLACEMENTS:
        source = source.replace(old, new)
    header = f"# Generated from mesher/aio/{name}.py by tools/gen_sync.py: edit that file.\n"
    text = header + source
    for ruff in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        text = subprocess.run(
            [sys.executable, "-m", "ruff", *ruff, "--stdin-filename", f"mesher/{name}.py", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main(argv: list[str]) -> int:
    stale = []
    for name in MODULES:
        target = ROOT / "mesher" / f"{name}.py"
        text = generate(name)
        if target.exists() and target.read_text() == text:
            continue
        if "--check" in argv:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text)
    if stale:
        print("stale generated files (run python tools/gen_sync.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
