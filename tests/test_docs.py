"""The documentation stays true to the code: the tutorial's excerpts match the
files they quote, and relative links in ``docs/*.md`` and ``README.md`` lead to
files (and headings) that exist.

Marker convention (``docs/tutorial.md``): a line ``<!-- from PATH -->`` right
before a fenced code block says the block is copied from ``PATH`` (relative to
the repository root). Its lines must appear in that file verbatim, as a run of
whole lines. A line that is only an elision mark (``# ...``, ``{# ... #}``,
``-- ...``, ``// ...``) stands for left-out lines: the parts between marks must
each appear verbatim, in order. Every ``python`` block of the tutorial must
carry a marker, so no invented code can slip in.

Imports: the standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "tutorial.md"

_MARKER = re.compile(r"^\s*<!--\s*from\s+(\S+)\s*-->\s*$")
_FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_ELISIONS = frozenset({"# ...", "{# ... #}", "-- ...", "// ...", "/* ... */"})
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)=["']([^"']+)["']""")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass
class Block:
    """One fenced code block of a Markdown file."""

    line: int  # 1-based line of the opening fence
    lang: str
    lines: list[str]  # the body, with the fence's indentation removed
    source: str | None  # the marker's path, if the block has one


def parse_blocks(text: str) -> tuple[list[Block], list[str], list[int]]:
    """Return the fenced blocks, the lines outside them, and dangling markers.

    The lines outside blocks keep their positions (blocks become empty lines),
    so that line numbers stay meaningful. A dangling marker is a ``from``
    marker whose next line does not open a fence.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    outside: list[str] = []
    dangling: list[int] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if m is None:
            marker = _MARKER.match(lines[i])
            if marker and (i + 1 >= len(lines) or not _FENCE_OPEN.match(lines[i + 1])):
                dangling.append(i + 1)
            outside.append(lines[i])
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        marker = _MARKER.match(lines[i - 1]) if i else None
        body: list[str] = []
        j = i + 1
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while j < len(lines) and not closing.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line)
            j += 1
        blocks.append(Block(i + 1, lang, body, marker.group(1) if marker else None))
        outside.extend([""] * (min(j, len(lines) - 1) + 1 - i))
        i = j + 1
    return blocks, outside, dangling


def split_excerpt(lines: list[str]) -> list[list[str]]:
    """Split an excerpt at its elision marks into the parts to find."""
    parts: list[list[str]] = [[]]
    for line in lines:
        if line.strip() in _ELISIONS:
            parts.append([])
        else:
            parts[-1].append(line)
    return [part for part in parts if any(line.strip() for line in part)]


def find_in_order(parts: list[list[str]], file_lines: list[str]) -> str | None:
    """Return None if every part is a run of whole lines, in order; else why not."""
    start = 0
    for part in parts:
        n = len(part)
        for k in range(start, len(file_lines) - n + 1):
            if file_lines[k : k + n] == part:
                start = k + n
                break
        else:
            anywhere = any(
                file_lines[k : k + n] == part for k in range(len(file_lines) - n + 1)
            )
            where = "appears only before the previous part" if anywhere else "is not"
            return f"this part {where} in the file:\n" + "\n".join(part)
    return None


def slugify(heading: str) -> str:
    """Return the anchor GitHub gives a heading: lower case, punctuation dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Return the anchors of a Markdown file's headings (numbered when repeated)."""
    _, outside, _ = parse_blocks(text)
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in outside:
        m = _HEADING.match(line)
        if m is None:
            continue
        slug = slugify(m.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(text: str) -> list[tuple[int, str]]:
    """Return ``(line, target)`` for each link outside code that has no scheme."""
    _, outside, _ = parse_blocks(text)
    found = []
    for number, line in enumerate(outside, 1):
        prose = _INLINE_CODE.sub("", line)
        targets = _LINK.findall(prose) + _HTML_LINK.findall(prose)
        ref = _REF_LINK.match(prose)
        if ref:
            targets.append(ref.group(1))
        for target in targets:
            if not _SCHEME.match(target) and not target.startswith("//"):
                found.append((number, target))
    return found


def link_problem(md_file: Path, target: str) -> str | None:
    """Return None if ``target``, linked from ``md_file``, exists; else why not."""
    path_part, _, fragment = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    dest = (md_file.parent / path_part).resolve() if path_part else md_file
    if not dest.exists():
        return f"{target}: no file {dest}"
    if (
        fragment
        and dest.suffix == ".md"
        and dest.is_file()
        and unquote(fragment) not in anchors(dest.read_text(encoding="utf-8"))
    ):
        return f"{target}: no heading with the anchor #{fragment} in {dest.name}"
    return None


def _tutorial_blocks() -> list[Block]:
    if not TUTORIAL.exists():
        return []
    return parse_blocks(TUTORIAL.read_text(encoding="utf-8"))[0]


_MARKED = [b for b in _tutorial_blocks() if b.source is not None]
_LINKED_FILES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


# -- the tutorial's excerpts ----------------------------------------------------------
def test_tutorial_quotes_the_example():
    assert TUTORIAL.exists()
    blocks, _, dangling = parse_blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert dangling == [], f"markers not followed by a fence, at lines {dangling}"
    unmarked = [b.line for b in blocks if b.lang == "python" and b.source is None]
    assert unmarked == [], f"python blocks without a source marker, at lines {unmarked}"
    sources = {b.source for b in _MARKED}
    # Each step quotes its module: losing the markers must not pass silently.
    for module in ("__init__", "db", "auth", "notes", "model", "api", "live"):
        assert f"examples/notes/notes/{module}.py" in sources, module
    assert "tests/test_example_notes.py" in sources


@pytest.mark.parametrize(
    "block", _MARKED, ids=[f"line{b.line}-{b.source}" for b in _MARKED]
)
def test_excerpt_matches_its_file(block):
    path = ROOT / block.source
    assert path.is_file(), f"line {block.line}: no file {block.source}"
    parts = split_excerpt(block.lines)
    assert parts, f"line {block.line}: empty excerpt"
    problem = find_in_order(parts, path.read_text(encoding="utf-8").splitlines())
    assert problem is None, f"docs/tutorial.md line {block.line}: {problem}"


# -- links ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "md_file",
    _LINKED_FILES,
    ids=[p.relative_to(ROOT).as_posix() for p in _LINKED_FILES],
)
def test_relative_links_point_to_existing_files(md_file):
    text = md_file.read_text(encoding="utf-8")
    problems = [
        f"line {line}: {problem}"
        for line, target in relative_links(text)
        if (problem := link_problem(md_file, target)) is not None
    ]
    assert problems == []


