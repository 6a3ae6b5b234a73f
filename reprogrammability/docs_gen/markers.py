"""Markers ``<!-- docs-gen: NAME [ARG] -->`` in static pages, replaced at build time (axis tables, spec rules, counts).

Adding a marker: a function ``(catalog, argument, source page) -> Markdown`` in :data:`MARKERS`.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .common import AXES, cell, method_link

_MARKER = re.compile(r"<!--\s*docs-gen:\s*([a-z-]+)\s*([^>]*?)\s*-->")


def axis_section(catalog: Any, axis: str, source: str) -> str:
    """The values of ``axis`` with their meaning and the methods at each (for ``axes/<axis>.md``)."""
    from reprogrammability.framework.axes import AXES as ENUMS
    from reprogrammability.framework.axes import Access, Modality, Paradigm

    enums: dict[str, Any] = {**ENUMS, "paradigm": Paradigm, "access": Access, "modality": Modality}
    if axis not in enums:
        raise ValueError(f"axis: {axis!r} is not one of {sorted(enums)}")
    lines = []
    for value in enums[axis]:
        if axis in AXES:
            members = [m for m in catalog.methods.values() if value in getattr(m.coordinates, axis)]
        elif axis == "paradigm":
            members = [m for m in catalog.methods.values() if m.paradigm is value]
        elif axis == "access":
            members = [m for m in catalog.methods.values() if m.access is value]
        else:
            members = [m for m in catalog.methods.values() if value in (m.modality, m.task_modality)]
        symbol = f" ({value.symbol})" if value.symbol else ""
        lines += [f"## {value.value}", "", f"**{value.value}**{symbol}: {value.meaning}.", ""]
        if members:
            lines += [
                f"{len(members)} methods: "
                + ", ".join(method_link(source, m.id, m.label) for m in sorted(members, key=lambda e: (e.year, e.id)))
                + ".",
                "",
            ]
        else:
            lines += ["No catalogued method has this value.", ""]
    return "\n".join(lines)


def spec_rules_section() -> str:
    from reprogrammability.framework.spec import SPEC_RULES

    lines = ["| rule | statement |", "|---|---|"]
    for rule in SPEC_RULES:
        lines.append(f"| `{rule.name}` | {cell(rule.description)} |")
    return "\n".join(lines) + "\n"


def stats_section(catalog: Any) -> str:
    from collections import Counter

    paradigms = Counter(m.paradigm.value for m in catalog.methods.values())
    parts = ", ".join(f"{n} {p.replace('-', ' ')}" for p, n in sorted(paradigms.items()))
    return (
        f"The catalog holds **{len(catalog.methods)} methods** ({parts}), **{len(catalog.papers)} further papers** "
        f"and **{len(catalog.glossary)} literature names**.\n"
    )


def layer_imports_section() -> str:
    """The imports between the package's parts, as a table (for the contributor page)."""
    from .pages.layout import layer_imports

    lines = ["| part | imports | modules | direction |", "|---|---|---:|---|"]
    for row in layer_imports():
        lines.append(f"| `{row['source']}` | `{row['target']}` | {row['modules']} | {row['direction']} |")
    return "\n".join(lines) + "\n"


def import_cycles_section() -> str:
    from .import_graph import import_cycles

    cycles = import_cycles()
    if not cycles:
        return "No import circle: no module imports itself back, directly or through others, when it is imported.\n"
    return (
        "Import circles (modules that import each other at import time):\n\n"
        + "\n".join("- " + ", ".join(f"`{m}`" for m in cycle) for cycle in cycles)
        + "\n"
    )


def long_modules_section() -> str:
    from .pages.layout import LONG_MODULE, long_modules

    rows = long_modules()
    if not rows:
        return f"No module has more than {LONG_MODULE} lines.\n"
    lines = ["| module | lines |", "|---|---:|"]
    lines += [f"| `{module}` | {count} |" for module, count in rows]
    return "\n".join(lines) + "\n"


MARKERS: dict[str, Callable[[Any, str, str], str]] = {
    "layer-imports": lambda catalog, argument, source: layer_imports_section(),
    "import-cycles": lambda catalog, argument, source: import_cycles_section(),
    "long-modules": lambda catalog, argument, source: long_modules_section(),
    "axis-values": lambda catalog, argument, source: axis_section(catalog, argument, source),
    "spec-rules": lambda catalog, argument, source: spec_rules_section(),
    "stats": lambda catalog, argument, source: stats_section(catalog),
}
"""Marker name -> ``(catalog, argument, source page) -> Markdown``."""


def expand_markers(markdown: str, source: str, catalog: Any) -> str:
    """Replace ``<!-- docs-gen: NAME [ARG] -->`` markers in a static page."""

    def replace(match: re.Match) -> str:
        name, argument = match.group(1), match.group(2).strip()
        if name not in MARKERS:
            raise ValueError(f"{source}: unknown docs-gen marker {name!r} ({', '.join(MARKERS)})")
        return MARKERS[name](catalog, argument, source)

    return _MARKER.sub(replace, markdown)
