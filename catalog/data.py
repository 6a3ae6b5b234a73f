"""The catalog as a pure data object: :class:`CatalogData` holds the entries and the rules between them.

It knows nothing of files, queries, graphs or export formats; those are functions over it
(:mod:`.query`, :mod:`.resolve`, :mod:`.graph`, :mod:`.export`, :mod:`.checks`), and
:class:`~.loader.Catalog` is the thin facade that reads the files and offers them as methods.
Construction validates every rule that makes the catalog usable at all (unique ids and names, known
relation targets, no relation cycle, known linked methods, glossary senses that admit their
methods); a violation raises :class:`CatalogError` naming the file and the field.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .errors import CatalogError, short_repr
from .models import ExcludedItem, GlossaryTerm, MethodEntry, PaperEntry, ParameterCentricTerm, normalise_name

__all__ = ["CatalogData", "Entry", "close_ids", "relation_cycle"]

Entry = Union[MethodEntry, PaperEntry]


def close_ids(wrong: object, candidates: Iterable[str], *, n: int = 3) -> list[str]:
    """Ids similar to ``wrong`` (for "did you mean"); empty for anything that is not a short string."""
    if not isinstance(wrong, str) or len(wrong) > 200:
        return []
    return difflib.get_close_matches(wrong, list(candidates), n=n, cutoff=0.75)


def relation_cycle(methods: dict[str, MethodEntry]) -> Optional[list[str]]:
    """A cycle of "builds on" relations as ``[a, b, ..., a]``, or ``None`` when the relations are acyclic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> Optional[list[str]]:
        state[node] = 1
        path.append(node)
        for relation in methods[node].relations:
            target = relation.target
            if target not in methods:
                continue
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(methods):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


