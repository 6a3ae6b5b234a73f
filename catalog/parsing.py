"""Reading catalog files: YAML parsed with limits, validated into entries, errors naming file and field.

YAML is untrusted input here (a contributor's file, a user's ``--root``), so :func:`parse_yaml`:

* uses the safe loader (no tags, no Python objects);
* rejects anchors/aliases (``&a`` / ``*a``) outright: the catalog never needs them, and nested aliases
  (a "billion laughs") expand to gigabytes once anything walks the document;
* rejects duplicate mapping keys, naming the key and both lines (YAML itself keeps the last one
  silently);
* refuses files over :data:`MAX_FILE_BYTES` and documents nested deeper than :data:`MAX_DEPTH`.

Error messages quote untrusted values through :func:`short_repr`, never unbounded. Nothing here
imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import yaml
from pydantic import BaseModel, ValidationError

from .errors import CatalogError, short_repr
from .models import ExcludedItem, FieldError, GlossaryTerm, MethodEntry, PaperEntry, ParameterCentricTerm

__all__ = [
    "CATALOG_ROOT",
    "MAX_FILE_BYTES",
    "MAX_DEPTH",
    "YAML_SUFFIXES",
    "short_repr",
    "parse_yaml",
    "display_path",
    "read_yaml_file",
    "validate_entry",
    "validate_entries",
    "load_method_file",
    "load_papers_file",
    "load_glossary_file",
    "load_excluded_file",
    "load_parameter_centric_file",
]

CATALOG_ROOT = Path(__file__).resolve().parent
"""Where the committed catalog data lives (``methods/``, ``papers/``, ``glossary.yaml``, ``excluded.yaml``)."""

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Largest catalog file accepted (the largest committed one is under 50 KB)."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists accepted (catalog entries nest four levels)."""

YAML_SUFFIXES = (".yaml", ".yml")


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LimitedLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing aliases, duplicate keys and deep nesting (see the module docstring)."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Refused(
                node, "anchors and aliases (&name / *name) are not allowed in catalog files; write the value out"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(node, f"nested deeper than {MAX_DEPTH} levels")
            return super().construct_object(node, deep=True)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _Refused(key_node, f"duplicate key {short_repr(key)} (first at line {seen[key]})")
                seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=True)
        return mapping


class _Refused(Exception):
    def __init__(self, node: yaml.Node, message: str):
        self.line = node.start_mark.line + 1 if node.start_mark is not None else None
        super().__init__(message)


def parse_yaml(text: Union[str, bytes], file: str) -> Any:
    """Parse one YAML document with the limits above; every failure is a :class:`CatalogError` naming ``file``."""
    if len(text) > MAX_FILE_BYTES:
        raise CatalogError(file, "<file>", f"larger than {MAX_FILE_BYTES // 1024} KiB ({len(text)} bytes)")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CatalogError(file, "<file>", f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as error:
        where = f"line {error.line}" if error.line else "<document>"
        raise CatalogError(file, where, str(error)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = short_repr(error.problem or str(error), 200).strip("'\"")
        raise CatalogError(file, "<document>", f"not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise CatalogError(file, "<document>", f"nested too deeply (more than {MAX_DEPTH} levels)") from None
    except Exception as error:  # the YAML constructors raise ValueError, OverflowError, ... on odd scalars
        detail = short_repr(str(error), 200)
        raise CatalogError(file, "<document>", f"not valid YAML: {type(error).__name__}: {detail}") from None
    finally:
        loader.dispose()


def display_path(path: Path, root: Optional[Path]) -> str:
    """``path`` relative to ``root`` (default: the package's catalog) when inside it, else as given."""
    try:
        return str(path.resolve().relative_to((root or CATALOG_ROOT).resolve()))
    except (ValueError, OSError):
        return str(path)


def read_yaml_file(path: Path, file: str) -> Any:
    """Read and parse ``path``; ``file`` is the name used in errors."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            size = path.stat().st_size
            raise CatalogError(file, "<file>", f"larger than {MAX_FILE_BYTES // 1024} KiB ({size} bytes)")
        data = path.read_bytes()
    except OSError as error:
        raise CatalogError(file, "<file>", f"cannot be read: {error.strerror or error}") from None
    return parse_yaml(data, file)


# --- pydantic errors as CatalogErrors ------------------------------------------------------------------


def _loc_to_field(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part)
            text += ("." if text else "") + (name if len(name) <= 40 else name[:39] + "…")
    return text


def _trim_loc(loc: Sequence[Any], data: Any) -> list[Any]:
    """Drop list indices that pydantic added to a scalar the YAML gave (``operator: x`` is read as ``[x]``)."""
    trimmed: list[Any] = []
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


def _message(problem: Mapping[str, Any]) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; the allowed fields are in catalog/schema/)"
    if kind == "enum":
        expected = (problem.get("ctx") or {}).get("expected", "")
        return f"{short_repr(problem.get('input'))} is not one of {expected}"
    message = str(problem["msg"])
    if "input" in problem and kind.endswith("_type"):
        message += f", got {short_repr(problem['input'])}"
    return message if len(message) <= 300 else message[:299] + "…"


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


def validate_entry(model: type[BaseModel], data: Any, file: str, *, prefix: Sequence[Any] = ()) -> Any:
    """``model`` validated from one YAML mapping; a :class:`CatalogError` naming ``file`` and the field otherwise."""
    entry = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
    if entry is not None and len(entry) > 80:
        entry = entry[:79] + "…"
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


def validate_entries(model: type[BaseModel], data: Any, file: str) -> list[Any]:
    """A YAML list of ``model`` entries (an empty file is an empty list)."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise CatalogError(file, "<document>", f"expected a list of entries, got {type(data).__name__}")
    return [validate_entry(model, item, file, prefix=[index]) for index, item in enumerate(data)]


def load_method_file(path: Union[str, Path], *, root: Optional[Path] = None) -> MethodEntry:
    """Read and validate one ``methods/<id>.yaml``; the file name must be the id."""
    path = Path(path)
    file = display_path(path, root)
    entry: MethodEntry = validate_entry(MethodEntry, read_yaml_file(path, file), file)
    if path.suffix in YAML_SUFFIXES and path.stem != entry.id:
        raise CatalogError(
            file, "id", f"id {entry.id!r} differs from the file name {short_repr(path.stem)}", entry=entry.id
        )
    return entry


def load_papers_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[PaperEntry]:
    """Read and validate one ``papers/*.yaml`` (a list of paper entries)."""
    path = Path(path)
    file = display_path(path, root)
    return validate_entries(PaperEntry, read_yaml_file(path, file), file)


def load_glossary_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[GlossaryTerm]:
    path = Path(path)
    file = display_path(path, root)
    return validate_entries(GlossaryTerm, read_yaml_file(path, file), file)


def load_excluded_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[ExcludedItem]:
    path = Path(path)
    file = display_path(path, root)
    return validate_entries(ExcludedItem, read_yaml_file(path, file), file)


def load_parameter_centric_file(path: Union[str, Path], *, root: Optional[Path] = None) -> list[ParameterCentricTerm]:
    path = Path(path)
    file = display_path(path, root)
    return validate_entries(ParameterCentricTerm, read_yaml_file(path, file), file)
