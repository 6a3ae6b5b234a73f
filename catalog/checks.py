"""Whole-catalog consistency checks (``nnr catalog check`` without an entry): findings, never exceptions.

Loading already rejects what makes the catalog unusable (unknown ids, relation cycles, duplicate
names; see :class:`~.data.CatalogData`). These checks report what makes it wrong:

* ``time-order``: ``first_public`` is not after the venue year; and a relation (extends, specialises, generalises, combines, variant-of) is declared on
  the later method and points back, so its source must not have become public after its target.
  "Public" is ``paper.first_public`` (arXiv v1) when both entries have it, else the year. A relation
  between concurrent works is allowed when its ``note`` starts with ``concurrent:`` and says why.
* ``glossary``: every method is reached by some glossary sense, and every sense resolves to
  something: it lists methods, or pins only paradigms (an umbrella sense that resolves to all their
  methods), or names a parameter-centric term in its label or its term's names (``instruction tuning``);
  every ``see_also`` name resolves.
* ``axis-rules``: τ and ω are what the entry's ``program`` and ``readout`` give (:mod:`.rules`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Callable, Union

from .models import MethodEntry, PaperEntry, normalise_name
from .resolve import resolve
from .rules import AXIS_RULES

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = [
    "Finding",
    "CONCURRENT_PREFIX",
    "CHECKS",
    "first_public",
    "check_time_order",
    "check_glossary",
    "check_axis_rules",
    "check_catalog",
    "check_entry",
]

CONCURRENT_PREFIX = "concurrent:"
"""A relation note starting with this allows a source that became public after its target."""


@dataclass(frozen=True)
class Finding:
    """One problem: which check, the file and field at fault, the entry, and what is wrong."""

    check: str
    file: str
    field: str
    entry: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" + (f" (entry {self.entry!r})" if self.entry else "")
        return f"[{self.check}] {where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def first_public(entry: Union[MethodEntry, PaperEntry]) -> Union[date, int]:
    """When ``entry`` first became public: ``paper.first_public`` when set, else the year."""
    paper = entry.paper if isinstance(entry, MethodEntry) else entry
    return getattr(paper, "first_public", None) or paper.year


def _later(source: Union[date, int], target: Union[date, int]) -> bool:
    if isinstance(source, date) and isinstance(target, date):
        return source > target
    return _year(source) > _year(target)


def _year(value: Union[date, int]) -> int:
    return value.year if isinstance(value, date) else value


def check_time_order(catalog: "CatalogData") -> list[Finding]:
    findings = []
    for entry in catalog.entries():
        paper = entry.bibliography
        if paper.first_public and paper.first_public.year > paper.year:
            field = "paper.first_public" if isinstance(entry, MethodEntry) else "first_public"
            findings.append(
                Finding(
                    "time-order",
                    entry.source,
                    field,
                    entry.id,
                    f"first public {paper.first_public} is after the venue year {paper.year}; "
                    "first_public is the earliest public version (arXiv v1 or the publication itself)",
                )
            )
    for method in catalog.methods.values():
        for index, relation in enumerate(method.relations):
            target = catalog.methods[relation.target]
            mine, theirs = first_public(method), first_public(target)
            if not _later(theirs, mine):
                continue
            if relation.note and relation.note.strip().lower().startswith(CONCURRENT_PREFIX):
                continue
            findings.append(
                Finding(
                    "time-order",
                    method.source,
                    f"relations[{index}]",
                    method.id,
                    f"{method.id} ({mine}) {relation.type.value} {target.id}, which became public later ({theirs}); "
                    f"reverse or retype the relation, fix first_public, or start its note with '{CONCURRENT_PREFIX}' "
                    "and say why",
                )
            )
    return findings


def check_glossary(catalog: "CatalogData") -> list[Finding]:
    findings = []
    reached: set[str] = set()
    pca_names = [normalise_name(n) for t in catalog.parameter_centric for n in t.names]
    for i, term in enumerate(catalog.glossary):
        reached.update(term.methods)
        for k, sense in enumerate(term.senses):
            umbrella = bool(sense.paradigm) and not sense.coordinates.as_dict()
            texts = [normalise_name(sense.label), *(normalise_name(n) for n in term.names)]
            names_pca = any(name in text for name in pca_names for text in texts)
            if sense.methods or umbrella or names_pca:
                continue
            findings.append(
                Finding(
                    "glossary",
                    catalog.glossary_file,
                    f"[{i}].senses[{k}]",
                    "",
                    f"the sense {sense.label!r} of {term.term!r} resolves to nothing: list its methods, or name the "
                    "parameter-centric term it is about (parameter-centric.yaml), or remove it",
                )
            )
        for j, name in enumerate(term.see_also):
            if not resolve(catalog, name):
                findings.append(
                    Finding(
                        "glossary",
                        catalog.glossary_file,
                        f"[{i}].see_also[{j}]",
                        "",
                        f"{name!r} resolves to nothing: name a glossary term, a method or a parameter-centric term",
                    )
                )
    for method in catalog.methods.values():
        if method.id not in reached:
            findings.append(
                Finding(
                    "glossary",
                    method.source,
                    "id",
                    method.id,
                    "no glossary sense reaches this method: add it to the sense(s) of glossary.yaml whose name it carries",
                )
            )
    return findings


def check_axis_rules(catalog: "CatalogData") -> list[Finding]:
    findings = []
    for method in catalog.methods.values():
        for field, rule in AXIS_RULES.items():
            problem = rule(method)
            if problem:
                findings.append(Finding("axis-rules", method.source, field, method.id, problem))
    return findings


CHECKS: dict[str, Callable[["CatalogData"], list[Finding]]] = {
    "time-order": check_time_order,
    "glossary": check_glossary,
    "axis-rules": check_axis_rules,
}
"""Check name -> function; ``nnr catalog check --only NAME`` runs one."""


def check_entry(catalog: "CatalogData", entry: Union[MethodEntry, PaperEntry]) -> list[Finding]:
    """Findings about ``entry`` once added to ``catalog`` (a load error, such as an unknown relation
    target or a cycle, is one finding named ``load``)."""
    from .errors import CatalogError

    try:
        combined = catalog.adding(entry)
    except CatalogError as error:
        return [Finding("load", error.file, error.field, error.entry or entry.id, error.detail)]
    return [f for f in check_catalog(combined) if f.entry == entry.id]


def check_catalog(catalog: "CatalogData", only: Union[str, None] = None) -> list[Finding]:
    """Every finding of every check (or of the check ``only``), in a stable order."""
    if only is not None and only not in CHECKS:
        raise ValueError(f"only: {only!r} is not one of {list(CHECKS)}")
    findings = []
    for name, check in CHECKS.items():
        if only is None or name == only:
            findings.extend(check(catalog))
    return findings
