"""Load and validate the catalog: :class:`Catalog`, with query, resolve, lineage and implementation checks.

Every problem (bad YAML, unknown enum value, missing field, relation to an unknown id, duplicate id
or alias, an implementation whose declared coordinates differ) raises :class:`CatalogError`
naming the file and the field. Nothing here imports torch; ``graph()`` imports networkx when called.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, Union

import yaml
from pydantic import BaseModel, ValidationError

from .errors import CatalogError
from .models import (
    AXIS_FIELDS,
    ExcludedItem,
    FieldError,
    GlossaryTerm,
    MethodEntry,
    PaperEntry,
    normalise_name,
)

if TYPE_CHECKING:  # pragma: no cover
    import networkx

__all__ = [
    "CATALOG_ROOT",
    "Catalog",
    "Resolution",
    "check_implementation",
    "load_method_file",
    "load_papers_file",
    "load_glossary_file",
    "load_excluded_file",
    "parse_yaml",
]

CATALOG_ROOT = Path(__file__).resolve().parent
"""Where the committed catalog data lives (``methods/``, ``papers/``, ``glossary.yaml``, ``excluded.yaml``)."""

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Entry = Union[MethodEntry, PaperEntry]


# --- reading and validating single files ------------------------------------------------------------


def _display(path: Path, root: Optional[Path]) -> str:
    try:
        return str(path.resolve().relative_to((root or CATALOG_ROOT).resolve()))
    except (ValueError, OSError):
        return str(path)


def parse_yaml(text: Union[str, bytes], file: str) -> Any:
    """``yaml.safe_load`` that turns every failure into a :class:`CatalogError` naming ``file``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CatalogError(file, "<file>", f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CatalogError(file, "<document>", f"not valid YAML{where}: {error.problem or error}") from None
    except Exception as error:  # the YAML constructors raise ValueError, OverflowError, ... on odd scalars
        raise CatalogError(file, "<document>", f"not valid YAML: {type(error).__name__}: {error}") from None


def _read(path: Path, file: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CatalogError(file, "<file>", f"cannot be read: {error.strerror or error}") from None
    return parse_yaml(data, file)


def _loc_to_field(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _trim_loc(loc: Sequence[Any], data: Any) -> list:
    """Drop list indices that pydantic added to a scalar the YAML gave (``operator: x`` is read as ``[x]``)."""
    trimmed: list = []
    node = data
    for part in loc:
        if isinstance(part, int) and not isinstance(node, list):
            continue
        trimmed.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return trimmed


def _message(problem: dict) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; the allowed fields are in catalog/schema/)"
    if kind == "enum":
        expected = (problem.get("ctx") or {}).get("expected", "")
        return f"{problem.get('input')!r} is not one of {expected}"
    return problem["msg"]


def _from_validation_error(
    error: ValidationError, file: str, *, prefix: Sequence[Any] = (), entry: Optional[str] = None, data: Any = None
) -> CatalogError:
    """The first problem of a pydantic error as a :class:`CatalogError`; the rest are counted."""
    problems = error.errors(include_url=False)
    first = problems[0]
    loc = [*prefix, *_trim_loc(first["loc"], data)]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc = [*loc, *cause.field.replace("]", "").replace("[", ".").split(".")]
        loc = [int(p) if isinstance(p, str) and p.isdigit() else p for p in loc if p != ""]
        message = str(cause)
    else:
        message = _message(first)
    field_name = _loc_to_field(loc) or "<document>"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return CatalogError(file, field_name, message, entry=entry)


def _validate(model: type[BaseModel], data: Any, file: str, *, prefix: Sequence[Any] = ()) -> Any:
    entry = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    if not isinstance(data, dict):
        where = _loc_to_field(prefix) or "<document>"
        raise CatalogError(file, where, f"expected a mapping of fields, got {type(data).__name__}", entry=entry)
    try:
        validated = model.model_validate(data)
    except ValidationError as error:
        raise _from_validation_error(error, file, prefix=prefix, entry=entry, data=data) from None
    except FieldError as error:  # raised outside pydantic's wrapping (defensive)
        raise CatalogError(file, _loc_to_field([*prefix, error.field]), str(error), entry=entry) from None
    return validated.with_source(file) if hasattr(validated, "with_source") else validated


def _validate_list(model: type[BaseModel], data: Any, file: str) -> list:
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogError(file, "<document>", f"expected a list of entries, got {type(data).__name__}")
    return [_validate(model, item, file, prefix=[index]) for index, item in enumerate(data)]


def load_method_file(path: Union[str, Path], *, root: Optional[Path] = None) -> MethodEntry:
    """Read and validate one ``methods/<id>.yaml``; the file name must be the id."""
    path = Path(path)
    file = _display(path, root)
    entry = _validate(MethodEntry, _read(path, file), file)
    if path.suffix in (".yaml", ".yml") and path.stem != entry.id:
        raise CatalogError(file, "id", f"id {entry.id!r} differs from the file name {path.stem!r}", entry=entry.id)
    return entry


def load_papers_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[PaperEntry]:
    """Read and validate one ``papers/*.yaml`` (a list of paper entries)."""
    path = Path(path)
    return _validate_list(PaperEntry, _read(path, _display(path, root)), _display(path, root))


def load_glossary_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[GlossaryTerm]:
    path = Path(path)
    return _validate_list(GlossaryTerm, _read(path, _display(path, root)), _display(path, root))


def load_excluded_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[ExcludedItem]:
    path = Path(path)
    return _validate_list(ExcludedItem, _read(path, _display(path, root)), _display(path, root))


# --- the implementation check ---------------------------------------------------------------------


def check_implementation(entry: MethodEntry) -> Any:
    """Import ``entry.implementation`` and compare its declared spec with the entry.

    Returns the registry's ``MethodInfo``. Raises :class:`CatalogError` naming the entry's file and
    the field at fault: ``implementation`` when the module or its registered ``build`` is missing;
    ``coordinates.<axis>``, ``paradigm`` or ``access`` when the declaration differs from the YAML;
    ``id`` when the registered id differs. Imports the implementation (and so torch).
    """
    module_name, _, attribute = entry.implementation.partition(":")
    file = entry.source
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise CatalogError(
                file, "implementation", f"module {module_name!r} does not exist (yet)", entry=entry.id
            ) from None
        raise CatalogError(
            file, "implementation", f"importing {module_name!r} failed: {error}", entry=entry.id
        ) from error
    except Exception as error:
        raise CatalogError(
            file, "implementation", f"importing {module_name!r} failed: {type(error).__name__}: {error}", entry=entry.id
        ) from error
    factory = getattr(module, attribute, None)
    if factory is None:
        raise CatalogError(file, "implementation", f"{module_name!r} defines no {attribute!r}", entry=entry.id)
    info = getattr(factory, "method_info", None)
    if info is None:
        raise CatalogError(
            file,
            "implementation",
            f"{entry.implementation} is not registered (decorate it with @register_method({entry.id!r}, ...))",
            entry=entry.id,
        )
    if info.id != entry.id:
        raise CatalogError(
            file, "id", f"the implementation registers {info.id!r}, the entry is {entry.id!r}", entry=entry.id
        )
    declared = info.spec
    for axis in AXIS_FIELDS:
        ours = tuple(getattr(entry.coordinates, axis))
        theirs = tuple(getattr(declared, axis))
        if ours != theirs:
            raise CatalogError(
                file,
                f"coordinates.{axis}",
                f"the YAML says {[v.value for v in ours]} but {entry.implementation} declares "
                f"{[v.value for v in theirs]}",
                entry=entry.id,
            )
    for name in ("paradigm", "access"):
        ours, theirs = getattr(entry, name), getattr(declared, name)
        if ours != theirs:
            raise CatalogError(
                file, name, f"the YAML says {ours.value!r} but {entry.implementation} declares {theirs.value!r}",
                entry=entry.id,
            )
    return info


# --- resolution of literature names ----------------------------------------------------------------


@dataclass
class Resolution:
    """What a literature name means: the glossary terms it matches and the methods that carry it."""

    query: str
    terms: list[GlossaryTerm] = field(default_factory=list)
    methods: list[MethodEntry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.terms or self.methods)

    def to_dicts(self) -> list[dict]:
        """Glossary terms as YAML-shaped dicts; when only methods matched, the method entries."""
        if self.terms:
            return [term.model_dump(mode="json", exclude_none=True) for term in self.terms]
        return [method.model_dump(mode="json") for method in self.methods]


# --- on-disk cache of parsed YAML ----------------------------------------------------------------


_DISK_CACHE_KEEP = 8


def _disk_cache_dir() -> Optional[Path]:
    """``$REPROGRAMMABILITY_CACHE_DIR`` or ``~/.cache/reprogrammability``; ``None`` when disabled.

    Set ``REPROGRAMMABILITY_CATALOG_CACHE=0`` to disable the cache entirely.
    """
    if os.environ.get("REPROGRAMMABILITY_CATALOG_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    configured = os.environ.get("REPROGRAMMABILITY_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reprogrammability"


def _digest(base: Path, raw: dict[str, bytes]) -> str:
    hasher = hashlib.blake2b(digest_size=20)
    hasher.update(str(base).encode("utf-8", "surrogateescape") + b"\0")
    for file in sorted(raw):
        hasher.update(file.encode("utf-8", "surrogateescape") + b"\0" + str(len(raw[file])).encode() + b"\0")
        hasher.update(raw[file])
    return hasher.hexdigest()


def _disk_cache_get(digest: str) -> Optional[dict]:
    directory = _disk_cache_dir()
    if directory is None:
        return None
    try:
        with open(directory / f"catalog-{digest}.json", "rb") as handle:
            document = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _disk_cache_put(digest: str, documents: dict) -> None:
    """Write the parsed documents (only ever called after they validated); failures are ignored."""
    directory = _disk_cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".catalog-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(documents, handle, ensure_ascii=False)
        os.replace(tmp, directory / f"catalog-{digest}.json")
        entries = sorted(directory.glob("catalog-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_DISK_CACHE_KEEP:]:  # keep the newest few (several checkouts may share the folder)
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        return


# --- the catalog -----------------------------------------------------------------------------------

_CACHE: dict[Path, "Catalog"] = {}


class Catalog:
    """All methods, papers, glossary terms and exclusions, validated together.

    Use :meth:`load`; entries are immutable pydantic models whose fields are the YAML's.
    """

    def __init__(
        self,
        methods: Iterable[MethodEntry],
        papers: Iterable[PaperEntry] = (),
        glossary: Iterable[GlossaryTerm] = (),
        excluded: Iterable[ExcludedItem] = (),
        *,
        root: Optional[Path] = None,
        glossary_file: str = "glossary.yaml",
        excluded_file: str = "excluded.yaml",
    ):
        self.root = root
        self.methods: dict[str, MethodEntry] = {}
        self.papers: dict[str, PaperEntry] = {}
        self.glossary: list[GlossaryTerm] = list(glossary)
        self.excluded: list[ExcludedItem] = list(excluded)
        self._glossary_file = glossary_file
        self._excluded_file = excluded_file
        self._graph = None
        for method in sorted(methods, key=lambda m: m.id):
            self._add(method, self.methods)
        for paper in sorted(papers, key=lambda p: (p.year, p.id)):
            self._add(paper, self.papers)
        self._check()

    # construction --------------------------------------------------------------------------------

    @classmethod
    def load(cls, root: Union[str, Path, None] = None, *, cache: bool = True) -> "Catalog":
        """Load and cross-validate the catalog under ``root`` (default: the package's own data).

        The default catalog is kept per process (entries are immutable); pass ``cache=False`` to
        re-read the files. Parsed YAML is also cached on disk, keyed by a hash of every file's bytes
        (see :func:`_disk_cache_dir`), because parsing dominates the start-up time of ``nnr catalog``;
        validation always runs on the data.
        """
        base = Path(root).resolve() if root is not None else CATALOG_ROOT
        if cache and base in _CACHE:
            return _CACHE[base]
        if not base.is_dir():
            raise CatalogError(str(base), "<root>", "the catalog folder does not exist")
        layout: list[tuple[str, Path]] = [("method", p) for p in sorted((base / "methods").glob("*.yaml"))]
        layout += [("papers", p) for p in sorted((base / "papers").glob("*.yaml"))]
        layout += [(kind, base / name) for kind, name in (("glossary", "glossary.yaml"), ("excluded", "excluded.yaml"))
                   if (base / name).exists()]
        raw: dict[str, bytes] = {}
        for _, path in layout:
            file = _display(path, base)
            try:
                raw[file] = path.read_bytes()
            except OSError as error:
                raise CatalogError(file, "<file>", f"cannot be read: {error.strerror or error}") from None
        digest = _digest(base, raw)
        documents = _disk_cache_get(digest) if cache else None
        fresh = documents is None
        if documents is None:
            documents = {file: parse_yaml(data, file) for file, data in raw.items()}
        methods: list[MethodEntry] = []
        papers: list[PaperEntry] = []
        glossary: list[GlossaryTerm] = []
        excluded: list[ExcludedItem] = []
        for kind, path in layout:
            file = _display(path, base)
            data = documents[file]
            if kind == "method":
                entry = _validate(MethodEntry, data, file)
                if path.stem != entry.id:
                    raise CatalogError(file, "id", f"id {entry.id!r} differs from the file name {path.stem!r}",
                                       entry=entry.id)
                methods.append(entry)
            elif kind == "papers":
                papers.extend(_validate_list(PaperEntry, data, file))
            elif kind == "glossary":
                glossary = _validate_list(GlossaryTerm, data, file)
            else:
                excluded = _validate_list(ExcludedItem, data, file)
        catalog = cls(methods, papers, glossary, excluded, root=base)
        if cache and fresh:
            _disk_cache_put(digest, documents)
        if cache:
            _CACHE[base] = catalog
        return catalog

    def adding(self, *entries: Entry) -> "Catalog":
        """A new catalog with ``entries`` added (replacing entries with the same id), cross-validated.

        For validating a contributor's new file against everything else (unknown relation targets,
        duplicate aliases or arXiv ids) before it is committed::

            entry = load_method_file("my-method.yaml")
            Catalog.load().adding(entry)          # raises CatalogError naming the file and field
            Catalog.check_implementation(entry)
        """
        ids = {e.id for e in entries}
        methods = [m for m in self.methods.values() if m.id not in ids]
        papers = [p for p in self.papers.values() if p.id not in ids]
        for entry in entries:
            (methods if isinstance(entry, MethodEntry) else papers).append(entry)
        return Catalog(methods, papers, self.glossary, self.excluded, root=self.root,
                       glossary_file=self._glossary_file, excluded_file=self._excluded_file)

    def _add(self, entry: Entry, into: dict) -> None:
        other = self.methods.get(entry.id) or self.papers.get(entry.id)
        if other is not None:
            raise CatalogError(entry.source, "id", f"duplicate id {entry.id!r}, also in {other.source}", entry=entry.id)
        into[entry.id] = entry

    def _check(self) -> None:
        """Cross-entry rules: unique aliases, known relation targets, known linked methods, ..."""
        names: dict[str, tuple[str, str]] = {}

        def claim(name: str, method: MethodEntry, where: str) -> None:
            key = normalise_name(name)
            owner = names.get(key)
            if owner is not None and owner[0] != method.id:
                raise CatalogError(
                    method.source, where, f"{name!r} is already a name of {owner[0]!r} ({owner[1]})", entry=method.id
                )
            names[key] = (method.id, where)

        for method in self.methods.values():
            claim(method.id, method, "id")
        for method in self.methods.values():
            claim(method.name, method, "name")
            if method.acronym:
                claim(method.acronym, method, "acronym")
            for index, alias in enumerate(method.aliases):
                claim(alias, method, f"aliases[{index}]")
            for index, relation in enumerate(method.relations):
                if relation.target not in self.methods:
                    raise CatalogError(
                        method.source,
                        f"relations[{index}].target",
                        f"unknown method id {relation.target!r}{self._suggest(relation.target)}",
                        entry=method.id,
                    )
        arxiv_owner: dict[str, Entry] = {}
        for method in self.methods.values():
            if method.paper.arxiv:
                arxiv_owner.setdefault(method.paper.arxiv, method)
        index_in_file: dict[str, int] = {}
        for paper in self.papers.values():
            position = index_in_file.get(paper.source, 0)
            index_in_file[paper.source] = position + 1
            for j, method_id in enumerate(paper.methods):
                if method_id not in self.methods:
                    raise CatalogError(
                        paper.source, f"methods[{j}]", f"unknown method id {method_id!r}{self._suggest(method_id)}",
                        entry=paper.id,
                    )
            if paper.arxiv:
                owner = arxiv_owner.get(paper.arxiv)
                if owner is not None:
                    raise CatalogError(
                        paper.source, "arxiv",
                        f"arXiv {paper.arxiv} is already catalogued as {owner.id!r} ({owner.source})", entry=paper.id,
                    )
                arxiv_owner[paper.arxiv] = paper
        terms: dict[str, str] = {}
        for i, term in enumerate(self.glossary):
            for j, name in enumerate(term.names):
                key = normalise_name(name)
                where = f"[{i}].term" if j == 0 else f"[{i}].variants[{j - 1}]"
                if key in terms:
                    raise CatalogError(self._glossary_file, where, f"{name!r} is already listed as {terms[key]!r}")
                terms[key] = term.term
            for k, sense in enumerate(term.senses):
                for m, method_id in enumerate(sense.methods):
                    method = self.methods.get(method_id)
                    if method is None:
                        raise CatalogError(
                            self._glossary_file, f"[{i}].senses[{k}].methods[{m}]",
                            f"unknown method id {method_id!r}{self._suggest(method_id)}",
                        )
                    axis = sense.coordinates.admits(method.coordinates)
                    if axis is not None:
                        raise CatalogError(
                            self._glossary_file, f"[{i}].senses[{k}].coordinates.{axis}",
                            f"method {method_id!r} has {axis} "
                            f"{[v.value for v in getattr(method.coordinates, axis)]}, outside this sense's "
                            f"{[v.value for v in getattr(sense.coordinates, axis)]}",
                        )
                    if sense.paradigm and method.paradigm not in sense.paradigm:
                        raise CatalogError(
                            self._glossary_file, f"[{i}].senses[{k}].paradigm",
                            f"method {method_id!r} is {method.paradigm.value}, outside this sense's "
                            f"{[p.value for p in sense.paradigm]}",
                        )
        for i, item in enumerate(self.excluded):
            if item.arxiv and item.arxiv in arxiv_owner:
                owner = arxiv_owner[item.arxiv]
                raise CatalogError(
                    self._excluded_file, f"[{i}].arxiv",
                    f"arXiv {item.arxiv} is excluded but also catalogued as {owner.id!r}",
                )

    def _suggest(self, wrong: str) -> str:
        import difflib

        close = difflib.get_close_matches(wrong, list(self.methods) + list(self.papers), n=3)
        return f"; did you mean {close}?" if close else ""

    # access --------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.methods) + len(self.papers)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.methods or entry_id in self.papers

    def get(self, entry_id: str) -> Entry:
        """The method or paper with this id; ``KeyError`` naming close ids otherwise."""
        entry = self.methods.get(entry_id) or self.papers.get(entry_id)
        if entry is None:
            raise KeyError(f"id: no method or paper {entry_id!r}{self._suggest(entry_id)}")
        return entry

    def method(self, method_id: str) -> MethodEntry:
        if method_id not in self.methods:
            raise KeyError(f"id: no method {method_id!r}{self._suggest(method_id)}")
        return self.methods[method_id]

    def paper(self, paper_id: str) -> PaperEntry:
        if paper_id not in self.papers:
            raise KeyError(f"id: no paper {paper_id!r}{self._suggest(paper_id)}")
        return self.papers[paper_id]

    def papers_about(self, method_id: str) -> list[PaperEntry]:
        """Papers of the second collection linked to ``method_id``."""
        self.method(method_id)
        return [p for p in self.papers.values() if method_id in p.methods]

    # query and resolve ---------------------------------------------------------------------------

    def query(self, **filters: Any) -> list:
        """Entries matching every filter; see :func:`reprogrammability.catalog.query.query`."""
        from .query import query

        return query(self, **filters)

    def resolve(self, term: str) -> Resolution:
        """What a literature name ("soft prompt", "label mapping", "VPT") means in coordinates and methods."""
        key = normalise_name(term)
        resolution = Resolution(query=term)
        if not key:
            return resolution
        for glossary_term in self.glossary:
            if key in {normalise_name(n) for n in glossary_term.names}:
                resolution.terms.append(glossary_term)
        method_ids: list[str] = []
        for glossary_term in resolution.terms:
            method_ids.extend(m for m in glossary_term.methods if m not in method_ids)
        for method in self.methods.values():
            names = [method.id, method.name, *([method.acronym] if method.acronym else []), *method.aliases]
            if key in {normalise_name(n) for n in names} and method.id not in method_ids:
                method_ids.append(method.id)
        resolution.methods = [self.methods[m] for m in method_ids]
        return resolution

    # graph and lineage ---------------------------------------------------------------------------

    def graph(self) -> "networkx.MultiDiGraph":
        """Methods, papers, axis values and their relations as a networkx ``MultiDiGraph`` (see :mod:`.graph`)."""
        if self._graph is None:
            from .graph import build_graph

            self._graph = build_graph(self)
        return self._graph

    def builds_on(self, method_id: str) -> list[str]:
        """Methods that ``method_id`` builds on, directly or through others (nearest first)."""
        from .graph import builds_on

        self.method(method_id)
        return builds_on(self.graph(), method_id)

    def built_upon_by(self, method_id: str) -> list[str]:
        """Methods that build on ``method_id``, directly or through others (nearest first)."""
        from .graph import built_upon_by

        self.method(method_id)
        return built_upon_by(self.graph(), method_id)

    def lineage_path(self, source: str, target: str) -> list[str]:
        """The shortest chain of relations between two methods (either direction); ``[]`` if unrelated."""
        from .graph import lineage_path

        self.method(source)
        self.method(target)
        return lineage_path(self.graph(), source, target)

    def sharing_coordinates(self, method_id: str, axes: Sequence[str] = AXIS_FIELDS) -> list[str]:
        """Other methods with exactly the same values as ``method_id`` on every axis in ``axes``."""
        from .graph import sharing_coordinates

        self.method(method_id)
        return sharing_coordinates(self.graph(), method_id, axes)

    # checks and exports --------------------------------------------------------------------------

    check_implementation = staticmethod(check_implementation)

    def export(self, fmt: str) -> str:
        """The catalog as text in ``fmt`` (json, csv, bibtex, mermaid, graphml)."""
        from .export import export

        return export(self, fmt)
