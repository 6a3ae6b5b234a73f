"""The survey as data: methods, papers and literature names mapped onto the framework's axes.

    >>> from reprogrammability.catalog import Catalog
    >>> catalog = Catalog.load()
    >>> [m.id for m in catalog.query(location="hidden", configuration="fixed")][:2]
    ['activation-addition', 'function-vector']

Importing this package is cheap (no torch, no networkx): names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Catalog": ".loader",
    "Resolution": ".loader",
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
    "query": ".query",
    "export": ".export",
    "write_export": ".export",
    "EXPORT_FORMATS": ".export",
    "build_graph": ".graph",
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
