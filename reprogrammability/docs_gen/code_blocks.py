"""Fenced Python blocks in Markdown pages (the docs tests run them)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


_TITLE = re.compile(r"""title=(?:"([^"]*)"|'([^']*)'|(\S+))""")


class CodeBlock(tuple):
    """A fenced Python block: ``(line, code, title)``; ``title`` from ```` ```python title="x.py" ````."""

    def __new__(cls, line: int, code: str, title: str = ""):
        return super().__new__(cls, (line, code, title))

    line = property(lambda self: self[0])
    code = property(lambda self: self[1])
    title = property(lambda self: self[2])


def extract_python_blocks(markdown: str) -> list[CodeBlock]:
    """Every fenced ```` ```python ```` block, in order, as ``(line, code, title)`` (indentation removed).

    A block with ``title="name.py"`` is a file the reader is asked to save (the docs tests write it
    into the working folder instead of running it).
    """
    blocks: list[CodeBlock] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match.group("fence"), match.group("indent")
        info = match.group("info").strip()
        language = re.split(r"[\s{}]+", info.strip("{ ").lstrip("."))[0] if info else ""
        title_match = _TITLE.search(info)
        title = next((g for g in title_match.groups() if g), "") if title_match else ""
        start = i + 1
        j = start
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence)) and lines[j].strip().strip(fence[0]) == ""
        ):
            j += 1
        if language in ("python", "py"):
            body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[start:j]]
            blocks.append(CodeBlock(start + 1, "\n".join(body) + "\n", title))
        i = j + 1
    return blocks
