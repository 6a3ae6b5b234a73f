"""Load the catalog: :class:`Catalog`, the facade over the data, the queries, the graph and the exports.

``Catalog.load()`` reads the committed YAML (through :mod:`.parsing`, with limits, and the verified
disk cache of :mod:`.cache`) into a :class:`~.data.CatalogData` validated as a whole. The methods
below are one-line delegations to the functions of :mod:`.query`, :mod:`.resolve`, :mod:`.graph`,
:mod:`.export` and :mod:`.checks`, which all take the data object; none of them imports this module,
so the layers run one way: models → data → functions → this facade.

Every problem (bad YAML, unknown enum value, missing field, relation to an unknown id or in a cycle,
duplicate id or alias, an implementation whose declared coordinates differ) raises
:class:`CatalogError` naming the file and the field. Nothing here imports torch; ``graph()`` imports
networkx when called.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

from . import cache as _cache
from .data import CatalogData, Entry
from .errors import CatalogError
from .models import AXIS_FIELDS, ExcludedItem, GlossaryTerm, MethodEntry, PaperEntry, ParameterCentricTerm
from .parsing import (
    CATALOG_ROOT,
    display_path,
    load_excluded_file,
    load_glossary_file,
    load_method_file,
    load_papers_file,
    parse_yaml,
    validate_entries,
    validate_entry,
)
from .query import query as _query
from .resolve import Resolution
from .resolve import resolve as _resolve

if TYPE_CHECKING:  # pragma: no cover
    import networkx

    from .checks import Finding

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
                file,
                name,
                f"the YAML says {ours.value!r} but {entry.implementation} declares {theirs.value!r}",
                entry=entry.id,
            )
    return info


# --- the catalog ---------------------------------------------------------------------------------------

_LOADED: dict[Path, "Catalog"] = {}


def _layout(base: Path) -> list[tuple[str, Path]]:
    """(kind, path) of every catalog file under ``base``; a ``.yml`` file is an error, not skipped."""
    layout: list[tuple[str, Path]] = []
    for kind, folder in (("method", "methods"), ("papers", "papers")):
        for path in sorted((base / folder).glob("*")):
            if path.suffix == ".yml":
                raise CatalogError(
                    display_path(path, base), "<file>", "catalog files end in .yaml; rename it (it would be skipped)"
                )
            if path.suffix == ".yaml":
                layout.append((kind, path))
    for kind, name in (("glossary", "glossary"), ("excluded", "excluded"), ("parameter-centric", "parameter-centric")):
        if (base / f"{name}.yml").exists():
            raise CatalogError(f"{name}.yml", "<file>", f"the file is named {name}.yaml; rename it")
        if (base / f"{name}.yaml").exists():
            layout.append((kind, base / f"{name}.yaml"))
    return layout


def _build(layout: list[tuple[str, Path]], base: Path, documents: dict[str, Any]) -> CatalogData:
    methods: list[MethodEntry] = []
    papers: list[PaperEntry] = []
    glossary: list[GlossaryTerm] = []
    excluded: list[ExcludedItem] = []
    parameter_centric: list[ParameterCentricTerm] = []
    for kind, path in layout:
        file = display_path(path, base)
        data = documents[file]
        if kind == "method":
            entry = validate_entry(MethodEntry, data, file)
            if path.stem != entry.id:
                raise CatalogError(
                    file, "id", f"id {entry.id!r} differs from the file name {path.stem!r}", entry=entry.id
                )
            methods.append(entry)
        elif kind == "papers":
            papers.extend(validate_entries(PaperEntry, data, file))
        elif kind == "glossary":
            glossary = validate_entries(GlossaryTerm, data, file)
        elif kind == "excluded":
            excluded = validate_entries(ExcludedItem, data, file)
        else:
            parameter_centric = validate_entries(ParameterCentricTerm, data, file)
    return CatalogData(methods, papers, glossary, excluded, parameter_centric, root=base)


class Catalog(CatalogData):
    """The catalog's data (see :class:`~.data.CatalogData`) with loading and one-line access to its functions.

    Use :meth:`load`; entries are immutable pydantic models whose fields are the YAML's.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._graph: Optional["networkx.MultiDiGraph"] = None

    @classmethod
    def from_data(cls, data: CatalogData) -> "Catalog":
        return cls(
            data.methods.values(),
            data.papers.values(),
            data.glossary,
            data.excluded,
            data.parameter_centric,
            root=data.root,
            glossary_file=data.glossary_file,
            excluded_file=data.excluded_file,
            parameter_centric_file=data.parameter_centric_file,
        )

    @classmethod
    def load(cls, root: Union[str, Path, None] = None, *, cache: bool = True) -> "Catalog":
        """Load and cross-validate the catalog under ``root`` (default: the package's own data).

        The default catalog is kept per process (entries are immutable); pass ``cache=False`` to
        re-read the files. Parsed YAML is cached on disk (:mod:`.cache`) and verified when read;
        validation always runs, and if cached documents do not validate, the YAML is parsed again.
        """
        base = Path(root).resolve() if root is not None else CATALOG_ROOT
        if cache and base in _LOADED:
            return _LOADED[base]
        if not base.is_dir():
            raise CatalogError(str(base), "<root>", "the catalog folder does not exist")
        layout = _layout(base)
        raw: dict[str, bytes] = {}
        for _, path in layout:
            file = display_path(path, base)
            try:
                raw[file] = path.read_bytes()
            except OSError as error:
                raise CatalogError(file, "<file>", f"cannot be read: {error.strerror or error}") from None
        key = _cache.digest(base, raw)
        documents = _cache.get(key, list(raw)) if cache else None
        data = None
        if documents is not None:
            try:
                data = _build(layout, base, documents)
            except CatalogError:  # a cache that does not validate is never trusted: parse the files again
                data = None
        if data is None:
            documents = {file: parse_yaml(text, file) for file, text in raw.items()}
            data = _build(layout, base, documents)
            if cache:
                _cache.put(key, documents)
        catalog = cls.from_data(data)
        if cache:
            _LOADED[base] = catalog
        return catalog

    def adding(self, *entries: Entry) -> "Catalog":
        """A new catalog with ``entries`` added (replacing entries with the same id), cross-validated::

        entry = load_method_file("my-method.yaml")
        Catalog.load().adding(entry)          # raises CatalogError naming the file and field
        Catalog.check_implementation(entry)
        """
        combined = super().adding(*entries)
        assert isinstance(combined, Catalog)
        return combined

    # query and resolve (see .query, .resolve) ----------------------------------------------------------

    def query(self, **filters: Any) -> list[Entry]:
        """Entries matching every filter; see :func:`reprogrammability.catalog.query.query`."""
        return _query(self, **filters)

    def resolve(self, term: str) -> Resolution:
        """What a literature name ("soft prompt", "label mapping", "LoRA") means; see :func:`.resolve.resolve`."""
        return _resolve(self, term)

    # graph and lineage (see .graph; networkx is imported on first use) --------------------------------

    def graph(self) -> "networkx.MultiDiGraph":
        """Methods, papers, axis values and their relations as a networkx ``MultiDiGraph``."""
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

    # checks and exports --------------------------------------------------------------------------------

    check_implementation = staticmethod(check_implementation)

    def consistency(self) -> list["Finding"]:
        """Whole-catalog findings: time order, glossary reachability, axis rules (see :mod:`.checks`)."""
        from .checks import check_catalog

        return check_catalog(self)

    def export(self, fmt: str) -> str:
        """The catalog as text in ``fmt`` (json, csv, bibtex, mermaid, graphml)."""
        from .export import export

        return export(self, fmt)
