"""JSON Schemas of the catalog files, generated from the pydantic models, for contributors and editors.

``write_schemas()`` regenerates ``catalog/schema/*.json``; ``stale_schemas()`` lists the files that
differ from what the models generate (a test keeps them in sync). Regenerate with::

    python -c "from reprogrammability.catalog.schema import write_schemas; write_schemas()"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from pydantic import TypeAdapter

from .models import ExcludedItem, GlossaryTerm, MethodEntry, PaperEntry, ParameterCentricTerm

__all__ = ["SCHEMA_DIR", "schema_documents", "schema_text", "write_schemas", "stale_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_BASE = "https://reprogrammability.invalid/catalog/schema/"


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) for each kind of catalog file."""
    specs: dict[str, tuple[Any, str]] = {
        "method.schema.json": (MethodEntry, "A method: one file catalog/methods/<id>.yaml"),
        "papers.schema.json": (list[PaperEntry], "A list of papers: catalog/papers/*.yaml"),
        "glossary.schema.json": (list[GlossaryTerm], "Literature names: catalog/glossary.yaml"),
        "excluded.schema.json": (list[ExcludedItem], "Survey items left out: catalog/excluded.yaml"),
        "parameter-centric.schema.json": (
            list[ParameterCentricTerm],
            "Names of parameter-centric adaptation: catalog/parameter-centric.yaml",
        ),
    }
    documents = {}
    for name, (model, title) in specs.items():
        schema = TypeAdapter(model).json_schema(mode="validation")
        documents[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": _BASE + name,
            **schema,
            "title": title,
        }
    return documents


def schema_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def write_schemas(directory: Optional[Path] = None) -> list[Path]:
    """Write every schema document to ``directory`` (default ``catalog/schema``); returns the paths."""
    directory = Path(directory) if directory is not None else SCHEMA_DIR
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = directory / name
        path.write_text(schema_text(document), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Optional[Path] = None) -> list[str]:
    """Names of schema files that are missing or differ from the models (empty when in sync)."""
    directory = Path(directory) if directory is not None else SCHEMA_DIR
    stale = []
    for name, document in schema_documents().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != schema_text(document):
            stale.append(name)
    return stale
