"""``methods/<id>.md`` (one page per catalog method) and ``methods/index.md``."""

from __future__ import annotations

import json
from typing import Any, Optional

from ..common import (
    AXES,
    AXIS_SYMBOL,
    Content,
    Site,
    axis_link,
    cell,
    glossary_names,
    method_link,
    paper_url,
    relative_link,
    short_authors,
    slug,
    table_latex,
    values_of,
)
from .theory import method_theory_lines


def usage_snippet(method_id: str, info: dict) -> str:
    """A Python snippet that builds the method's registered example and runs it (executed by the tests)."""
    registered = info.get("registered", {})
    shape = info.get("output_shape")
    fields = registered.get("config_fields", [])
    required = [f["name"] for f in fields if f["required"]]
    if not required and any(f["name"] == "num_classes" for f in fields):
        required = ["num_classes"]
    arguments = "".join(f", {name}=..." for name in required)
    lines = [
        "import torch",
        "from reprogrammability.implementations import get_method",
        "",
        f'method = get_method("{method_id}")',
        "print(method.spec.coordinates_str())" + (f"  # {registered['coordinates']}" if registered else ""),
        "",
        "# The registered example: the method on a tiny random model, with a small batch.",
        *(
            ["example = method.example()", "reprogrammer, inputs = example.reprogrammer, example.inputs"]
            if info.get("example_fields")
            else ["reprogrammer, inputs, targets = method.example()"]
        ),
        "print(reprogrammer.latex())",
        'print(reprogrammer.parameter_count(), "trainable parameters")',
        "with torch.no_grad():",
        "    predictions = reprogrammer(inputs)",
        "print(tuple(predictions.shape))" + (f"  # {tuple(shape)}" if shape is not None else ""),
        "",
        "# On your own frozen model"
        + (f" (options: {registered['config']}, below)" if registered.get("config") else "")
        + ":",
        "# from reprogrammability.implementations import create_method",
        f'# reprogrammer = create_method("{method_id}", model{arguments})',
    ]
    return "\n".join(lines) + "\n"


def _coordinates_table(source: str, entry: Any) -> list[str]:
    rows = ["| coordinate | value |", "|---|---|"]
    for axis in AXES:
        values = values_of(getattr(entry.coordinates, axis))
        links = ", ".join(axis_link(source, axis, v) for v in values)
        rows.append(f"| {axis} {AXIS_SYMBOL[axis]} | {links} |")
    rows.append(f"| paradigm | {entry.paradigm.value} |")
    modality = entry.modality.value
    if entry.task_modality and entry.task_modality != entry.modality:
        modality += f" (task: {entry.task_modality.value})"
    rows.append(f"| modality | {modality} |")
    rows.append(f"| access to f | {entry.access.value}: {cell(entry.access.meaning)} |")
    rows.append(f"| f's weights | {entry.f_weights.value}: {cell(entry.f_weights.meaning)} |")
    for fact in ("program", "readout"):
        value = getattr(entry, fact, None)
        if value:
            shown = value if isinstance(value, str) else ", ".join(str(getattr(v, "value", v)) for v in value)
            rows.append(f"| {fact} | {cell(shown)} |")
    names = [n for n in [entry.acronym, *entry.aliases] if n]
    if names:
        rows.append(f"| also called | {cell(', '.join(names))} |")
    return rows


def _shape_text(shapes: dict[str, int]) -> str:
    return ", ".join(f"${name} = {value}$" for name, value in shapes.items())


