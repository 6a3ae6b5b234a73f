"""Compare the catalog with the survey's own classified list (shipped in ``catalog/survey/``).

``crosscheck()`` returns one :class:`CrosscheckRow` per place where the survey's data and ours
differ: their list breaking its own schema, a different label on an axis, a different year or
arXiv id, an item we excluded, and (never, if the catalog is complete) an item we lack. Every row
carries the reason; ``crosscheck_markdown()`` renders the rows as a documentation page with the
CC-BY-4.0 attribution the survey's data requires.

The survey's files are read only here; the catalog itself never depends on them at run time. They
are package data (CC BY 4.0, see ``survey/ATTRIBUTION.md``), so the cross-check works from a clone
and from an installed wheel.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

import yaml

from ..framework.axes import Paradigm
from .errors import CatalogError
from .loader import CATALOG_ROOT
from .models import AXIS_FIELDS, ExcludedItem, PaperEntry, RationaleField

if TYPE_CHECKING:  # pragma: no cover
    from .loader import Catalog

__all__ = [
    "CrosscheckRow",
    "crosscheck",
    "crosscheck_markdown",
    "default_survey_path",
    "normalise_their_value",
    "ATTRIBUTION",
]

ATTRIBUTION = (
    "The survey's list (`awesome-papers.yaml`, `awesome-schema.paper.yaml` and the `.bib` files) comes from "
    "the public repository [zyecs/awesome-reprogrammability](https://github.com/zyecs/awesome-reprogrammability), "
    "© its contributors, licensed under [Creative Commons Attribution 4.0 International (CC BY 4.0)]"
    "(https://creativecommons.org/licenses/by/4.0/). We quote its values unchanged in the *theirs* column; "
    "`methods.yaml` is the longer companion list gathered for this project from the same sources. "
    "The survey is Ye, Cai, Dong, Qi, Feng, Chen and Liu, *Neural Network Reprogrammability: A Unified Theme on "
    "Model Reprogramming, Prompt Tuning, and Prompt Instruction* (arXiv 2506.04650, 2025)."
)

AWESOME = "awesome-papers.yaml"
AWESOME_SCHEMA = "awesome-schema.paper.yaml"
METHODS = "methods.yaml"
BIBS = ("model_reprogramming.bib", "prompt_tuning.bib", "prompt_instructions.bib")

CATEGORIES = ("coverage", "schema", "label", "bibliographic", "duplicate")


@dataclass(frozen=True)
class CrosscheckRow:
    """One difference between the survey's data and the catalog."""

    item: str
    """The survey item (its title as they give it)."""
    source: str
    """The survey file it comes from (with the entry's position)."""
    field: str
    theirs: str
    ours: str
    reason: str
    category: str
    """coverage, schema, label, bibliographic or duplicate."""
    entry: Optional[str] = None
    """Our catalog id, when the item is catalogued."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_survey_path() -> Path:
    """The survey's data shipped with the package: ``survey/`` inside the catalog."""
    return CATALOG_ROOT / "survey"


# --- their vocabulary ----------------------------------------------------------------------------------

_THEIR_VOCABULARY: dict[str, dict[str, str]] = {
    "location": {
        "input": "input",
        "input-layer": "input",
        "input-layers": "input",
        "input-space": "input",
        "input-level": "input",
        "embedding": "embedding",
        "embedding-layer": "embedding",
        "embedding-level": "embedding",
        "embedding-layers": "embedding",
        "hidden": "hidden",
        "intermediate": "hidden",
        "intermediate-layers": "hidden",
        "intermediate-layer": "hidden",
    },
    "operator": {
        "addition": "additive",
        "add": "additive",
        "additive": "additive",
        "concatenation": "concatenative",
        "concat": "concatenative",
        "concatenative": "concatenative",
        "parametric": "parametric",
    },
    "alignment": {
        "identity": "identity",
        "identitity": "identity",
        "rule-based": "rule-based",
        "rule": "rule-based",
        "statistical": "statistical",
        "linear": "linear",
        "linear alignment": "linear",
    },
    "paradigm": {
        "model-reprogramming": "model-reprogramming",
        "adversarial-reprogramming": "model-reprogramming",
        "input-space-transformation": "model-reprogramming",
        "input-mapping": "model-reprogramming",
        "prompt-tuning": "prompt-tuning",
        "soft-prompts": "prompt-tuning",
        "prompt-instruction": "prompt-instruction",
        "hard-prompts": "prompt-instruction",
        "context-learning": "prompt-instruction",
        "task-instructions": "prompt-instruction",
        "few-shot-examples": "prompt-instruction",
        "chain-of-thought": "prompt-instruction",
    },
}


