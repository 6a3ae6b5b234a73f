"""How ``nnr catalog`` prints entries: method and paper tables, full entries, parameter-centric terms.

Only the standard library and :mod:`reprogrammability.tables` at import time; the catalog's models
arrive as arguments.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

__all__ = [
    "SYMBOLS",
    "print_json",
    "dump",
    "joined",
    "method_rows",
    "paper_rows",
    "print_methods",
    "print_papers",
    "show_method",
    "show_paper",
    "print_parameter_centric",
]

SYMBOLS = {"configuration": "λ", "operator": "τ", "location": "ℓ", "alignment": "ω"}


def print_json(items: Sequence[Any]) -> None:
    print(json.dumps(items, indent=2, ensure_ascii=False))


def dump(entry: Any) -> dict[str, Any]:
    document: dict[str, Any] = entry.model_dump(mode="json")
    return document


def joined(values: Iterable[Any]) -> str:
    return "+".join(v.value for v in values)


def method_rows(methods: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    headers = ["id", "name", "paradigm", "λ", "τ", "ℓ", "ω", "access", "f", "year"]
    rows = [
        [
            m.id,
            m.label,
            m.paradigm.symbol,
            joined(m.coordinates.configuration),
            joined(m.coordinates.operator),
            joined(m.coordinates.location),
            joined(m.coordinates.alignment),
            m.access.value,
            m.f_weights.value,
            m.year,
        ]
        for m in methods
    ]
    return headers, rows


def paper_rows(papers: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    headers = ["id", "year", "kind", "paradigm", "λ", "τ", "ℓ", "ω", "methods", "title"]
    rows = [
        [
            p.id,
            p.year,
            p.kind.value,
            "+".join(x.symbol for x in p.paradigm),
            joined(p.coordinates.configuration),
            joined(p.coordinates.operator),
            joined(p.coordinates.location),
            joined(p.coordinates.alignment),
            ",".join(p.methods),
            p.title,
        ]
        for p in papers
    ]
    return headers, rows


def print_methods(methods: Sequence[Any], *, empty: str = "no methods match") -> None:
    from reprogrammability.tables import format_table

    if not methods:
        print(empty)
        return
    headers, rows = method_rows(methods)
    print(format_table(rows, headers, max_width={1: 28}))
    print(f"\n{len(methods)} method{'s' if len(methods) != 1 else ''}")


def print_papers(papers: Sequence[Any], *, empty: str = "no papers match") -> None:
    from reprogrammability.tables import format_table

    if not papers:
        print(empty)
        return
    headers, rows = paper_rows(papers)
    print(format_table(rows, headers, max_width={8: 28, 9: 60}))
    print(f"\n{len(papers)} paper{'s' if len(papers) != 1 else ''}")


def show_method(catalog: Any, method: Any) -> None:
    from reprogrammability.tables import format_table, wrap

    print(f"{method.name}" + (f" ({method.acronym})" if method.acronym else ""))
    print(f"  id             {method.id}")
    if method.aliases:
        print(f"  also called    {', '.join(method.aliases)}")
    print(f"  paradigm       {method.paradigm.value} ({method.paradigm.symbol})")
    modality = method.modality.value + (f" -> {method.task_modality.value}" if method.task_modality else "")
    print(f"  modality       {modality}")
    print(f"  access         {method.access.value}: {method.access.meaning}")
    print(f"  f's weights    {method.f_weights.value}: {method.f_weights.meaning}")
    rows = []
    for axis, symbol in SYMBOLS.items():
        values = getattr(method.coordinates, axis)
        rows.append([f"{symbol} {axis}", joined(values), "; ".join(v.meaning for v in values)])
    print()
    print(format_table(rows, ["axis", "value", "meaning"], indent="  ", max_width={2: 80}))
    if method.program:
        print(f"  program        {', '.join(p.value for p in method.program)} (what I does; τ follows from it)")
    if method.readout:
        print(f"  readout        {', '.join(r.value for r in method.readout)} (how f is read; ω follows from it)")
    paper = method.paper
    print()
    print(f"  paper          {paper.title}")
    print(f"                 {'; '.join(paper.authors)}")
    print(
        f"                 {paper.venue} {paper.year}"
        + (f", arXiv {paper.arxiv}" if paper.arxiv else "")
        + (f"; first public {paper.first_public.isoformat()}" if paper.first_public else "")
    )
    if paper.url:
        print(f"                 {paper.url}")
    if method.code_url:
        print(f"  code           {method.code_url}")
    print(f"  implementation {method.implementation}")
    if method.relations:
        print("  builds on      " + "; ".join(f"{r.type.value} {r.target}" for r in method.relations))
    later = [
        f"{other.id} ({r.type.value})"
        for other in catalog.methods.values()
        for r in other.relations
        if r.target == method.id
    ]
    if later:
        print(f"  built upon by  {', '.join(later)}")
    papers = catalog.papers_about(method.id)
    if papers:
        shown = ", ".join(p.id for p in papers[:8]) + (f", … ({len(papers)} in all)" if len(papers) > 8 else "")
        print(f"  papers         {shown}")
    print()
    print(wrap(method.summary))
    for field, reason in method.rationale.items():
        print()
        print(wrap(f"Why {field.value}: {reason}"))


def show_paper(catalog: Any, paper: Any) -> None:
    from reprogrammability.tables import wrap

    print(paper.title)
    print(f"  id          {paper.id}")
    print(f"  authors     {'; '.join(paper.authors)}")
    print(
        f"  venue       {paper.venue} {paper.year}"
        + (f", arXiv {paper.arxiv}" if paper.arxiv else "")
        + (f"; first public {paper.first_public.isoformat()}" if paper.first_public else "")
    )
    if paper.url:
        print(f"  url         {paper.url}")
    print(f"  kind        {paper.kind.value} of {', '.join(paper.methods)}")
    print(f"  paradigm    {'+'.join(p.value for p in paper.paradigm)}")
    modality = paper.modality.value + (f" -> {paper.task_modality.value}" if paper.task_modality else "")
    print(f"  modality    {modality}")
    print(f"  coordinates {paper.coordinates}")
    print(f"  access      {paper.resolved_access.value}")
    print(f"  f_weights   {paper.f_weights.value}: {paper.f_weights.meaning}")
    print()
    print(wrap(paper.summary))
    for field, reason in paper.rationale.items():
        print()
        print(wrap(f"Why {field.value}: {reason}"))


def print_parameter_centric(catalog: Any, term: Any) -> None:
    from reprogrammability.tables import wrap

    names = term.term + (f" ({', '.join(term.variants)})" if term.variants else "")
    print(f"{names}: parameter-centric adaptation (PCA), not reprogramming")
    print(f"  f_weights: {term.f_weights.value} ({term.f_weights.meaning})")
    print(wrap(term.definition))
    print()
    print(wrap("What distinguishes it from reprogramming: " + term.distinction))
    print()
    print("  nearest reprogramming relatives:")
    for relative in term.relatives:
        print(f"   - {relative.method} ({catalog.methods[relative.method].coordinates})")
        print(wrap(relative.why, indent="       "))
    print()