def method_page(catalog: Any, entry: Any, info: dict, glossary_names: Optional[dict[str, list[str]]] = None) -> str:
    """The Markdown page of one catalog method (``methods/<id>.md``)."""
    source = f"methods/{entry.id}.md"
    title = entry.name + (f" ({entry.acronym})" if entry.acronym and entry.acronym != entry.name else "")
    names = (glossary_names or {}).get(entry.id, [])
    tags: list[str] = []  # literature names: shown as tags and weighted heavily by the site's search
    for name in [*names, *entry.aliases]:
        if name.casefold() not in {t.casefold() for t in tags}:
            tags.append(name)
    lines = ["---", "tags:", *[f"  - {json.dumps(t, ensure_ascii=False)}" for t in tags], "---", ""] if tags else []
    lines += [f"# {title}", "", entry.summary.strip(), ""]
    lines += _coordinates_table(source, entry) + [""]
    status = info.get("status")
    if info.get("mismatch"):
        lines += [
            '!!! warning "The catalog and the implementation disagree"',
            "",
            f"    {info['mismatch']}",
            "",
            "    The page shows the catalog's coordinates above and the implementation's formula below.",
            "",
        ]
    lines += ["## Formula", ""]
    if status == "ok":
        lines += [
            "The framework's symbolic form of the reference implementation, "
            r"$\hat{y} = O_{\omega}(f(I_{\lambda,\tau,\ell}(x)))$ with this method's parts, built on a tiny model:",
            "",
            "$$",
            info["latex"],
            "$$",
            "",
            "Trainable parameters (of the input manipulation $I$ and the output alignment $O$; $f$ is frozen):",
            "",
            "$$",
            r"\left|\theta\right| = " + info["parameter_count"],
            "$$",
            "",
        ]
        shapes = info.get("shapes") or {}
        evaluated = f"{info['evaluated']:,}"
        measured = f"{info['measured']:,}"
        at = f" at {_shape_text(shapes)}" if shapes else ""
        lines += [
            f"On the tiny example{at}: {evaluated} parameters from the formula, {measured} measured on the modules "
            f"(the frozen model has {info.get('model_parameters', 0):,}).",
            "",
            "| part | formula | trainable parameters |",
            "|---|---|---|",
        ]
        for part in info.get("parts", []):
            lines.append(
                f"| `{cell(part['name'])}` | ${table_latex(part['expression'])}$ | "
                f"${table_latex(part['parameter_count'])}$ = {part['evaluated']:,} |"
            )
        lines.append("")
        lines += overhead_lines(info.get("overhead"))
    elif status == "skipped":
        lines += [f"The symbolic form was not computed in this build ({info.get('message', '')}).", ""]
    elif status in ("missing", "no-example"):
        lines += [
            '!!! note "Implementation pending"',
            "",
            f"    The reference implementation `{entry.implementation}` is not available yet: "
            f"{info.get('message', '')}. "
            "The coordinates above are the catalog's; the formula and the parameter count will appear here "
            "once it is registered.",
            "",
        ]
    else:
        lines += [
            '!!! failure "The example could not be built"',
            "",
            f"    {info.get('message', 'unknown error')}",
            "",
        ]
    registered = info.get("registered")
    lines += ["## Usage", ""]
    if registered:
        lines += [
            f"Reference implementation: `{registered['import_path']}`"
            + (f": {registered['summary']}" if registered.get("summary") else ""),
            "",
        ]
        if status == "ok":
            lines += ["```python", usage_snippet(entry.id, info).rstrip("\n"), "```", ""]
        fields = registered.get("config_fields") or []
        if fields:
            doc = registered.get("config_doc", "").splitlines()[0].rstrip(".:") if registered.get("config_doc") else ""
            lines += [
                f"Options (`{registered['config']}`)" + (f": {doc}" if doc else "") + ":",
                "",
                "| option | type | default | meaning |",
                "|---|---|---|---|",
            ]
            for field in fields:
                default = "required" if field["required"] else f"`{cell(field['default'])}`"
                lines.append(
                    f"| `{field['name']}` | `{cell(field['type'])}` | {default} | {cell(field['description'])} |"
                )
            lines.append("")
    else:
        lines += [f"Reference implementation (pending): `{entry.implementation}`.", ""]

    builds_on = [(r.type.value, r.target, r.note) for r in entry.relations]
    built_upon = [
        (r.type.value, other.id, r.note)
        for other in catalog.methods.values()
        for r in other.relations
        if r.target == entry.id
    ]
    try:
        same = catalog.sharing_coordinates(entry.id)
    except Exception:
        same = []
    lines += ["## Relations", ""]
    if not (builds_on or built_upon or same):
        lines += ["No relations to other catalogued methods are recorded.", ""]
    for kind, target, note in builds_on:
        label = catalog.methods[target].label if target in catalog.methods else target
        lines.append(f"- {kind} {method_link(source, target, label)}" + (f": {note}" if note else ""))
    for kind, other, note in built_upon:
        label = catalog.methods[other].label
        lines.append(f"- {method_link(source, other, label)} {kind} this method" + (f": {note}" if note else ""))
    if same:
        links = ", ".join(method_link(source, m, catalog.methods[m].label) for m in same)
        lines.append(f"- same coordinates (λ, τ, ℓ, ω): {links}")
    lines += ["", f"See the [lineage graph]({relative_link(source, 'catalog/taxonomy.md')}#lineage).", ""]
    lines += method_theory_lines(source, entry.id)

    paper = entry.paper
    url = paper_url(paper)
    title_md = f"[{paper.title}]({url})" if url else paper.title
    authors = "; ".join(a for a in paper.authors if a != "others") + (
        " et al." if paper.authors[-1] == "others" else ""
    )
    ids = []
    if paper.arxiv:
        ids.append(f"arXiv [{paper.arxiv}](https://arxiv.org/abs/{paper.arxiv})")
    if paper.doi:
        ids.append(f"doi [{paper.doi}](https://doi.org/{paper.doi})")
    if entry.code_url:
        ids.append(f"[code]({entry.code_url})")
    lines += [
        "## Paper",
        "",
        f"{authors} ({paper.year}). *{title_md}*. {paper.venue}." + (" " + ", ".join(ids) + "." if ids else ""),
        "",
    ]
    about = catalog.papers_about(entry.id)
    if about:
        lines += ["Papers that apply, analyse or extend it:", ""]
        for other in about:
            other_url = paper_url(other)
            name = f"[{cell(other.title)}]({other_url})" if other_url else other.title
            lines.append(f"- {name}, {short_authors(other.authors)} ({other.year}, {other.venue}): {other.kind.value}")
        lines.append("")
    if entry.rationale:
        lines += ["## Why these labels", ""]
        for field, reason in entry.rationale.items():
            lines.append(f"- **{getattr(field, 'value', field)}**: {' '.join(reason.split())}")
        lines.append("")
    if names:
        glossary = relative_link(source, "catalog/glossary.md")
        lines += [
            "## Literature names",
            "",
            "The glossary lists this method under: " + ", ".join(f"[{n}]({glossary}#{slug(n)})" for n in names) + ".",
            "",
        ]
    if entry.tags:
        lines += ["Tags: " + ", ".join(f"`{t}`" for t in entry.tags), ""]
    return "\n".join(lines)


