"""Filter catalog entries by coordinates, paradigm, modality, access, year and free text.

Each axis filter takes one value or several (an entry matches if it has any of them); different
filters must all match. Bad values raise ``ValueError`` naming the argument and the allowed values.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from ..framework.axes import Access, Alignment, AxisValue, Configuration, Location, Modality, Operator, Paradigm
from .models import MethodEntry, PaperEntry

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = ["query", "parse_year_range", "FILTERS", "KINDS"]

FILTERS: dict[str, type[AxisValue]] = {
    "configuration": Configuration,
    "operator": Operator,
    "location": Location,
    "alignment": Alignment,
    "paradigm": Paradigm,
    "modality": Modality,
    "access": Access,
}
"""Filter name -> enum of its values (the names are the YAML field names)."""

KINDS = ("methods", "papers", "all")

Values = Union[str, AxisValue, Iterable[Union[str, AxisValue]], None]
YearRange = Union[int, str, tuple, list, range, None]


def _parse_values(name: str, value: Values) -> Optional[set]:
    if value is None:
        return None
    enum = FILTERS[name]
    items: list = []
    for part in [value] if isinstance(value, (str, AxisValue)) else list(value):
        if isinstance(part, str) and not isinstance(part, AxisValue):
            items.extend(p for p in part.split(",") if p.strip())
        else:
            items.append(part)
    if not items:
        return None
    return {enum.parse(item, field=name) for item in items}


def parse_year_range(year: YearRange) -> Optional[tuple[Optional[int], Optional[int]]]:
    """``2022``, ``"2020-2023"``, ``"2020-"``, ``"-2021"``, ``(2020, None)``, ``range(2020, 2024)`` -> ``(lo, hi)``."""
    if year is None:
        return None
    if isinstance(year, bool):
        raise ValueError(f"year: expected a year or a range, got {year!r}")
    if isinstance(year, int):
        return (year, year)
    if isinstance(year, range):
        return (year.start, year.stop - 1)
    if isinstance(year, (tuple, list)) and len(year) == 2:
        lo, hi = year
        for bound in (lo, hi):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise ValueError(f"year: bounds must be integers or None, got {year!r}")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"year: the range {lo}-{hi} is empty")
        return (lo, hi)
    if isinstance(year, str):
        match = re.fullmatch(r"\s*(\d{4})?\s*(-|–|\.\.)?\s*(\d{4})?\s*", year)
        if match and (match.group(1) or match.group(3)):
            lo = int(match.group(1)) if match.group(1) else None
            hi = int(match.group(3)) if match.group(3) else None
            if not match.group(2):
                hi = lo if lo is not None else hi
                lo = lo if lo is not None else hi
            return parse_year_range((lo, hi))
    raise ValueError(f"year: expected 2022, '2020-2023', '2020-', '-2021' or (lo, hi), got {year!r}")


def _haystack(entry: Union[MethodEntry, PaperEntry]) -> str:
    if isinstance(entry, MethodEntry):
        parts = [
            entry.id, entry.name, entry.acronym or "", *entry.aliases, entry.paper.title,
            *entry.paper.authors, entry.paper.venue, entry.summary, *entry.tags,
        ]
    else:
        parts = [
            entry.id, entry.title, *entry.aliases, *entry.authors, entry.venue, entry.summary, *entry.tags,
            *entry.methods,
        ]
    return " \n ".join(parts).casefold()


def _matches(entry: Union[MethodEntry, PaperEntry], wanted: dict[str, set], years, words: list[str]) -> bool:
    for name, values in wanted.items():
        if name in ("configuration", "operator", "location", "alignment"):
            have = set(getattr(entry.coordinates, name))
        elif name == "paradigm":
            have = set(entry.paradigms)
        elif name == "modality":
            have = {entry.modality} | ({entry.task_modality} if entry.task_modality else set())
        else:  # access
            have = {entry.access if isinstance(entry, MethodEntry) else entry.resolved_access}
        if not have & values:
            return False
    if years is not None:
        lo, hi = years
        if (lo is not None and entry.year < lo) or (hi is not None and entry.year > hi):
            return False
    if words:
        haystack = _haystack(entry)
        if not all(word in haystack for word in words):
            return False
    return True


def query(
    catalog: "CatalogData",
    *,
    configuration: Values = None,
    operator: Values = None,
    location: Values = None,
    alignment: Values = None,
    paradigm: Values = None,
    modality: Values = None,
    access: Values = None,
    year: YearRange = None,
    text: Optional[str] = None,
    kind: str = "methods",
) -> list[Union[MethodEntry, PaperEntry]]:
    """Entries of ``kind`` (``methods``, ``papers`` or ``all``) that match every given filter.

    ``modality`` matches the model's modality or the task's; ``text`` matches every word,
    case-insensitively, in ids, names, aliases, titles, authors, venues, summaries and tags.
    Methods come sorted by id, papers by year then id.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {list(KINDS)}")
    raw = dict(
        configuration=configuration, operator=operator, location=location, alignment=alignment,
        paradigm=paradigm, modality=modality, access=access,
    )
    wanted = {name: parsed for name, value in raw.items() if (parsed := _parse_values(name, value)) is not None}
    years = parse_year_range(year)
    if text is not None and not isinstance(text, str):
        raise ValueError(f"text: expected a string, got {type(text).__name__}")
    words = (text or "").casefold().split()
    pool: list = []
    if kind in ("methods", "all"):
        pool.extend(catalog.methods.values())
    if kind in ("papers", "all"):
        pool.extend(catalog.papers.values())
    return [entry for entry in pool if _matches(entry, wanted, years, words)]


def describe_filters(**filters: Any) -> str:
    """A one-line readable form of the filters that were given (for CLI headers)."""
    parts = [f"{k}={v}" for k, v in filters.items() if v not in (None, [], ())]
    return ", ".join(parts) or "no filters"
