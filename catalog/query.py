"""Filter catalog entries by coordinates, paradigm, modality, access, f's weights, year and free text.

Each axis filter takes one value or several (an entry matches if it has any of them); different
filters must all match. Bad values raise ``ValueError`` naming the argument and the allowed values;
an empty value (``""``, ``","``, ``[]``) is an error too, never a dropped filter.

Two questions have their own filters:

* ``runs_on``: what can I run against a model that gives me ... (:data:`RUNS_ON`): ``text-api``
  (generated text only), ``scores`` (output scores, so also black-box training from queries),
  ``gradients`` (also backpropagation through f), ``white-box`` (also reading and writing its
  hidden states: everything);
* ``keeps_f_frozen=True``: only methods that leave f's weights untouched (``f_weights=frozen``),
  excluding those that fine-tune f or insert trained modules into it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from ..framework.axes import (
    Access,
    Alignment,
    AxisValue,
    Configuration,
    FWeights,
    Location,
    Modality,
    Operator,
    Paradigm,
)
from .errors import short_repr
from .models import MethodEntry, PaperEntry

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = ["query", "parse_year_range", "FILTERS", "KINDS", "RUNS_ON"]

FILTERS: dict[str, type[AxisValue]] = {
    "configuration": Configuration,
    "operator": Operator,
    "location": Location,
    "alignment": Alignment,
    "paradigm": Paradigm,
    "modality": Modality,
    "access": Access,
    "f_weights": FWeights,
}
"""Filter name -> enum of its values (the names are the YAML field names)."""

_SCORES_ACCESS = frozenset({Access.TEXT_ONLY, Access.SCORES, Access.ZEROTH_ORDER})
RUNS_ON: dict[str, frozenset[Access]] = {
    "text-api": frozenset({Access.TEXT_ONLY}),
    "scores": _SCORES_ACCESS,
    "gradients": _SCORES_ACCESS | {Access.GRADIENT},
    "white-box": frozenset(Access),
}
"""What the user has of f -> the access values of the methods that can run against it."""

KINDS = ("methods", "papers", "all")

Values = Union[str, AxisValue, Iterable[Union[str, AxisValue]], None]
YearRange = Union[int, str, tuple[Optional[int], Optional[int]], list[Optional[int]], range, None]


def _parse_values(name: str, value: Values) -> Optional[set[AxisValue]]:
    if value is None:
        return None
    enum = FILTERS[name]
    items: list[Any] = []
    if isinstance(value, (str, AxisValue)):
        parts: list[Any] = [value]
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = list(value)
    else:
        raise ValueError(f"{name}: expected a value or a list of values, got {type(value).__name__}")
    for part in parts:
        if isinstance(part, str) and not isinstance(part, AxisValue):
            items.extend(p.strip() for p in part.split(",") if p.strip())
        else:
            items.append(part)
    if not items:
        raise ValueError(f"{name}: an empty value filters nothing; give one of {enum.allowed()} (or leave it out)")
    parsed = set()
    for item in items:
        if isinstance(item, str) and len(item) > 80:
            raise ValueError(f"{name}: {short_repr(item)} is not one of {enum.allowed()}")
        parsed.add(enum.parse(item, field=name))
    return parsed


def parse_runs_on(value: Optional[str]) -> Optional[frozenset[Access]]:
    """``runs_on`` (``text-api``, ``scores``, ``gradients``, ``white-box``) -> the access values it admits."""
    if value is None:
        return None
    key = value.strip().lower() if isinstance(value, str) else value
    if key not in RUNS_ON:
        raise ValueError(f"runs_on: {short_repr(value)} is not one of {list(RUNS_ON)}")
    return RUNS_ON[key]


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
    raise ValueError(f"year: expected 2022, '2020-2023', '2020-', '-2021' or (lo, hi), got {short_repr(year)}")


def _haystack(entry: Union[MethodEntry, PaperEntry]) -> str:
    if isinstance(entry, MethodEntry):
        parts = [
            entry.id,
            entry.name,
            entry.acronym or "",
            *entry.aliases,
            entry.paper.title,
            *entry.paper.authors,
            entry.paper.venue,
            entry.summary,
            *entry.tags,
        ]
    else:
        parts = [
            entry.id,
            entry.title,
            *entry.aliases,
            *entry.authors,
            entry.venue,
            entry.summary,
            *entry.tags,
            *entry.methods,
        ]
    return " \n ".join(parts).casefold()


def _matches(
    entry: Union[MethodEntry, PaperEntry],
    wanted: dict[str, set[Any]],
    years: Optional[tuple[Optional[int], Optional[int]]],
    words: list[str],
) -> bool:
    for name, values in wanted.items():
        if name in ("configuration", "operator", "location", "alignment"):
            have = set(getattr(entry.coordinates, name))
        elif name == "paradigm":
            have = set(entry.paradigms)
        elif name == "modality":
            have = {entry.modality} | ({entry.task_modality} if entry.task_modality else set())
        elif name == "f_weights":
            have = {entry.f_weights}
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
    f_weights: Values = None,
    keeps_f_frozen: Optional[bool] = None,
    runs_on: Optional[str] = None,
    year: YearRange = None,
    text: Optional[str] = None,
    kind: str = "methods",
) -> list[Union[MethodEntry, PaperEntry]]:
    """Entries of ``kind`` (``methods``, ``papers`` or ``all``) that match every given filter.

    ``modality`` matches the model's modality or the task's; ``f_weights`` is frozen, added-modules or
    trained, and ``keeps_f_frozen=True`` is ``f_weights="frozen"`` (``False``: the others);
    ``runs_on`` keeps the methods whose access is admitted by :data:`RUNS_ON`; ``text`` matches every
    word, case-insensitively, in ids, names, aliases, titles, authors, venues, summaries and tags.
    Methods come sorted by id, papers by year then id.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: {short_repr(kind)} is not one of {list(KINDS)}")
    raw = dict(
        configuration=configuration,
        operator=operator,
        location=location,
        alignment=alignment,
        paradigm=paradigm,
        modality=modality,
        access=access,
        f_weights=f_weights,
    )
    wanted = {name: parsed for name, value in raw.items() if (parsed := _parse_values(name, value)) is not None}
    if keeps_f_frozen is not None:
        if not isinstance(keeps_f_frozen, bool):
            raise ValueError(f"keeps_f_frozen: expected True or False, got {short_repr(keeps_f_frozen)}")
        frozen = {FWeights.FROZEN} if keeps_f_frozen else set(FWeights) - {FWeights.FROZEN}
        wanted["f_weights"] = wanted.get("f_weights", set(FWeights)) & frozen
    admitted = parse_runs_on(runs_on)
    if admitted is not None:
        wanted["access"] = wanted.get("access", set(Access)) & set(admitted)
    years = parse_year_range(year)
    if text is not None and not isinstance(text, str):
        raise ValueError(f"text: expected a string, got {type(text).__name__}")
    if text is not None and not text.split():
        raise ValueError("text: an empty text filters nothing; give words to search for (or leave it out)")
    words = (text or "").casefold().split()
    pool: list[Union[MethodEntry, PaperEntry]] = []
    if kind in ("methods", "all"):
        pool.extend(catalog.methods.values())
    if kind in ("papers", "all"):
        pool.extend(catalog.papers.values())
    return [entry for entry in pool if _matches(entry, wanted, years, words)]


def describe_filters(**filters: Any) -> str:
    """A one-line readable form of the filters that were given (for CLI headers)."""
    parts = [f"{k}={v}" for k, v in filters.items() if v not in (None, [], ())]
    return ", ".join(parts) or "no filters"