def methods_index(catalog: Any, forms: dict[str, dict]) -> str:
    """``methods/index.md``: every method with its coordinates, grouped by paradigm."""
    source = "methods/index.md"
    lines = [
        "# Methods",
        "",
        f"The catalog has {len(catalog.methods)} methods, each placed on the four axes and backed by a reference "
        "implementation. Every page shows the method's formula and parameter count from the framework's "
        "symbolic form, its relations and paper, and a usage snippet that the tests execute.",
        "",
    ]
    ok = sum(1 for f in forms.values() if f.get("status") == "ok")
    pending = [i for i, f in forms.items() if f.get("status") in ("missing", "no-example", "error")]
    if pending:
        lines += [
            f"{ok} of {len(forms)} implementations build their example; pending or failing: "
            + ", ".join(method_link(source, i) for i in pending)
            + ".",
            "",
        ]
    from reprogrammability.framework.axes import Paradigm

    for paradigm in Paradigm:
        members = [m for m in catalog.methods.values() if m.paradigm is paradigm]
        if not members:
            continue
        lines += [
            f"## {paradigm.value.replace('-', ' ').capitalize()}",
            "",
            paradigm.meaning.capitalize() + ".",
            "",
            "| method | year | λ | τ | ℓ | ω | access | modality | parameters (tiny example) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for m in sorted(members, key=lambda e: (e.year, e.id)):
            form = forms.get(m.id, {})
            count = f"${table_latex(form['parameter_count'])}$" if form.get("status") == "ok" else "pending"
            cells = [method_link(source, m.id, m.label), str(m.year)]
            cells += ["+".join(values_of(getattr(m.coordinates, a))) for a in AXES]
            cells += [m.access.value, m.modality.value, count]
            lines.append("| " + " | ".join(cell(c) if not c.startswith("$") else c for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


OVERHEAD_RESULTS = "inference_overhead.json"
"""Written by ``python benchmarks/inference_overhead.py`` (``nnr cost``): each method's declared and measured overhead."""


def overhead_lines(row: Optional[dict]) -> list[str]:
    """The parts' declared inference overhead per query against bare f, next to the parameter formula, with the
    declared and measured totals of the committed cost report (nothing when the method has no row)."""
    if not row:
        return []
    lines = [
        "Inference overhead per query against bare $f$ (each part's declaration; FLOPs as torch's FlopCounterMode "
        "counts them, see `reprogrammability.framework.cost`):",
        "",
    ]
    if row.get("status") in ("passed", "failed"):
        lines += ["| part | declared overhead |", "|---|---|"]
        lines += [f"| `{cell(name)}` | ${table_latex(latex)}$ |" for name, latex in row["declarations"].items()]
        error = max(row["relative_error_flops"], row["relative_error_tokens"])
        lines += [
            "",
            f"On the tiny example: {row['symbolic_extra_tokens']:,} extra tokens and {row['symbolic_extra_flops']:,} "
            f"extra FLOPs declared, {row['measured_extra_tokens']:,.2f} and {row['measured_extra_flops']:,.0f} "
            f"measured (bare $f$: {row['bare_flops_per_query']:,.0f} FLOPs; relative difference {error:.1%}, "
            f"{row['status']}).",
        ]
        if row.get("reference", "bare f") != "bare f":
            lines += ["", f"Reference: {cell(row['reference'])}."]
    else:
        lines.append(f"Not available: {cell(row.get('status', ''))}: {cell(row.get('reason', ''))[:300]}")
    return lines + [
        "",
        "(from `benchmarks/results/inference_overhead.json`, `python benchmarks/inference_overhead.py`)",
        "",
    ]


def _overhead_rows(site: Site) -> dict[str, dict]:
    path = site.results_dir / OVERHEAD_RESULTS
    if not path.exists():
        return {}
    return {row["method"]: row for row in json.loads(path.read_text(encoding="utf-8")).get("methods", [])}


def pages(site: Site) -> dict[str, Content]:
    names = glossary_names(site.catalog)
    overhead = _overhead_rows(site)
    found: dict[str, Content] = {
        f"methods/{entry.id}.md": method_page(
            site.catalog, entry, {**site.forms.get(entry.id, {}), "overhead": overhead.get(entry.id)}, names
        )
        for entry in site.catalog.methods.values()
    }
    found["methods/index.md"] = methods_index(site.catalog, site.forms)
    return found
