"""Generate the synchronous modules from their async sources.

Every module under ``mesher/aio/`` (``mesher/aio/<path>.py``, subpackages
included) is the source of ``mesher/<path>.py``. ``python tools/gen_sync.py``
rewrites the files; ``--check`` exits 1 if any is stale (tests/test_codegen.py
runs it).

The rewrite works on the syntax tree, as psycopg's ``tools/async_to_sync.py``
does: ``AsyncToSync``, an ``ast.NodeTransformer``, turns ``async def``,
``async for``/``async with`` (comprehensions included) into their sync forms,
drops ``await``, swaps the async names for the sync ones (``ASYNC_NAMES``:
``AsyncConnection`` for ``Connection``, ``async_queries()`` for
``sync_queries()``...), ``asyncio.sleep`` for ``time.sleep``, ``Awaitable[T]``
for ``T``, and makes the imports one level shallower (``from ..x`` becomes
``from .x``, ``mesher.aio.x`` becomes ``mesher.x``). Strings, docstrings and
comments are never rewritten: a docstring reads the same in both modules.

The twins keep their comments: rather than print the new tree with
``ast.unparse`` (which drops comments, ``# type: ignore`` and ``# noqa``
included), each change the transformer makes is also made on the source text,
at the position the tree gives for the node it changed, and only there. The
text is then parsed again and must give exactly the transformer's tree, or the
script stops. Finally ruff sorts the imports and formats the file, so the
output is stable and lint-clean. An async construct the transformer does not
know (``asyncio.gather``, ``Awaitable`` outside ``Awaitable[T]``, any name left
that says async, such as ``asynccontextmanager`` or ``__aenter__``) is an
error, not a silent copy.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AIO = ROOT / "mesher" / "aio"
HEADER = "# Generated from mesher/aio/{name} by tools/gen_sync.py: edit that file.\n"

#: Names (variables, attributes, imported names) and their sync twins.
ASYNC_NAMES = {
    "AsyncConnection": "Connection",
    "AsyncCursor": "Cursor",
    "AsyncGenerator": "Generator",
    "AsyncIterator": "Iterator",
    "async_queries": "sync_queries",
}
#: Modules imported as ``import x`` and their sync twins, with the attributes
#: the twin has.
ASYNC_MODULES = {"asyncio": ("time", {"sleep"})}
#: Imported names that the sync module does without (``Awaitable[T]`` is ``T``).
DROPPED_IMPORTS = {"Awaitable"}


class SyncError(Exception):
    """An async construct with no known sync twin."""


#: A change of the text: on line ``line`` (1-based), characters ``start`` to
#: ``end`` (0-based, in characters) become ``new``.
Edit = tuple[int, int, int, str]


class AsyncToSync(ast.NodeTransformer):
    """The async module's tree to the sync module's; ``edits`` gets the same
    changes, for the source text."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.edits: list[Edit] = []

    # --- positions ------------------------------------------------------------------

    def _col(self, line: int, byte_col: int) -> int:
        """A node's column (ast counts UTF-8 bytes) in characters."""
        return len(self.lines[line - 1].encode()[:byte_col].decode())

    def _start(self, node: Any) -> tuple[int, int]:
        return node.lineno, self._col(node.lineno, node.col_offset)

    def _end(self, node: Any) -> tuple[int, int]:
        return node.end_lineno, self._col(node.end_lineno, node.end_col_offset)

    def _replace(self, start: tuple[int, int], end: tuple[int, int], new: str) -> None:
        if start[0] != end[0]:
            raise SyncError(f"line {start[0]}: cannot rewrite across lines")
        self.edits.append((start[0], start[1], end[1], new))

    def _drop_keyword(self, line: int, col: int, keyword: str) -> None:
        """Remove ``keyword`` and the blanks after it, at line:col."""
        found = re.compile(rf"{keyword}\b[ \t]*").match(self.lines[line - 1], col)
        if found is None:
            raise SyncError(f"line {line}: expected {keyword!r} at column {col}")
        self.edits.append((line, col, found.end(), ""))

    # --- async syntax ---------------------------------------------------------------

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        self._drop_keyword(*self._start(node), "async")
        return ast.copy_location(ast.FunctionDef(**_fields(node)), node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        self.generic_visit(node)
        self._drop_keyword(*self._start(node), "async")
        return ast.copy_location(ast.For(**_fields(node)), node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        self.generic_visit(node)
        self._drop_keyword(*self._start(node), "async")
        return ast.copy_location(ast.With(**_fields(node)), node)

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        if node.is_async:
            # the comprehension node has no position: "async for" is just
            # before its target, on the target's line (as ruff formats it)
            line, col = self._start(node.target)
            found = re.search(r"\basync\s+for\s*\(*\s*$", self.lines[line - 1][:col])
            if found is None:
                raise SyncError(f"line {line}: expected 'async for' before column {col}")
            self._drop_keyword(line, found.start(), "async")
            node.is_async = 0
        return node

    def visit_Await(self, node: ast.Await) -> ast.AST:
        self.generic_visit(node)
        self._drop_keyword(*self._start(node), "await")
        return node.value

    # --- names ----------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ASYNC_NAMES:
            node.id = ASYNC_NAMES[node.id]
            self._replace(self._start(node), self._end(node), node.id)
        elif node.id in DROPPED_IMPORTS or node.id in ASYNC_MODULES:
            raise SyncError(f"line {node.lineno}: no sync twin for {node.id} here")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in ASYNC_MODULES:
            twin, attributes = ASYNC_MODULES[node.value.id]
            if node.attr not in attributes:
                raise SyncError(f"line {node.lineno}: no sync twin for {node.value.id}.{node.attr}")
            node.value.id = twin
            self._replace(self._start(node.value), self._end(node.value), twin)
            return node
        self.generic_visit(node)
        if node.attr in ASYNC_NAMES:
            line, end = self._end(node)
            self._replace((line, end - len(node.attr)), (line, end), ASYNC_NAMES[node.attr])
            node.attr = ASYNC_NAMES[node.attr]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in DROPPED_IMPORTS:
            # Awaitable[T] -> T: the text around T goes
            self._replace_span(self._start(node), self._start(node.slice))
            self._replace_span(self._end(node.slice), self._end(node))
            inner: ast.AST = self.visit(node.slice)
            return inner
        self.generic_visit(node)
        return node

    def _replace_span(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        self._replace(start, end, "")

    # --- imports --------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            if alias.name in ASYNC_MODULES:
                alias.name = ASYNC_MODULES[alias.name][0]
                self._replace(self._start(alias), self._end(alias), alias.name)
            elif alias.name.startswith("mesher.aio."):
                raise SyncError(f"line {node.lineno}: import mesher.aio.x as a sync module")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        line, col = self._start(node)
        text = self.lines[line - 1]
        if node.level >= 2:  # one folder less deep: from ..x -> from .x
            found = re.compile(r"from\s+\.").match(text, col)
            if found is None:
                raise SyncError(f"line {line}: expected 'from .' at column {col}")
            self.edits.append((line, found.end() - 1, found.end(), ""))
            node.level -= 1
        elif node.module is not None and re.match(r"mesher\.aio(\.|$)", node.module):
            found = re.compile(r"from\s+mesher\.aio\b").match(text, col)
            if found is None:
                raise SyncError(f"line {line}: expected 'from mesher.aio' at column {col}")
            self.edits.append((line, found.end() - len(".aio"), found.end(), ""))
            node.module = "mesher" + node.module.removeprefix("mesher.aio")
        kept = []
        for i, alias in enumerate(node.names):
            if alias.name in DROPPED_IMPORTS:
                self._drop_alias(node.names, i)
                continue
            if alias.name in ASYNC_NAMES:
                old = alias.name
                alias.name = ASYNC_NAMES[old]
                start = self._start(alias)
                self._replace(start, (start[0], start[1] + len(old)), alias.name)
            kept.append(alias)
        if not kept:
            raise SyncError(f"line {line}: nothing left to import")
        node.names = kept
        return node

    def _drop_alias(self, names: list[ast.alias], i: int) -> None:
        """Remove names[i] and its comma from the import's text."""
        if i + 1 < len(names):  # "Awaitable, " up to the next name
            self._replace_span(self._start(names[i]), self._start(names[i + 1]))
        else:  # ", Awaitable" after the previous name
            self._replace_span(self._end(names[i - 1]), self._end(names[i]))


def _fields(node: ast.AST) -> dict[str, Any]:
    return {name: getattr(node, name) for name in node._fields}


#: Names left in the sync tree that are async all the same.
_STILL_ASYNC = re.compile(r"(?i)async|^(__a(enter|exit|iter|next)__|aclose|aiter|anext)$")


def _check_no_async_left(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        for name in (getattr(node, field, None) for field in ("id", "attr", "name")):
            if isinstance(name, str) and _STILL_ASYNC.search(name):
                line = getattr(node, "lineno", "?")
                raise SyncError(f"line {line}: no sync twin for {name}")


def _apply(source: str, edits: list[Edit]) -> str:
    lines = source.splitlines(keepends=True)
    for line, start, end, new in sorted(edits, reverse=True):
        text = lines[line - 1]
        lines[line - 1] = text[:start] + new + text[end:]
    return "".join(lines)


def to_sync(source: str) -> str:
    """The sync twin of an async module's source, before formatting."""
    tree = ast.parse(source)
    transformer = AsyncToSync(source)
    expected = transformer.visit(tree)
    _check_no_async_left(expected)
    text = _apply(source, transformer.edits)
    if ast.dump(ast.parse(text)) != ast.dump(expected):
        raise SyncError("the rewritten text does not give the transformed tree")
    return text


def generate(source_path: Path) -> str:
    name = source_path.relative_to(AIO).as_posix()
    text = HEADER.format(name=name) + to_sync(source_path.read_text())
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


#: Modules of asyncio's own, with no sync twin (mesher/aio/writer.py: group commit).
ASYNC_ONLY = {AIO / "__init__.py", AIO / "writer.py"}


def sources() -> list[Path]:
    """The async modules that have a sync twin (all but ``ASYNC_ONLY``)."""
    return sorted(p for p in AIO.rglob("*.py") if p not in ASYNC_ONLY)


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
