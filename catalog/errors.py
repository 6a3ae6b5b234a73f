"""The one error the catalog raises on purpose: :class:`CatalogError`, naming the file and the field."""

from __future__ import annotations

from typing import Any, Optional

from ..framework.errors import ReprogrammabilityError

__all__ = ["CatalogError", "short_repr"]


class CatalogError(ReprogrammabilityError, ValueError):
    """A catalog file or entry is malformed, or disagrees with another part of the catalog.

    ``file`` is the path (relative to the catalog root where possible), ``field`` the dotted
    field path inside the document (``paper.year``, ``[3].coordinates.location``), ``entry`` the
    entry id when one is known. The message always starts with ``file: field:``.
    """

    def __init__(self, file: str, field: str, message: str, *, entry: Optional[str] = None):
        self.file = str(file)
        self.field = field
        self.entry = entry
        self.detail = message
        where = f"{self.file}: {field}"
        if entry:
            where += f" (entry {entry!r})"
        super().__init__(f"{where}: {message}")


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` bounded in depth, items and ``limit`` characters: never echo untrusted data unboundedly."""
    import reprlib

    bounded = reprlib.Repr()
    bounded.maxlevel, bounded.maxlist, bounded.maxtuple, bounded.maxdict, bounded.maxset = 3, 6, 6, 6, 6
    bounded.maxstring, bounded.maxother = limit, limit
    try:
        text = bounded.repr(value)
    except Exception:  # a value whose repr fails is still reported
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
