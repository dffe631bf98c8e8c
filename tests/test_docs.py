"""The Markdown documents: the README stays a reference within its budget, and
every relative link in them leads somewhere (a file, and a heading when the
link names one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "CHANGELOG.md", "BENCHMARKS.md", "RELIABILITY.md", "bench/NOTES.md")
#: The README is a reference, not a history: about 400 lines.
README_BUDGET = 420

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub makes of a document's headings: lower case, punctuation
    dropped, spaces to hyphens, a repeated one numbered (-1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(text: str, source: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of ``text`` (the document at ``source``) that leads
    nowhere: a missing file, a path outside ``root``, or a ``#heading`` that the
    Markdown file it names does not have."""
    problems = []
    for target in _LINK.findall(_prose(text)):
        if _EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        if not path:  # a heading of this document
            if anchor not in anchors(text):
                problems.append(f"{target}: no such heading in {source.name}")
            continue
        file = (source.parent / path).resolve()
        if not file.is_relative_to(root.resolve()):
            problems.append(f"{target}: outside the repository")
        elif not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            problems.append(f"{target}: no such heading in {file.relative_to(root.resolve())}")
    return problems


def test_the_readme_stays_within_its_budget() -> None:
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= README_BUDGET, f"README.md has {lines} lines, its budget is {README_BUDGET}"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_relative_link_resolves(name: str) -> None:
    path = ROOT / name
    assert broken_links(path.read_text(), path) == []


def test_the_link_check_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "GUIDE.md").write_text("# Guide\n## Set-up, step 1\n## Set-up, step 1\n")
    (tmp_path / "schema.sql").write_text("")
    source = tmp_path / "README.md"
    text = "\n".join(
        [
            "# Top",
            "[ok](schema.sql) [ok](docs/GUIDE.md#set-up-step-1)",
            "[ok](docs/GUIDE.md#set-up-step-1-1) [ok](./docs/../schema.sql)",
            "[ok](#top) [web](https://example.com/missing.md) [mail](mailto:a@example.com)",
            "[gone](missing.sql) [bad heading](docs/GUIDE.md#install) [here](#nowhere)",
            "[out](../outside.md) ![image](img/logo.png)",
            "`[not a link](missing-in-code.md)`",
            "```",
            "[not a link either](missing-in-block.md)",
            "```",
        ]
    )
    assert broken_links(text, source, tmp_path) == [
        "missing.sql: no such file",
        "docs/GUIDE.md#install: no such heading in docs/GUIDE.md",
        "#nowhere: no such heading in README.md",
        "../outside.md: outside the repository",
        "img/logo.png: no such file",
    ]


def test_anchors_follow_githubs_rules() -> None:
    text = "# Mesher data layer\n## 13. Citus\n### `maintain()` and [links](x.md)\n## Citus\n"
    text += "## Citus\n"
    assert anchors(text) == {
        "mesher-data-layer", "13-citus", "maintain-and-links", "citus", "citus-1",
    }  # fmt: skip


#: Documents the reader cannot open: the repository is the whole reference.
OUTSIDE_DOCUMENTS = re.compile(
    r"\b(?:issue|part|item) \d+\b|\b(?:original|the) (?:design|specification)\b", re.IGNORECASE
)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_document_cites_one_outside_the_repository(name: str) -> None:
    assert OUTSIDE_DOCUMENTS.findall((ROOT / name).read_text()) == []


def test_the_citation_check_finds_them() -> None:
    text = "As issue 11, part 4 asks, and the original design says (see the specification)."
    assert OUTSIDE_DOCUMENTS.findall(text) == [
        "issue 11", "part 4", "original design", "the specification",
    ]  # fmt: skip
    assert OUTSIDE_DOCUMENTS.findall("an issue's 4 statuses, 13. Citus, issues 2 and 3") == []


def test_the_report_links_to_the_notes_instead_of_copying_them() -> None:
    from bench.__main__ import notes_link

    report = (ROOT / "BENCHMARKS.md").read_text()
    section = "\n".join(notes_link(ROOT / "BENCHMARKS.md"))
    assert "[bench/NOTES.md](bench/NOTES.md)" in section
    assert report.endswith(section)  # what ./dev bench writes, as committed
    notes = (ROOT / "bench" / "NOTES.md").read_text()
    copied = set(re.findall(r"^#+ (.*)$", notes, re.MULTILINE)[1:])
    copied &= set(re.findall(r"^#+ (.*)$", report, re.MULTILINE))
    assert not copied, "BENCHMARKS.md copies the notes' sections"