# -- the checks themselves ------------------------------------------------------------
_SAMPLE = """\
Intro [guide](guide.md#a-b) and `[not](a-link.md)`.

<!-- from pkg/mod.py -->
```python
def f():
    # ...
    return 1
```

   <!-- from pkg/other.py -->
   ```python
   x = 1
   ```

```python
y = [1][0](2)
```
<!-- from dangling.py -->
Text.
"""


def test_parse_blocks_reads_markers_indentation_and_dangling_markers():
    blocks, outside, dangling = parse_blocks(_SAMPLE)
    assert [(b.line, b.source) for b in blocks] == [
        (4, "pkg/mod.py"),
        (11, "pkg/other.py"),
        (15, None),
    ]
    assert blocks[1].lines == ["x = 1"]
    assert dangling == [18]
    assert len(outside) == len(_SAMPLE.splitlines())
    assert "return 1" not in "\n".join(outside)


def test_excerpts_must_match_whole_lines_in_order():
    file_lines = ["def f():", "    a = 0", "    return 1", "", "def g():", "    pass"]
    parts = split_excerpt(["def f():", "    # ...", "    return 1"])
    assert parts == [["def f():"], ["    return 1"]]
    assert find_in_order(parts, file_lines) is None
    assert find_in_order([["def f():", "    return 1"]], file_lines) is not None
    assert find_in_order([["    return 2"]], file_lines) is not None
    assert find_in_order([["return 1"]], file_lines) is not None  # not a whole line
    problem = find_in_order([["def g():"], ["def f():"]], file_lines)
    assert problem is not None
    assert "only before" in problem


def test_links_outside_code_are_found_and_checked(tmp_path):
    assert relative_links(_SAMPLE) == [(1, "guide.md#a-b")]
    text = (
        "[site](https://example.com) [mail](mailto:a@b.c) ![i](img/x.png)\n"
        '[self](#top) <a href="other.md">o</a>\n[ref]: ref.md\n'
    )
    assert [t for _, t in relative_links(text)] == [
        "img/x.png",
        "#top",
        "other.md",
        "ref.md",
    ]
    (tmp_path / "guide.md").write_text("# Guide\n\n## A: b\n\n```\n# no\n```\n")
    page = tmp_path / "page.md"
    page.write_text("# Top\n")
    assert link_problem(page, "guide.md#a-b") is None
    assert link_problem(page, "guide.md#no") is not None
    assert link_problem(page, "#top") is None
    assert link_problem(page, "missing.md") is not None


def test_slugify_follows_github():
    assert slugify("Lifespan: startup and shutdown") == "lifespan-startup-and-shutdown"
    assert slugify("`erlen run`") == "erlen-run"
    assert slugify("`send_from_directory`") == "send_from_directory"
    assert slugify("Differences from Flask 3.1") == "differences-from-flask-31"
    assert anchors("# A\n## A\n") == {"a", "a-1"}
