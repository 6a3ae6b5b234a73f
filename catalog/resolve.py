"""Resolve a literature name to the catalog: glossary senses, methods, or parameter-centric adaptation.

``resolve(catalog, "soft prompt")`` returns a :class:`Resolution`: the glossary terms whose name or
variant it is, the methods that carry it (through those terms, or by their own name, acronym or
alias), and, for names of parameter-centric adaptation ("LoRA", "adapter", "BitFit", "fine-tuning",
from ``parameter-centric.yaml``), what that is and its nearest reprogramming relatives.

When nothing matches, :func:`suggestions` proposes names that are really close: every word of the
query must match a word of the candidate or the other way round (the same word, or a close spelling
of a word of four letters or more), so "model merging" does not suggest "model reprogramming", "LM"
does not suggest "label mapping" by spelling alone, and "prefix fine-tuning" suggests "prefix tuning".
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import GlossaryTerm, MethodEntry, ParameterCentricTerm, normalise_name

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = ["Resolution", "resolve", "suggestions", "names_of"]


@dataclass
class Resolution:
    """What a literature name means: glossary terms, methods, and parameter-centric terms it matches."""

    query: str
    terms: list[GlossaryTerm] = field(default_factory=list)
    methods: list[MethodEntry] = field(default_factory=list)
    parameter_centric: list[ParameterCentricTerm] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.methods or self.parameter_centric)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Glossary terms (then parameter-centric terms) as YAML-shaped dicts; else the method entries."""
        if self.terms or self.parameter_centric:
            return [t.model_dump(mode="json", exclude_none=True) for t in [*self.terms, *self.parameter_centric]]
        return [method.model_dump(mode="json") for method in self.methods]


def names_of(method: MethodEntry) -> list[str]:
    """Every name a method answers to: id, name, acronym, aliases."""
    return [method.id, method.name, *([method.acronym] if method.acronym else []), *method.aliases]


def resolve(catalog: "CatalogData", term: str) -> Resolution:
    """Glossary terms, methods and parameter-centric terms named ``term`` (case, hyphen, space-insensitive)."""
    if not isinstance(term, str):
        raise ValueError(f"term: expected a string, got {type(term).__name__}")
    key = normalise_name(term)
    resolution = Resolution(query=term)
    if not key:
        return resolution
    resolution.terms = [t for t in catalog.glossary if key in {normalise_name(n) for n in t.names}]
    method_ids: list[str] = []
    for glossary_term in resolution.terms:
        method_ids.extend(m for m in glossary_term.methods if m not in method_ids)
    for method in catalog.methods.values():
        if key in {normalise_name(n) for n in names_of(method)} and method.id not in method_ids:
            method_ids.append(method.id)
    resolution.methods = [catalog.methods[m] for m in method_ids]
    resolution.parameter_centric = [t for t in catalog.parameter_centric if key in {normalise_name(n) for n in t.names}]
    return resolution


def _word_close(word: str, other: str) -> bool:
    if word == other:
        return True
    if min(len(word), len(other)) < 4:  # short words and abbreviations must match exactly
        return False
    return difflib.SequenceMatcher(None, word, other).ratio() >= 0.8


def _covers(words: list[str], others: list[str]) -> bool:
    return bool(words) and all(any(_word_close(w, o) for o in others) for w in words)


def _similar(query: str, name: str) -> bool:
    """Every word of one has a close word in the other, and the whole strings are close."""
    words, others = query.split(), name.split()
    if not (_covers(words, others) or _covers(others, words)):
        return False
    return difflib.SequenceMatcher(None, query, name).ratio() >= 0.6


def suggestions(catalog: "CatalogData", term: str, n: int = 5) -> list[str]:
    """Names in the catalog close to ``term`` (see the module docstring), best first."""
    key = normalise_name(term) if isinstance(term, str) else ""
    if not key or len(key) > 200:
        return []
    names = [name for t in catalog.glossary for name in t.names]
    names += [name for t in catalog.parameter_centric for name in t.names]
    for method in catalog.methods.values():
        names += names_of(method)[1:]
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(normalise_name(name), name)
    close = [k for k in by_key if _similar(key, k)]
    close.sort(key=lambda k: -difflib.SequenceMatcher(None, key, k).ratio())
    return [by_key[k] for k in close[:n]]
