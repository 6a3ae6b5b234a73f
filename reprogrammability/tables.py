"""A tiny aligned-text table formatter for the CLI (no dependencies)."""

from __future__ import annotations

import textwrap
import unicodedata
from typing import Any, Optional, Sequence

__all__ = ["format_table", "display_width", "wrap"]


def display_width(text: str) -> int:
    """Terminal columns taken by ``text`` (wide East-Asian characters count two, combining marks zero)."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _truncate(text: str, limit: Optional[int]) -> str:
    if limit is None or display_width(text) <= limit:
        return text
    out = ""
    for char in text:
        if display_width(out + char) > limit - 1:
            break
        out += char
    return out + "…"


def format_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    max_width: Optional[dict[int, int]] = None,
    indent: str = "",
) -> str:
    """Rows as left-aligned columns under a header and a rule; cells in ``max_width[column]`` are truncated with …."""
    max_width = max_width or {}
    cells = [[_truncate("" if c is None else str(c), max_width.get(i)) for i, c in enumerate(row)] for row in rows]
    head = [str(h) for h in headers]
    widths = [display_width(h) for h in head]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))

    def line(values: Sequence[str]) -> str:
        padded = [v + " " * (widths[i] - display_width(v)) for i, v in enumerate(values)]
        return (indent + "  ".join(padded)).rstrip()

    out = [line(head), line(["─" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def wrap(text: str, width: int = 88, indent: str = "  ") -> str:
    """``text`` wrapped to ``width`` columns, every line indented."""
    lines = textwrap.wrap(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent)
    return "\n".join(lines)
