"""Pages of the documentation site that are generated at build time (used by ``docs/hooks.py``).

``mkdocs build`` calls :func:`~.site.generate_site`, which returns ``{path inside docs/: content}`` for

* ``methods/<id>.md``: one page per catalog method, from its YAML (coordinates, paper, relations,
  rationale) and from its reference implementation: the registered ``example()`` is built on a tiny
  model and the page shows ``reprogrammer.latex()`` and ``symbolic_parameter_count()`` (sympy), the
  config fields, and a usage snippet that the tests execute (:func:`~.pages.methods.usage_snippet`);
* ``methods/index.md``, ``catalog/papers.md`` (client-side filters), ``catalog/glossary.md``,
  ``catalog/taxonomy.md`` with two SVG figures drawn with matplotlib from the catalog's networkx
  graph, ``catalog/crosscheck.md`` (the survey cross-check with its CC-BY-4.0 attribution);
* ``results/index.md`` from ``benchmarks/results/*.{json,md,png}`` ("not yet run" otherwise);
* ``reference/*.md``: the API reference, rendered by mkdocstrings from the docstrings.

Static pages under ``docs/`` may contain markers ``<!-- docs-gen: NAME [ARG] -->`` that
:func:`~.markers.expand_markers` replaces (axis tables, spec rules, catalog counts).

Math is written as ``$...$`` / ``$$...$$`` (pymdownx.arithmatex, generic mode) and converted to
MathML at build time by :func:`~.mathml.render_math` (``latex2mathml``): pages need no JavaScript and no
network to show formulas; browsers render MathML natively.

The symbolic forms come from the implementations, which import torch: :mod:`.symbolic` computes
them in worker processes and caches them. Importing this package does not import torch.

Layout: one module per page kind in :mod:`.pages` (``methods``, ``catalog``, ``figures``, ``results``,
``reference``), each with ``pages(site)``, found by :func:`.site.generate_site` by itself; shared
helpers in :mod:`.common`, :mod:`.mathml`, :mod:`.markers`, :mod:`.code_blocks`, :mod:`.import_graph`.
"""

from __future__ import annotations

from .code_blocks import CodeBlock, extract_python_blocks
from .common import (
    AXES,
    AXIS_LATEX,
    AXIS_SYMBOL,
    PARADIGM_COLOURS,
    RELATION_COLOURS,
    REPO_ROOT,
    Content,
    cell,
    glossary_names,
    relative_link,
    table_latex,
)
from .import_graph import import_closure
from .markers import MARKERS, axis_section, expand_markers, spec_rules_section, stats_section
from .mathml import latex_to_mathml, render_math, strip_sphinx_roles
from .pages.catalog import crosscheck_page, glossary_page, papers_page, taxonomy_page
from .pages.figures import coordinates_svg, lineage_svg
from .pages.methods import method_page, methods_index, usage_snippet
from .pages.reference import api_source_tree, reference_pages
from .pages.results import results_pages
from .site import Site, generate_site, page_kinds
from .symbolic import method_cache_key, symbolic_forms, symbolic_of

__all__ = [
    "AXES",
    "AXIS_LATEX",
    "AXIS_SYMBOL",
    "MARKERS",
    "PARADIGM_COLOURS",
    "RELATION_COLOURS",
    "REPO_ROOT",
    "CodeBlock",
    "Content",
    "Site",
    "api_source_tree",
    "axis_section",
    "cell",
    "coordinates_svg",
    "crosscheck_page",
    "expand_markers",
    "extract_python_blocks",
    "generate_site",
    "glossary_names",
    "glossary_page",
    "import_closure",
    "latex_to_mathml",
    "lineage_svg",
    "method_cache_key",
    "method_page",
    "methods_index",
    "page_kinds",
    "papers_page",
    "reference_pages",
    "relative_link",
    "render_math",
    "results_pages",
    "spec_rules_section",
    "stats_section",
    "strip_sphinx_roles",
    "symbolic_forms",
    "symbolic_of",
    "table_latex",
    "taxonomy_page",
    "usage_snippet",
]
