"""What every generated page shares: the repository root, axis names and colours, links and table cells."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository checkout (``framework/``, ``catalog/``, ``implementations/``, ``docs/``, ``benchmarks/``)."""

AXES = ("configuration", "operator", "location", "alignment")
AXIS_SYMBOL = {"configuration": "λ", "operator": "τ", "location": "ℓ", "alignment": "ω"}
AXIS_LATEX = {"configuration": r"\lambda", "operator": r"\tau", "location": r"\ell", "alignment": r"\omega"}
PARADIGM_COLOURS = {"model-reprogramming": "#1f77b4", "prompt-tuning": "#d62728", "prompt-instruction": "#2ca02c"}
RELATION_COLOURS = {
    "extends": "#444444",
    "specialises": "#9467bd",
    "generalises": "#8c564b",
    "combines": "#ff7f0e",
    "variant-of": "#17becf",
}

Content = Union[str, bytes]


def relative_link(source: str, target: str) -> str:
    """The Markdown link from the page ``source`` to ``target`` (both paths inside ``docs/``)."""
    base = os.path.dirname(source)
    return os.path.relpath(target, base or ".").replace(os.sep, "/")


def method_link(source: str, method_id: str, label: Optional[str] = None) -> str:
    return f"[{label or method_id}]({relative_link(source, f'methods/{method_id}.md')})"


def axis_link(source: str, axis: str, value: str) -> str:
    return f"[{value}]({relative_link(source, f'axes/{axis}.md')}#{value})"


def cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def values_of(values: Iterable[Any]) -> list[str]:
    return [str(getattr(v, "value", v)) for v in values]


def short_authors(authors: list[str], limit: int = 3) -> str:
    names = [a for a in authors if a != "others"]
    short = [a.split(",")[0].strip() for a in names]
    etal = len(short) > limit or (authors and authors[-1] == "others")
    return ", ".join(short[:limit]) + (" et al." if etal else "")


def paper_url(paper: Any) -> Optional[str]:
    if getattr(paper, "url", None):
        return paper.url
    if getattr(paper, "arxiv", None):
        return f"https://arxiv.org/abs/{paper.arxiv}"
    if getattr(paper, "doi", None):
        return f"https://doi.org/{paper.doi}"
    return None


def slug(text: str) -> str:
    """The heading anchor Python-Markdown's toc extension makes (its default slugify)."""
    from markdown.extensions.toc import slugify

    return slugify(text, "-")


def table_latex(latex: str) -> str:
    """LaTeX safe inside a Markdown table cell: ``|`` would split the cell."""
    return latex.replace(r"\|", r"\Vert ").replace("|", r"\vert ")


def glossary_names(catalog: Any) -> dict[str, list[str]]:
    """Method id -> glossary terms that list it."""
    names: dict[str, list[str]] = {}
    for term in catalog.glossary:
        for method_id in term.methods:
            names.setdefault(method_id, []).append(term.term)
    return names


@dataclass(frozen=True)
class Site:
    """What a page kind may read: the catalog, the methods' symbolic forms, where the results are, a logger."""

    catalog: Any
    forms: dict[str, dict]
    results_dir: Path
    log: Optional[Callable[[str], None]] = None


PageKind = Callable[[Site], dict[str, Content]]
"""A function ``pages(site) -> {path inside docs/: text or bytes}``."""
