"""Export the catalog as JSON, CSV, BibTeX, Mermaid or GraphML text.

``export(catalog, fmt)`` returns the text; ``write_export(catalog, fmt, path, force=False)`` writes
it and refuses to overwrite an existing file unless ``force`` is given. Only ``graphml`` imports
networkx.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Union

from .bibtex import bibtex_key, to_bibtex  # BibTeX through bibtexparser (re-exported here)
from .models import AXIS_FIELDS, MethodEntry, PaperEntry

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = [
    "EXPORT_FORMATS",
    "export",
    "write_export",
    "check_output",
    "to_json",
    "to_csv",
    "to_bibtex",
    "to_mermaid",
    "to_graphml",
    "bibtex_key",
    "CSV_COLUMNS",
]

EXPORT_FORMATS = ("json", "csv", "bibtex", "mermaid", "graphml")
"""Formats accepted by :func:`export` and ``nnr catalog export --format``."""

EXTENSIONS = {"json": ".json", "csv": ".csv", "bibtex": ".bib", "mermaid": ".mmd", "graphml": ".graphml"}


# --- JSON ---------------------------------------------------------------------------------------------


def entry_dict(entry: Any) -> dict[str, Any]:
    """An entry as the dict of its YAML fields (coordinates always as lists)."""
    document: dict[str, Any] = entry.model_dump(mode="json")
    return document


def to_json(catalog: "CatalogData") -> str:
    """``{"methods": [...], "papers": [...], "glossary": [...], "excluded": [...]}`` with the YAML field names."""
    document = {
        "methods": [entry_dict(m) for m in catalog.methods.values()],
        "papers": [entry_dict(p) for p in catalog.papers.values()],
        "glossary": [t.model_dump(mode="json") for t in catalog.glossary],
        "excluded": [e.model_dump(mode="json") for e in catalog.excluded],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- CSV ----------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "kind",
    "name",
    "acronym",
    "paradigm",
    "modality",
    "task_modality",
    *AXIS_FIELDS,
    "access",
    "f_weights",
    "program",
    "readout",
    "year",
    "first_public",
    "venue",
    "title",
    "authors",
    "arxiv",
    "url",
    "implementation",
    "methods",
    "paper_kind",
)


def _join(values: Iterable[Any]) -> str:
    return "+".join(getattr(v, "value", str(v)) for v in values)


def csv_row(entry: Union[MethodEntry, PaperEntry]) -> dict[str, Any]:
    bib = entry.bibliography
    row = {
        "id": entry.id,
        "kind": "method" if isinstance(entry, MethodEntry) else "paper",
        "name": entry.name,
        "acronym": getattr(entry, "acronym", None) or "",
        "paradigm": _join(entry.paradigms),
        "modality": entry.modality.value,
        "task_modality": entry.task_modality.value if entry.task_modality else "",
        "access": (entry.access if isinstance(entry, MethodEntry) else entry.resolved_access).value,
        "f_weights": entry.f_weights.value,
        "program": _join(getattr(entry, "program", None) or ()),
        "readout": _join(getattr(entry, "readout", None) or ()),
        "year": bib.year,
        "first_public": bib.first_public.isoformat() if bib.first_public else "",
        "venue": bib.venue,
        "title": bib.title,
        "authors": "; ".join(bib.authors),
        "arxiv": bib.arxiv or "",
        "url": bib.url or "",
        "implementation": getattr(entry, "implementation", ""),
        "methods": "; ".join(getattr(entry, "methods", [])),
        "paper_kind": entry.kind.value if isinstance(entry, PaperEntry) else "",
    }
    for axis in AXIS_FIELDS:
        row[axis] = _join(getattr(entry.coordinates, axis))
    return row


def to_csv(catalog: "CatalogData") -> str:
    """One row per method and per paper; several values joined with ``+``, authors with ``; ``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for entry in catalog.entries():
        writer.writerow(csv_row(entry))
    return buffer.getvalue()


# --- Mermaid ------------------------------------------------------------------------------------------


def _mermaid_id(entry_id: str) -> str:
    return "m_" + entry_id.replace("-", "_")


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(catalog: "CatalogData") -> str:
    """A Mermaid flowchart: one subgraph per paradigm, one node per method, one arrow per relation."""
    lines = ["flowchart LR"]
    by_paradigm: dict[str, list[MethodEntry]] = {}
    for method in catalog.methods.values():
        by_paradigm.setdefault(method.paradigm.value, []).append(method)
    for paradigm, methods in sorted(by_paradigm.items()):
        lines.append(f'  subgraph {paradigm.replace("-", "_")}["{paradigm}"]')
        for method in methods:
            label = f"{method.label} ({method.year})<br/>{method.coordinates}"
            lines.append(f'    {_mermaid_id(method.id)}["{_mermaid_label(label)}"]')
        lines.append("  end")
    for method in catalog.methods.values():
        for relation in method.relations:
            lines.append(f"  {_mermaid_id(method.id)} -->|{relation.type.value}| {_mermaid_id(relation.target)}")
    return "\n".join(lines) + "\n"


# --- GraphML ------------------------------------------------------------------------------------------


def to_graphml(catalog: "CatalogData") -> str:
    """The graph of :meth:`Catalog.graph` (methods, papers, axis values, relations) as GraphML."""
    import networkx as nx

    from .graph import build_graph

    return "\n".join(nx.generate_graphml(build_graph(catalog))) + "\n"


# --- dispatch -----------------------------------------------------------------------------------------

_WRITERS = {"json": to_json, "csv": to_csv, "bibtex": to_bibtex, "mermaid": to_mermaid, "graphml": to_graphml}


def export(catalog: "CatalogData", fmt: str) -> str:
    """The catalog as text in ``fmt``, one of :data:`EXPORT_FORMATS`."""
    if fmt not in _WRITERS:
        raise ValueError(f"format: {fmt!r} is not one of {list(EXPORT_FORMATS)}")
    return _WRITERS[fmt](catalog)


def check_output(path: Union[str, Path], *, force: bool = False) -> Path:
    """``path`` as a file to write, or a clear error: empty, a folder, an existing file without ``force``,
    or a parent that is a file."""
    if not str(path).strip():
        raise ValueError("output: an empty path; give a file name such as catalog.json")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"output: {path} is a folder; give a file name inside it (e.g. {path / 'catalog.json'})"
        )
    if path.exists() and not force:
        raise FileExistsError(f"output: {path} already exists; pass force=True (--force) to overwrite it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"output: {parent} is a file, so {path} cannot be created")
            break
    return path


def write_export(catalog: "CatalogData", fmt: str, path: Union[str, Path], *, force: bool = False) -> Path:
    """Write :func:`export` to ``path`` atomically; an existing file is only replaced with ``force=True``."""
    import os
    import tempfile

    path = check_output(path, force=force)
    text = export(catalog, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        if force:
            os.replace(tmp, path)
        else:  # refuse, never overwrite, a file that appeared meanwhile
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                if path.exists():
                    raise FileExistsError(str(path)) from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise FileExistsError(f"output: {path} already exists; pass force=True (--force) to overwrite it") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