def normalise_their_value(field: str, value: Any) -> tuple[Optional[frozenset[str]], list[str]]:
    """Their value (``"input-layer / embedding"``) as a set of our values, and the parts we could not read."""
    if value is None:
        return None, []
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    else:
        parts = [p for p in re.split(r"\s*/\s*", str(value)) if p]
    vocabulary = _THEIR_VOCABULARY.get(field)
    found: set[str] = set()
    unknown: list[str] = []
    for part in parts:
        key = part.strip().lower()
        if vocabulary is None:
            found.add(key)
        elif key in vocabulary:
            found.add(vocabulary[key])
        else:
            unknown.append(part)
    return frozenset(found), unknown


def _configuration_from_mechanism(paradigms: frozenset[str]) -> frozenset[str]:
    """Their site shows a configuration derived from the mechanism: prompt instruction -> fixed, else learnable."""
    return frozenset("fixed" if p == Paradigm.PROMPT_INSTRUCTION.value else "learnable" for p in paradigms)


# --- their schema ----------------------------------------------------------------------------------------

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")


def _schema_problems(item: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """``(field, value, problem)`` for each way ``item`` breaks their paper schema (the subset it uses)."""
    problems: list[tuple[str, Any, str]] = []
    for name in schema.get("required", []):
        if name not in item or item[name] in (None, ""):
            problems.append((name, None, "a required field is missing"))
    for name, rule in (schema.get("properties") or {}).items():
        if name not in item or item[name] is None:
            continue
        value = item[name]
        kind = rule.get("type")
        if kind == "string" and not isinstance(value, str):
            problems.append((name, value, f"must be a string, not {type(value).__name__}"))
            continue
        if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append((name, value, "must be an integer"))
            continue
        if kind == "array" and not isinstance(value, list):
            problems.append((name, value, "must be a list"))
            continue
        if "enum" in rule and value not in rule["enum"]:
            problems.append((name, value, f"is not one of their schema's values {rule['enum']}"))
        if rule.get("format") == "uri" and isinstance(value, str) and not _URI.match(value):
            problems.append((name, value, "is not a URI"))
        if isinstance(value, int) and not isinstance(value, bool):
            if "minimum" in rule and value < rule["minimum"]:
                problems.append((name, value, f"is below their minimum {rule['minimum']}"))
            if "maximum" in rule and value > rule["maximum"]:
                problems.append((name, value, f"is above their maximum {rule['maximum']}"))
    return problems


# --- matching --------------------------------------------------------------------------------------------

_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([0-9]{4}\.[0-9]+)(?:v\d+)?(?:\.pdf)?", re.I)


def _title_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def _arxiv_problem(arxiv: str) -> Optional[str]:
    match = re.fullmatch(r"(\d{2})(\d{2})\.(\d+)", arxiv)
    if not match:
        return "is not an arXiv identifier"
    year, month, number = int(match.group(1)), int(match.group(2)), match.group(3)
    if not 1 <= month <= 12:
        return "has no valid month"
    expected = 5 if (year, month) >= (15, 1) else 4
    if len(number) != expected:
        return f"is truncated or malformed: identifiers from {2000 + year} have {expected} digits after the dot"
    return None


class _Index:
    def __init__(self, catalog: "Catalog"):
        self.by_arxiv: dict[str, Any] = {}
        self.by_title: dict[str, Any] = {}
        entries: list[Any] = [*catalog.methods.values(), *catalog.papers.values()]
        for entry in entries:
            bib = entry.bibliography
            if bib.arxiv:
                self.by_arxiv.setdefault(bib.arxiv, entry)
            self.by_title.setdefault(_title_key(bib.title), entry)
            for alias in getattr(entry, "aliases", []) if isinstance(entry, PaperEntry) else []:
                self.by_title.setdefault(_title_key(alias), entry)
        for item in catalog.excluded:
            if item.arxiv:
                self.by_arxiv.setdefault(item.arxiv, item)
            self.by_title.setdefault(_title_key(item.title), item)

    def find(self, arxiv: Optional[str], title: str) -> Any:
        if arxiv and arxiv in self.by_arxiv:
            return self.by_arxiv[arxiv]
        key = _title_key(title)
        if key in self.by_title:
            return self.by_title[key]
        close = difflib.get_close_matches(key, list(self.by_title), n=1, cutoff=0.88)
        return self.by_title[close[0]] if close else None


# --- reasons -------------------------------------------------------------------------------------------


def _rationale(entry: Any, field: str) -> str:
    rationale = getattr(entry, "rationale", {}) or {}
    try:
        reason: str = rationale.get(RationaleField(field), "")
        return reason
    except ValueError:
        return ""


def _year_reason(entry: Any, theirs: Any) -> str:
    explicit = _rationale(entry, "year")
    if explicit:
        return explicit
    bib = entry.bibliography
    arxiv_year = 2000 + int(bib.arxiv[:2]) if bib.arxiv else None
    if arxiv_year is not None and theirs == arxiv_year and bib.venue.lower() != "arxiv":
        return f"theirs is the year of the arXiv preprint ({bib.arxiv}); ours is the year of the venue ({bib.venue})"
    if arxiv_year is not None and bib.year == arxiv_year and bib.venue.lower() == "arxiv":
        return f"the paper is an arXiv preprint ({bib.arxiv}) without a later venue we could verify"
    return ""


def _ours(entry: Any, field: str) -> frozenset[str]:
    if field == "paradigm":
        return frozenset(p.value for p in entry.paradigms)
    return frozenset(v.value for v in getattr(entry.coordinates, field))


def _show(values: Optional[Iterable[str]]) -> str:
    if values is None:
        return "—"
    return " + ".join(sorted(values)) or "—"


# --- the cross-check -------------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise CatalogError(str(path), "<document>", f"cannot read the survey file: {error}") from None


def _parse_bib(text: str) -> list[dict[str, str]]:
    """Entries of a small, well-formed BibTeX file as ``{"key", "type", "title", "year", ...}``."""
    entries = []
    for match in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", text, re.S):
        fields = {"type": match.group(1).lower(), "key": match.group(2)}
        for name, value in re.findall(r"(\w+)\s*=\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\d+)", match.group(3)):
            fields[name.lower()] = value.strip("{}").strip()
        entries.append(fields)
    return entries


def _compare_labels(
    rows: list[CrosscheckRow],
    entry: Any,
    item_title: str,
    source: str,
    theirs: dict[str, Optional[frozenset[str]]],
    configuration_derived: bool,
) -> None:
    if isinstance(entry, ExcludedItem):
        return
    for field in ("paradigm", *AXIS_FIELDS):
        value = theirs.get(field)
        if value is None or not value:
            continue
        ours = _ours(entry, field)
        if value == ours:
            continue
        reason = _rationale(entry, field)
        if field == "configuration" and configuration_derived:
            prefix = (
                "their list has no configuration field; their site derives it from the mechanism "
                "(prompt instruction = fixed, otherwise learnable)"
            )
            reason = f"{prefix}. {reason or _rationale(entry, 'paradigm')}".strip()
            if not (_rationale(entry, "configuration") or _rationale(entry, "paradigm")):
                reason = ""
        rows.append(CrosscheckRow(item_title, source, field, _show(value), _show(ours), reason, "label", entry.id))


def crosscheck(catalog: Optional["Catalog"] = None, survey: Union[str, Path, None] = None) -> list[CrosscheckRow]:
    """Every difference between the survey's data (``survey``, default :func:`default_survey_path`) and ours."""
    if catalog is None:
        from .loader import Catalog

        catalog = Catalog.load()
    base = Path(survey) if survey is not None else default_survey_path()
    if not (base / AWESOME).exists():
        raise FileNotFoundError(f"survey: no {AWESOME} in {base} (pass the path of the survey's data)")
    index = _Index(catalog)
    rows: list[CrosscheckRow] = []

    # 1. the public list and its schema
    schema = _load(base / AWESOME_SCHEMA) if (base / AWESOME_SCHEMA).exists() else {}
    items = _load(base / AWESOME) or []
    seen: dict[str, tuple[int, Any]] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        title = str(item.get("title", f"entry {position}"))
        source = f"{AWESOME} #{position + 1}"
        url = str(item.get("url") or "")
        match = _ARXIV_URL.search(url)
        arxiv = match.group(1) if match else None
        entry = index.find(arxiv if arxiv and not _arxiv_problem(arxiv) else None, title)
        entry_id = getattr(entry, "id", None)
        for field, value, problem in _schema_problems(item, schema):
            ours = "—"
            catalogued = entry is not None and not isinstance(entry, ExcludedItem)
            if catalogued and field in ("location", "operator", "alignment"):
                ours = _show(_ours(entry, field))
            elif catalogued and field == "mechanism":
                ours = _show(_ours(entry, "paradigm"))
            read, unknown = normalise_their_value("paradigm" if field == "mechanism" else field, value)
            how = (
                f"; we read it as {_show(read)}"
                if read and not unknown
                else (f"; {unknown} is not a value of this axis in any vocabulary" if unknown else "")
            )
            rows.append(
                CrosscheckRow(title, source, field, str(value), ours, f"their value {problem}{how}", "schema", entry_id)
            )
        if arxiv and _arxiv_problem(arxiv):
            ours_arxiv = getattr(getattr(entry, "bibliography", None), "arxiv", None) if entry is not None else None
            rows.append(
                CrosscheckRow(
                    title,
                    source,
                    "arxiv",
                    arxiv,
                    ours_arxiv or "—",
                    f"their arXiv link {_arxiv_problem(arxiv)}; "
                    + (_rationale(entry, "arxiv") or "matched by title instead"),
                    "bibliographic",
                    entry_id,
                )
            )
        if entry is None:
            rows.append(CrosscheckRow(title, source, "inclusion", "listed", "missing", "", "coverage"))
            continue
        if isinstance(entry, ExcludedItem):
            rows.append(
                CrosscheckRow(
                    title, source, "inclusion", "listed", f"excluded ({entry.category.value})", entry.reason, "coverage"
                )
            )
            continue
        key = entry.id
        if key in seen:
            first_position, first_item = seen[key]
            rows.append(
                CrosscheckRow(
                    title,
                    source,
                    "duplicate",
                    f"also entry #{first_position + 1}",
                    entry.id,
                    "their list has this paper twice"
                    + (
                        " with different labels"
                        if {k: first_item.get(k) for k in ("location", "operator", "alignment")}
                        != {k: item.get(k) for k in ("location", "operator", "alignment")}
                        else ""
                    )
                    + "; we keep one entry and compare both against it",
                    "duplicate",
                    entry.id,
                )
            )
        seen.setdefault(key, (position, item))
        paradigms, _ = normalise_their_value("paradigm", item.get("mechanism"))
        theirs = {
            "paradigm": paradigms,
            "configuration": _configuration_from_mechanism(paradigms) if paradigms else None,
        }
        for field in ("location", "operator", "alignment"):
            values, unknown = normalise_their_value(field, item.get(field))
            theirs[field] = values if values and not unknown else None
        _compare_labels(rows, entry, title, source, theirs, configuration_derived=True)
        their_year = item.get("year")
        if isinstance(their_year, int) and their_year != entry.bibliography.year:
            rows.append(
                CrosscheckRow(
                    title,
                    source,
                    "year",
                    str(their_year),
                    str(entry.bibliography.year),
                    _year_reason(entry, their_year),
                    "bibliographic",
                    entry.id,
                )
            )

    # 2. the longer companion list (methods.yaml)
    if (base / METHODS).exists():
        for position, item in enumerate(_load(base / METHODS) or []):
            if not isinstance(item, dict):
                continue
            title = str(item.get("name", f"entry {position}"))
            source = f"{METHODS} #{position + 1}"
            arxiv = str(item.get("arxiv") or "").strip() or None
            clean = arxiv if arxiv and re.fullmatch(r"\d{4}\.\d{4,5}", arxiv) and not _arxiv_problem(arxiv) else None
            entry = index.find(clean, title)
            if arxiv and not clean:
                ours_arxiv = getattr(getattr(entry, "bibliography", None), "arxiv", None) if entry is not None else None
                rows.append(
                    CrosscheckRow(
                        title,
                        source,
                        "arxiv",
                        arxiv,
                        ours_arxiv or "—",
                        "their arXiv id is marked unverified or malformed; "
                        + (_rationale(entry, "arxiv") or "matched by title instead"),
                        "bibliographic",
                        getattr(entry, "id", None),
                    )
                )
            if entry is None:
                rows.append(CrosscheckRow(title, source, "inclusion", "listed", "missing", "", "coverage"))
                continue
            if isinstance(entry, ExcludedItem):
                rows.append(
                    CrosscheckRow(
                        title,
                        source,
                        "inclusion",
                        "listed",
                        f"excluded ({entry.category.value})",
                        entry.reason,
                        "coverage",
                    )
                )
                continue
            theirs = {}
            paradigms, _ = normalise_their_value("paradigm", item.get("paradigm"))
            theirs["paradigm"] = paradigms
            for field in AXIS_FIELDS:
                labels = [str(v) for v in (item.get(field) or [])]
                if field == "configuration" and "hybrid" in labels:  # their word for "part fixed, part learned"
                    labels = [v for v in labels if v != "hybrid"] + ["fixed", "learnable"]
                theirs[field] = frozenset(labels) if labels else None
            _compare_labels(rows, entry, title, source, theirs, configuration_derived=False)
            their_year = item.get("year")
            if isinstance(their_year, int) and their_year != entry.bibliography.year:
                rows.append(
                    CrosscheckRow(
                        title,
                        source,
                        "year",
                        str(their_year),
                        str(entry.bibliography.year),
                        _year_reason(entry, their_year),
                        "bibliographic",
                        entry.id,
                    )
                )

    # 3. the bibliographies
    for name in BIBS:
        path = base / name
        if not path.exists():
            continue
        for bib in _parse_bib(path.read_text(encoding="utf-8")):
            title = bib.get("title", bib["key"])
            source = f"{name} @{bib['key']}"
            arxiv_match = re.search(r"arXiv:(\d{4}\.\d+)", bib.get("journal", ""))
            arxiv = arxiv_match.group(1) if arxiv_match and not _arxiv_problem(arxiv_match.group(1)) else None
            entry = index.find(arxiv, title)
            if entry is None:
                rows.append(CrosscheckRow(title, source, "inclusion", "listed", "missing", "", "coverage"))
                continue
            if isinstance(entry, ExcludedItem):
                rows.append(
                    CrosscheckRow(
                        title,
                        source,
                        "inclusion",
                        "listed",
                        f"excluded ({entry.category.value})",
                        entry.reason,
                        "coverage",
                    )
                )
                continue
            year = bib.get("year", "")
            if year.isdigit() and int(year) != entry.bibliography.year:
                rows.append(
                    CrosscheckRow(
                        title,
                        source,
                        "year",
                        year,
                        str(entry.bibliography.year),
                        _year_reason(entry, int(year)),
                        "bibliographic",
                        entry.id,
                    )
                )
    return rows


# --- rendering -------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def crosscheck_markdown(
    rows: Optional[list[CrosscheckRow]] = None, *, title: str = "Our labels and the survey's"
) -> str:
    """The cross-check as a Markdown page (summary, one table per category, and the CC-BY-4.0 attribution)."""
    rows = crosscheck() if rows is None else rows
    counts = {category: sum(r.category == category for r in rows) for category in CATEGORIES}
    lines = [
        f"# {title}",
        "",
        "Where the survey's own classified list and this catalog differ, and why. Their vocabulary is read "
        "into ours first (`input-layer` is `input`, `concat` is `concatenative`), so only real differences "
        "remain; values that break their own schema are listed as such.",
        "",
        "| category | rows |",
        "|---|---|",
        *[f"| {category} | {count} |" for category, count in counts.items()],
        "",
    ]
    headings = {
        "coverage": "Items we excluded or lack",
        "schema": "Values outside their own schema",
        "label": "Different labels on the axes",
        "bibliographic": "Different years and arXiv identifiers",
        "duplicate": "Duplicates in their list",
    }
    for category in CATEGORIES:
        selected = [r for r in rows if r.category == category]
        if not selected:
            continue
        lines += [
            f"## {headings[category]}",
            "",
            "| item | source | field | theirs | ours | reason |",
            "|---|---|---|---|---|---|",
        ]
        for row in selected:
            item = f"{row.item} (`{row.entry}`)" if row.entry else row.item
            lines.append(
                f"| {_cell(item)} | {_cell(row.source)} | {_cell(row.field)} | {_cell(row.theirs)} | "
                f"{_cell(row.ours)} | {_cell(row.reason or 'NO REASON RECORDED')} |"
            )
        lines.append("")
    lines += ["## Attribution", "", ATTRIBUTION, ""]
    return "\n".join(lines)
