"""The survey as data: methods, papers and literature names mapped onto the framework's axes.

    >>> from reprogrammability.catalog import Catalog
    >>> catalog = Catalog.load()
    >>> [m.id for m in catalog.query(location="hidden", configuration="fixed")][:2]
    ['activation-addition', 'function-vector']

Importing this package is cheap (no torch, no networkx): names load on first use.

Layout (all committed data, validated by :mod:`.models`, JSON Schemas in ``schema/``):

* ``methods/<id>.yaml``: one method; the file name is the id; ``implementation`` is
  ``reprogrammability.implementations.<family>.<id with _>:build`` and its ``@register_method``
  declaration must match (``Catalog.check_implementation(entry)``);
* ``papers/*.yaml``: lists of papers that apply, analyse or extend the methods, grouped by theme;
* ``glossary.yaml``: literature names and their senses (coordinates + methods);
* ``parameter-centric.yaml``: names of parameter-centric adaptation (LoRA, adapters, fine-tuning),
  which change f's weights, with their nearest reprogramming relatives;
* ``excluded.yaml``: survey items left out, with the reason.

``nnr catalog check`` (no argument) runs the whole-catalog checks of :mod:`.checks`: relations run
forward in time (``paper.first_public``), every method is reached by the glossary, and τ and ω follow
from each entry's ``program`` and ``readout`` by the rules of :mod:`.rules`.

Adding a method: copy a neighbouring ``methods/*.yaml``; give one value per coordinate, or a list
where the method really acts at several; quote arXiv ids (``'2101.00190'``) and never guess one;
state ``program`` and ``readout`` (what I does, how f is read; τ and ω follow from them);
write the summary in your own words; put the reason for any non-obvious label (or any label that
differs from the survey's list, see ``nnr catalog crosscheck``) under ``rationale``; run
``pytest tests/test_catalog*.py``. After changing :mod:`.models`, regenerate the schemas with
``python -c "from reprogrammability.catalog.schema import write_schemas; write_schemas()"``.
Errors name the file and the field, e.g. ``methods/bar.yaml: coordinates.operator (entry 'bar'):
'multiplicative' is not one of 'additive', 'concatenative' or 'parametric'``.

Modules run one way: :mod:`.models` (entries) → :mod:`.parsing` (YAML with limits) and :mod:`.data`
(``CatalogData``, the validated whole) → functions over it (:mod:`.query`, :mod:`.resolve`,
:mod:`.graph`, :mod:`.export`, :mod:`.checks`, :mod:`.bibtex`) → :mod:`.loader` (``Catalog``, the
facade with ``load()`` and one-line methods).

Parsed YAML is cached in ``$REPROGRAMMABILITY_CACHE`` (default ``~/.cache/reprogrammability``, the
folder the model cache uses), keyed by a hash of the files' bytes and verified on every read, to
keep ``nnr catalog`` fast; ``REPROGRAMMABILITY_CATALOG_CACHE=0`` disables it.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Catalog": ".loader",
    "CatalogData": ".data",
    "Resolution": ".resolve",
    "CATALOG_ROOT": ".loader",
    "load_method_file": ".loader",
    "load_papers_file": ".loader",
    "check_implementation": ".loader",
    "CatalogError": ".errors",
    "MethodEntry": ".models",
    "PaperEntry": ".models",
    "GlossaryTerm": ".models",
    "GlossarySense": ".models",
    "ExcludedItem": ".models",
    "Coordinates": ".models",
    "Paper": ".models",
    "Relation": ".models",
    "RelationType": ".models",
    "PaperKind": ".models",
    "ParameterCentricTerm": ".models",
    "query": ".query",
    "export": ".export",
    "write_export": ".export",
    "EXPORT_FORMATS": ".export",
    "build_graph": ".graph",
    "check_catalog": ".checks",
    "Finding": ".checks",
    "read_bib": ".bibtex",
    "write_bib": ".bibtex",
    "paper_stubs": ".bibtex",
    "ProgramPart": ".models",
    "Readout": ".models",
    "crosscheck": ".crosscheck",
    "crosscheck_markdown": ".crosscheck",
    "write_schemas": ".schema",
    "schema_documents": ".schema",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