class CatalogData:
    """All methods, papers, glossary terms and exclusions, validated together; entries are immutable."""

    def __init__(
        self,
        methods: Iterable[MethodEntry],
        papers: Iterable[PaperEntry] = (),
        glossary: Iterable[GlossaryTerm] = (),
        excluded: Iterable[ExcludedItem] = (),
        parameter_centric: Iterable[ParameterCentricTerm] = (),
        *,
        root: Optional[Path] = None,
        glossary_file: str = "glossary.yaml",
        excluded_file: str = "excluded.yaml",
        parameter_centric_file: str = "parameter-centric.yaml",
    ):
        self.root = root
        self.methods: dict[str, MethodEntry] = {}
        self.papers: dict[str, PaperEntry] = {}
        self.glossary: list[GlossaryTerm] = list(glossary)
        self.excluded: list[ExcludedItem] = list(excluded)
        self.parameter_centric: list[ParameterCentricTerm] = list(parameter_centric)
        self.glossary_file = glossary_file
        self.excluded_file = excluded_file
        self.parameter_centric_file = parameter_centric_file
        for method in sorted(methods, key=lambda m: m.id):
            self._add(method, self.methods)
        for paper in sorted(papers, key=lambda p: (p.year, p.id)):
            self._add(paper, self.papers)
        self._check()

    def _add(self, entry: Entry, into: dict[str, Any]) -> None:
        other = self.methods.get(entry.id) or self.papers.get(entry.id)
        if other is not None:
            raise CatalogError(entry.source, "id", f"duplicate id {entry.id!r}, also in {other.source}", entry=entry.id)
        into[entry.id] = entry

    # rules ---------------------------------------------------------------------------------------------

    def _check(self) -> None:
        self._check_names_and_relations()
        self._check_papers()
        self._check_glossary()
        self._check_parameter_centric()

    def _check_names_and_relations(self) -> None:
        names: dict[str, tuple[str, str]] = {}

        def claim(name: str, method: MethodEntry, where: str) -> None:
            key = normalise_name(name)
            owner = names.get(key)
            if owner is not None and owner[0] != method.id:
                raise CatalogError(
                    method.source,
                    where,
                    f"{short_repr(name)} is already a name of {owner[0]!r} ({owner[1]})",
                    entry=method.id,
                )
            names[key] = (method.id, where)

        for method in self.methods.values():
            claim(method.id, method, "id")
        for method in self.methods.values():
            claim(method.name, method, "name")
            if method.acronym:
                claim(method.acronym, method, "acronym")
            for index, alias in enumerate(method.aliases):
                claim(alias, method, f"aliases[{index}]")
            for index, relation in enumerate(method.relations):
                if relation.target not in self.methods:
                    raise CatalogError(
                        method.source,
                        f"relations[{index}].target",
                        f"unknown method id {relation.target!r}{self.suggest(relation.target)}",
                        entry=method.id,
                    )
        cycle = relation_cycle(self.methods)
        if cycle:
            first = self.methods[cycle[0]]
            index = next(i for i, r in enumerate(first.relations) if r.target == cycle[1])
            raise CatalogError(
                first.source,
                f"relations[{index}].target",
                f"relations form a cycle: {' → '.join(cycle)} (a method can only build on earlier ones)",
                entry=first.id,
            )

    def _check_papers(self) -> None:
        arxiv_owner: dict[str, Entry] = {}
        for method in self.methods.values():
            if method.paper.arxiv:
                arxiv_owner.setdefault(method.paper.arxiv, method)
        for paper in self.papers.values():
            for j, method_id in enumerate(paper.methods):
                if method_id not in self.methods:
                    raise CatalogError(
                        paper.source,
                        f"methods[{j}]",
                        f"unknown method id {method_id!r}{self.suggest(method_id)}",
                        entry=paper.id,
                    )
            if paper.arxiv:
                owner = arxiv_owner.get(paper.arxiv)
                if owner is not None:
                    raise CatalogError(
                        paper.source,
                        "arxiv",
                        f"arXiv {paper.arxiv} is already catalogued as {owner.id!r} ({owner.source})",
                        entry=paper.id,
                    )
                arxiv_owner[paper.arxiv] = paper
        for i, item in enumerate(self.excluded):
            if item.arxiv and item.arxiv in arxiv_owner:
                owner = arxiv_owner[item.arxiv]
                raise CatalogError(
                    self.excluded_file,
                    f"[{i}].arxiv",
                    f"arXiv {item.arxiv} is excluded but also catalogued as {owner.id!r}",
                )

    def _check_glossary(self) -> None:
        terms: dict[str, str] = {}
        for i, term in enumerate(self.glossary):
            for j, name in enumerate(term.names):
                key = normalise_name(name)
                where = f"[{i}].term" if j == 0 else f"[{i}].variants[{j - 1}]"
                if key in terms:
                    raise CatalogError(
                        self.glossary_file, where, f"{short_repr(name)} is already listed as {short_repr(terms[key])}"
                    )
                terms[key] = term.term
            for k, sense in enumerate(term.senses):
                for m, method_id in enumerate(sense.methods):
                    method = self.methods.get(method_id)
                    if method is None:
                        raise CatalogError(
                            self.glossary_file,
                            f"[{i}].senses[{k}].methods[{m}]",
                            f"unknown method id {method_id!r}{self.suggest(method_id)}",
                        )
                    axis = sense.coordinates.admits(method.coordinates)
                    if axis is not None:
                        raise CatalogError(
                            self.glossary_file,
                            f"[{i}].senses[{k}].coordinates.{axis}",
                            f"method {method_id!r} has {axis} "
                            f"{[v.value for v in getattr(method.coordinates, axis)]}, outside this sense's "
                            f"{[v.value for v in getattr(sense.coordinates, axis)]}",
                        )
                    if sense.paradigm and method.paradigm not in sense.paradigm:
                        raise CatalogError(
                            self.glossary_file,
                            f"[{i}].senses[{k}].paradigm",
                            f"method {method_id!r} is {method.paradigm.value}, outside this sense's "
                            f"{[p.value for p in sense.paradigm]}",
                        )

    def _check_parameter_centric(self) -> None:
        """Relatives must exist; a parameter-centric name may repeat a glossary name but never a method's name."""
        taken: dict[str, str] = {}
        for method in self.methods.values():
            for name in [method.id, method.name, *([method.acronym] if method.acronym else []), *method.aliases]:
                taken.setdefault(normalise_name(name), f"method {method.id!r}")
        for i, term in enumerate(self.parameter_centric):
            for j, name in enumerate(term.names):
                where = f"[{i}].term" if j == 0 else f"[{i}].variants[{j - 1}]"
                owner = taken.get(normalise_name(name))
                if owner is not None:
                    raise CatalogError(
                        self.parameter_centric_file, where, f"{short_repr(name)} is already a name of {owner}"
                    )
                taken[normalise_name(name)] = f"parameter-centric term {short_repr(term.term)}"
            for k, relative in enumerate(term.relatives):
                if relative.method not in self.methods:
                    raise CatalogError(
                        self.parameter_centric_file,
                        f"[{i}].relatives[{k}].method",
                        f"unknown method id {relative.method!r}{self.suggest(relative.method)}",
                    )

    def adding(self, *entries: Entry) -> "CatalogData":
        """A new catalog of the same class with ``entries`` added (replacing same ids), cross-validated.

        For validating a contributor's new file against everything else (unknown relation targets,
        cycles, duplicate aliases or arXiv ids) before it is committed.
        """
        ids = {e.id for e in entries}
        methods = [m for m in self.methods.values() if m.id not in ids]
        papers = [p for p in self.papers.values() if p.id not in ids]
        methods += [e for e in entries if isinstance(e, MethodEntry)]
        papers += [e for e in entries if isinstance(e, PaperEntry)]
        return type(self)(
            methods,
            papers,
            self.glossary,
            self.excluded,
            self.parameter_centric,
            root=self.root,
            glossary_file=self.glossary_file,
            excluded_file=self.excluded_file,
            parameter_centric_file=self.parameter_centric_file,
        )

    def suggest(self, wrong: object) -> str:
        """``"; did you mean [...]?"`` with ids close to ``wrong``, or ``""``."""
        close = close_ids(wrong, [*self.methods, *self.papers])
        return f"; did you mean {close}?" if close else ""

    # access ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.methods) + len(self.papers)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.methods or entry_id in self.papers

    def get(self, entry_id: str) -> Entry:
        """The method or paper with this id; ``KeyError`` naming close ids otherwise."""
        entry = self.methods.get(entry_id) or self.papers.get(entry_id)
        if entry is None:
            raise KeyError(f"id: no method or paper {short_repr(entry_id)}{self.suggest(entry_id)}")
        return entry

    def method(self, method_id: str) -> MethodEntry:
        if method_id not in self.methods:
            raise KeyError(f"id: no method {short_repr(method_id)}{self.suggest(method_id)}")
        return self.methods[method_id]

    def paper(self, paper_id: str) -> PaperEntry:
        if paper_id not in self.papers:
            raise KeyError(f"id: no paper {short_repr(paper_id)}{self.suggest(paper_id)}")
        return self.papers[paper_id]

    def papers_about(self, method_id: str) -> list[PaperEntry]:
        """Papers of the second collection linked to ``method_id``."""
        self.method(method_id)
        return [p for p in self.papers.values() if method_id in p.methods]

    def entries(self) -> list[Entry]:
        """Methods (by id) then papers (by year, id)."""
        return [*self.methods.values(), *self.papers.values()]
