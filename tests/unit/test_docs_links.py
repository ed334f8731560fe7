"""The README and docs/ keep their promises: every relative link leads to a file that exists,
every ``#anchor`` to a heading GitHub would render with that id, every docs page is
reachable from the README, and every ``make`` command they show is a target of the Makefile
(the quick start's included, so a newcomer's first commands are the ones CI runs).

Anchors follow GitHub's rules (github-slugger): the heading's rendered text, lower-cased,
everything but letters, digits, ``_``, ``-`` and spaces dropped, each space a ``-``; a
repeated heading gets ``-1``, ``-2``, ... Code (fenced blocks and inline spans) is not
searched for links: it is shown, not followed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and [text](target "title"); an image's ![alt](target) too
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
MAKE_COMMAND = re.compile(r"(?:^|[\s;&|(`$])make\s+((?:[A-Za-z_][\w.-]*=\S*\s+)*)([a-z][\w.-]*)")
MAKE_RULE = re.compile(r"^([A-Za-z.][\w .-]*?)\s*::?(?!=)", re.MULTILINE)


def documents(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code, inline code spans blanked out."""
    kept, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append((number, INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return kept


def code_texts(text: str) -> list[str]:
    """What the document shows as code: each fenced block's lines and each inline span."""
    shown, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if fenced:
            shown.append(line)
        else:
            shown.extend(m.group(2) for m in INLINE_CODE.finditer(line))
    return shown


def slug(heading: str) -> str:
    """GitHub's id for a heading's markdown text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text)  # so does inline HTML
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every id a rendered document has: its headings' slugs and explicit HTML anchors."""
    seen: Counter[str] = Counter()
    found: set[str] = set()
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if fenced:
            continue
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link in the prose."""
    found = []
    for number, line in prose_lines(text):
        for pattern in (INLINE_LINK, HTML_LINK):
            found.extend((number, target) for target in pattern.findall(line))
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            found.append((number, definition.group(1)))
    return found


def dead_links(files: list[Path], root: Path = ROOT) -> list[str]:
    """Every relative link among ``files`` whose file or anchor does not exist."""
    dead = []
    for source in files:
        for number, target in links(source.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                continue  # https:, mailto: ...: not ours to check offline
            path, _, anchor = target.partition("#")
            where = f"{source.relative_to(root)}:{number}: {target}"
            destination = (source.parent / path).resolve() if path else source
            if not destination.exists() or root.resolve() not in [destination, *destination.parents]:
                dead.append(f"{where} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(destination.read_text()):
                dead.append(f"{where} (no such anchor)")
    return dead


def unreachable(files: list[Path], start: Path) -> list[str]:
    """The Markdown files among ``files`` that no chain of links from ``start`` reaches."""
    reached, todo = {start.resolve()}, [start.resolve()]
    while todo:
        page = todo.pop()
        for _, target in links(page.read_text()):
            path = target.partition("#")[0]
            if not path or ":" in path:
                continue
            destination = (page.parent / path).resolve()
            if destination.suffix == ".md" and destination.is_file() and destination not in reached:
                reached.add(destination)
                todo.append(destination)
    return [str(f) for f in files if f.resolve() not in reached]


def make_targets(makefile: Path = ROOT / "Makefile") -> set[str]:
    targets: set[str] = set()
    for names in MAKE_RULE.findall(makefile.read_text()):
        targets.update(name for name in names.split() if not name.startswith("."))
    return targets


def make_commands(texts: list[str]) -> set[str]:
    """The targets of every ``make [VAR=value ...] target`` shown as code."""
    return {m.group(2) for text in texts for m in MAKE_COMMAND.finditer(text)}


def section(text: str, title: str) -> str:
    """The lines of the section whose heading starts with ``title``, to the next heading of its level."""
    out, level = [], 0
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading and level and len(heading.group(1)) <= level:
            break
        if heading and not level and heading.group(2).startswith(title):
            level = len(heading.group(1))
        if level:
            out.append(line)
    return "\n".join(out)


# ---- the checks on the real documents -------------------------------------------------


def test_every_relative_link_and_anchor_resolves() -> None:
    assert dead_links(documents()) == []


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    assert unreachable(documents(), ROOT / "README.md") == []


def test_every_make_command_shown_is_a_makefile_target() -> None:
    targets = make_targets()
    shown = {str(path.relative_to(ROOT)): make_commands(code_texts(path.read_text())) - targets for path in documents()}
    assert {path: unknown for path, unknown in shown.items() if unknown} == {}


def test_the_quick_start_runs_what_ci_runs() -> None:
    quick_start = section((ROOT / "README.md").read_text(), "Quick start")
    shown = make_commands(code_texts(quick_start))
    assert {"run", "test"} <= shown, shown
    assert shown <= make_targets(), shown - make_targets()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert ci == ["make test", "make lint"]
    assert "make lint" in (ROOT / "README.md").read_text()


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 260


def test_every_docs_page_starts_with_the_question_it_answers() -> None:
    for page in documents()[1:]:
        if page.name in {"api.md", "README.md"} or page.parent.name == "upstream":
            continue
        lines = [line for line in page.read_text().splitlines() if line.strip()]
        assert lines[0].startswith("# "), page
        assert lines[1].rstrip("*_ ").endswith("?"), f"{page}: {lines[1]}"


# ---- the checker itself finds what it must --------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Quota leases: reads that cost no writes", "quota-leases-reads-that-cost-no-writes"),
        ("Large records (S3) and records out of the base item", "large-records-s3-and-records-out-of-the-base-item"),
        ("The local stack (`make run`)", "the-local-stack-make-run"),
        ("Retrying: 429, 503 and Retry-After", "retrying-429-503-and-retry-after"),
        ("ETag and If-Match (beyond JSONBin)", "etag-and-if-match-beyond-jsonbin"),
        ("See [the API](api.md) -- twice", "see-the-api----twice"),
        ("snake_case & Ünïcode", "snake_case--ünïcode"),
    ],
)
def test_slugs_follow_github(heading: str, expected: str) -> None:
    assert slug(heading) == expected


def test_repeated_headings_get_numbered_anchors() -> None:
    assert anchors("# Notes\n## Notes\n```\n# not a heading\n```\n## Notes\n") == {"notes", "notes-1", "notes-2"}


def test_dead_files_and_anchors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# Top\n\n[ok](docs/a.md#part-one) [self](#top) [gone](docs/missing.md)\n"
        "[bad anchor](docs/a.md#part-two) [web](https://example.com/x#y) `[code](nowhere.md)`\n"
        "```\n[fenced](nowhere.md)\n```\n[ref]: docs/a.md#nope\n"
    )
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Part one\n\n[up](../README.md#top) [escape](../../x.md)\n")
    dead = dead_links(documents(tmp_path), tmp_path)
    assert dead == [
        "README.md:3: docs/missing.md (no such file)",
        "README.md:4: docs/a.md#part-two (no such anchor)",
        "README.md:8: docs/a.md#nope (no such anchor)",
        "docs/a.md:5: ../../x.md (no such file)",
    ]


def test_a_page_no_link_reaches_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("[a](docs/a.md)\n")
    (tmp_path / "docs" / "a.md").write_text("[b](b.md)\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n")
    (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n")
    assert unreachable(documents(tmp_path), tmp_path / "README.md") == [str(tmp_path / "docs" / "orphan.md")]


def test_make_commands_are_read_from_code_only(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(".PHONY: run test\nrun: $(STAMP)  ## x\n\ttrue\nbuild-A build-B: x\nPORT ?= 3000\nX := 1\n")
    assert make_targets(makefile) == {"run", "build-A", "build-B"}
    shown = code_texts("Run `make run` or `make e2e BINVAULT_URL=x BINVAULT_KEY=y`; make sure.\n```\nmake tset\n```\n")
    assert make_commands(shown) == {"run", "e2e", "tset"}
    assert make_commands(shown) - make_targets(makefile) == {"e2e", "tset"}
