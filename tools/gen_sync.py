"""Generate the synchronous modules from their async sources.

Every module under ``mesher/aio/`` (``mesher/aio/<path>.py``, subpackages
included) is the source of ``mesher/<path>.py``, written from it by removing
``async``/``await`` and swapping the async names for the sync ones.
``python tools/gen_sync.py`` rewrites the files; ``--check`` exits 1 if any
is stale (tests/test_codegen.py runs it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIO = ROOT / "mesher" / "aio"
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


def sources() -> list[Path]:
    """The async modules that have a sync twin (all but mesher/aio/__init__.py)."""
    return sorted(p for p in AIO.rglob("*.py") if p != AIO / "__init__.py")


def generate(source_path: Path) -> str:
    name = source_path.relative_to(AIO).as_posix()
    source = source_path.read_text()
    for old, new in REPLACEMENTS:
        source = source.replace(old, new)
    header = f"# Generated from mesher/aio/{name} by tools/gen_sync.py: edit that file.\n"
    text = header + source
    for ruff in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        text = subprocess.run(
            [sys.executable, "-m", "ruff", *ruff, "--stdin-filename", f"mesher/{name}", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return text


def main(argv: list[str]) -> int:
    stale = []
    for source in sources():
        target = ROOT / "mesher" / source.relative_to(AIO)
        text = generate(source)
        if target.exists() and target.read_text() == text:
            continue
        if "--check" in argv:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text)
    if stale:
        print("stale generated files (run python tools/gen_sync.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
