"""``catalog/papers.md``, ``catalog/glossary.md``, ``catalog/taxonomy.md`` and ``catalog/crosscheck.md``."""

from __future__ import annotations

from typing import Any

from ..common import (
    Content,
    Site,
    cell,
    method_link,
    paper_url,
    short_authors,
    slug,
    values_of,
)


def _paper_row(paper: Any, kind: str, paradigm: str, modality: str, coordinates: str, methods: Any) -> tuple:
    """One row of the papers table: year, title, url, authors, venue, kind, paradigm, modality, coordinates, ids."""
    return (
        paper.year,
        paper.title,
        paper_url(paper),
        short_authors(paper.authors),
        paper.venue,
        kind,
        paradigm,
        modality,
        coordinates,
        list(methods),
    )


def papers_page(catalog: Any) -> str:
    """``catalog/papers.md``: the defining papers of the methods and the papers about them, filterable."""
    source = "catalog/papers.md"
    rows = [
        _paper_row(m.paper, "method", m.paradigm.value, m.modality.value, str(m.coordinates), [m.id])
        for m in catalog.methods.values()
    ]
    rows += [
        _paper_row(p, p.kind.value, "+".join(values_of(p.paradigm)), p.modality.value, str(p.coordinates), p.methods)
        for p in catalog.papers.values()
    ]
    rows.sort(key=lambda r: (-r[0], r[1].casefold()))
    lines = [
        "---",
        "hide:",
        "  - toc",  # the table needs the width
        "---",
        "",
        "# Papers",
        "",
        f"{len(rows)} papers: the {len(catalog.methods)} papers that define the catalogued methods (kind *method*) "
        f"and {len(catalog.papers)} papers that apply, analyse, extend or survey them, each placed on the axes. "
        "Filter by words, kind, paradigm, modality and year; the filters run in your browser.",
        "",
        '<div class="nnr-filter" data-columns="kind,paradigm,modality" data-year-column="year" markdown="0"></div>',
        "",
        "| year | title | authors | venue | kind | paradigm | modality | coordinates (λ τ ℓ ω) | methods |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for year, title, url, authors, venue, kind, paradigm, modality, coordinates, methods in rows:
        name = f"[{cell(title)}]({url})" if url else cell(title)
        method_links = ", ".join(method_link(source, i, catalog.methods[i].label) for i in methods)
        compact = coordinates.replace("λ=", "").replace("τ=", "").replace("ℓ=", "").replace("ω=", "")
        lines.append(
            f"| {year} | {name} | {cell(authors)} | {cell(venue)} | {kind} | {paradigm} | {modality} | "
            f"{cell(compact)} | {method_links} |"
        )
    lines += ["", "Survey items left out of the catalog, and why:", ""]
    for item in catalog.excluded:
        lines.append(f"- *{item.title}* ({item.category.value}): {' '.join(item.reason.split())}")
    lines.append("")
    return "\n".join(lines)


def glossary_page(catalog: Any) -> str:
    """``catalog/glossary.md``: literature names resolved to coordinates and methods (``nnr catalog resolve``)."""
    source = "catalog/glossary.md"
    terms = sorted(catalog.glossary, key=lambda t: t.term.casefold())
    known = {t.term.casefold(): t.term for t in terms}
    for t in terms:
        for v in t.variants:
            known.setdefault(v.casefold(), t.term)
    lines = [
        "# Glossary of literature names",
        "",
        "The three communities name the same things differently, and one name can mean different coordinates. "
        "Each term below is resolved by sense: the coordinates (λ, τ, ℓ, ω) that the name pins down and the "
        'catalogued methods that carry it. The same data answers `nnr catalog resolve "soft prompt"`.',
        "",
        "Terms: " + ", ".join(f"[{t.term}](#{slug(t.term)})" for t in terms),
        "",
    ]
    for term in terms:
        lines += [f"## {term.term}", ""]
        if term.variants:
            lines += ["Also: " + ", ".join(f"*{v}*" for v in term.variants), ""]
        lines += [" ".join(term.definition.split()), ""]
        for sense in term.senses:
            pinned = str(sense.coordinates)
            paradigms = ", ".join(values_of(sense.paradigm)) if sense.paradigm else ""
            head = f"- **{sense.label}**"
            facts = [f for f in (f"coordinates {pinned}" if pinned != "(any)" else "", paradigms) if f]
            head += f" ({'; '.join(facts)})" if facts else ""
            lines.append(f"{head}: {' '.join(sense.meaning.split())}")
            if sense.methods:
                links = ", ".join(method_link(source, m, catalog.methods[m].label) for m in sense.methods)
                lines.append(f"    Methods: {links}.")
        if term.see_also:
            refs = []
            for name in term.see_also:
                target = known.get(name.casefold())
                refs.append(f"[{name}](#{slug(target)})" if target else name)
            lines += ["", "See also: " + ", ".join(refs) + "."]
        lines.append("")
    return "\n".join(lines)


def taxonomy_page(catalog: Any) -> str:
    """``catalog/taxonomy.md``: the methods on the axes (tables + matrix figure) and the lineage graph."""
    from reprogrammability.framework.axes import Configuration, Location, Operator

    source = "catalog/taxonomy.md"
    lines = [
        "# Taxonomy and lineage",
        "",
        "Both figures are drawn at build time with matplotlib from the catalog's networkx graph "
        "(`Catalog.load().graph()`: method, paper and axis-value nodes; relation, about and value edges).",
        "",
        "## Methods on the axes",
        "",
        "Each table crosses the location ℓ (rows) with the operator τ (columns) for one configuration λ; the output "
        "alignment ω is given after each method.",
        "",
    ]
    for configuration in Configuration:
        lines += [
            f"### λ = {configuration.value}",
            "",
            "| ℓ \\ τ | " + " | ".join(o.value for o in Operator) + " |",
            "|---|" + "---|" * len(Operator),
        ]
        for location in Location:
            cells = []
            for operator in Operator:
                members = [
                    m
                    for m in catalog.methods.values()
                    if configuration in m.coordinates.configuration
                    and location in m.coordinates.location
                    and operator in m.coordinates.operator
                ]
                cells.append(
                    ", ".join(
                        f"{method_link(source, m.id, m.label)} ({'+'.join(values_of(m.coordinates.alignment))})"
                        for m in sorted(members, key=lambda e: e.id)
                    )
                    or "—"
                )
            lines.append(f"| **{location.value}** | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "![Coordinates of every method](coordinates.svg)",
        "",
        "Every catalogued method (rows, coloured by paradigm) and its values on the four axes and the access "
        "axis (columns). A method with several values on an axis has several dots.",
        "",
        "## Lineage",
        "",
        "![Lineage graph](lineage.svg)",
        "",
        "Relations are declared on the later method and point to the earlier one. As a list:",
        "",
        "| method | relation | builds on | note |",
        "|---|---|---|---|",
    ]
    for m in sorted(catalog.methods.values(), key=lambda e: (e.year, e.id)):
        for r in m.relations:
            target = catalog.methods.get(r.target)
            lines.append(
                f"| {method_link(source, m.id, m.label)} | {r.type.value} | "
                f"{method_link(source, r.target, target.label if target else r.target)} | {cell(r.note or '')} |"
            )
    lines.append("")
    return "\n".join(lines)


def crosscheck_page(catalog: Any) -> str:
    """``catalog/crosscheck.md``: the catalog against the survey's own list (when its data is present)."""
    try:
        from reprogrammability.catalog.crosscheck import crosscheck, crosscheck_markdown, default_survey_path
    except ImportError as error:  # pragma: no cover - the module is part of the catalog
        return f"# Our labels and the survey's\n\nThe cross-check is not available: {error}.\n"
    try:
        rows = crosscheck(catalog)
    except FileNotFoundError:
        return (
            "# Our labels and the survey's\n\n"
            f"The survey's data (`{default_survey_path()}`) is not present where this site was built, so the "
            "cross-check was not computed. Run `nnr catalog crosscheck --survey PATH` with the survey's files.\n"
        )
    return crosscheck_markdown(rows)


def pages(site: Site) -> dict[str, Content]:
    return {
        "catalog/papers.md": papers_page(site.catalog),
        "catalog/glossary.md": glossary_page(site.catalog),
        "catalog/taxonomy.md": taxonomy_page(site.catalog),
        "catalog/crosscheck.md": crosscheck_page(site.catalog),
    }
