"""The exported JSON Schemas are up to date and every committed YAML file validates against them.

A small validator for the JSON Schema keywords the schemas use lives here, so contributors' editors
and this test agree on what a valid file is without a jsonschema dependency.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from reprogrammability.catalog.loader import CATALOG_ROOT
from reprogrammability.catalog.schema import SCHEMA_DIR, schema_documents, stale_schemas, write_schemas
from reprogrammability.framework.axes import AXES, Access, Modality, Paradigm

_TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _errors(instance, schema: dict, root: dict, path: str = "$") -> list[str]:
    """Paths and reasons where ``instance`` breaks ``schema`` (the keywords of pydantic's output)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _errors(instance, target, root, path)
    found: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(instance, _TYPES[k]) and not (k in ("integer", "number") and isinstance(instance, bool))
            for k in kinds
        )
        if not ok:
            return [f"{path}: expected {kinds}, got {type(instance).__name__}"]
    if "enum" in schema and instance not in schema["enum"]:
        found.append(f"{path}: {instance!r} not in {schema['enum']}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matching = [s for s in schema[key] if not _errors(instance, s, root, path)]
            if not matching or (key == "oneOf" and len(matching) > 1):
                found.append(f"{path}: {len(matching)} of the {key} alternatives match")
    if isinstance(instance, str):
        if len(instance) < schema.get("minLength", 0) or len(instance) > schema.get("maxLength", 10**9):
            found.append(f"{path}: length {len(instance)} out of bounds")
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            found.append(f"{path}: {instance!r} does not match {schema['pattern']}")
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        if instance < schema.get("minimum", float("-inf")) or instance > schema.get("maximum", float("inf")):
            found.append(f"{path}: {instance} out of range")
    if isinstance(instance, list):
        if len(instance) < schema.get("minItems", 0):
            found.append(f"{path}: fewer than {schema['minItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(i, sort_keys=True) for i in instance}) != len(instance):
            found.append(f"{path}: items are not unique")
        if "items" in schema:
            for index, item in enumerate(instance):
                found += _errors(item, schema["items"], root, f"{path}[{index}]")
    if isinstance(instance, dict):
        for name in schema.get("required", []):
            if name not in instance:
                found.append(f"{path}: missing {name!r}")
        properties = schema.get("properties", {})
        for name, value in instance.items():
            if name in properties:
                found += _errors(value, properties[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}: unknown property {name!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += _errors(value, schema["additionalProperties"], root, f"{path}.{name}")
            if "propertyNames" in schema:
                found += _errors(name, schema["propertyNames"], root, f"{path} key {name!r}")
    return found


def _documents():
    yield "method.schema.json", sorted((CATALOG_ROOT / "methods").glob("*.yaml"))
    yield "papers.schema.json", sorted((CATALOG_ROOT / "papers").glob("*.yaml"))
    yield "glossary.schema.json", [CATALOG_ROOT / "glossary.yaml"]
    yield "excluded.schema.json", [CATALOG_ROOT / "excluded.yaml"]
    yield "parameter-centric.schema.json", [CATALOG_ROOT / "parameter-centric.yaml"]


def test_committed_schemas_are_up_to_date():
    stale = stale_schemas()
    assert not stale, (
        f"regenerate {stale}: python -c 'from reprogrammability.catalog.schema import write_schemas; write_schemas()'"
    )


def test_write_schemas_round_trip(tmp_path):
    written = write_schemas(tmp_path)
    assert {p.name for p in written} == set(schema_documents())
    assert stale_schemas(tmp_path) == []
    (tmp_path / "method.schema.json").write_text("{}")
    assert stale_schemas(tmp_path) == ["method.schema.json"]


@pytest.mark.parametrize("schema_name, files", list(_documents()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_yaml_file_validates_against_its_schema(schema_name, files):
    schema = json.loads((SCHEMA_DIR / schema_name).read_text(encoding="utf-8"))
    assert files
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document = json.loads(json.dumps(document, default=str))  # YAML dates are ISO strings to a schema
        assert _errors(document, schema, schema) == [], path.name


def test_schema_enums_are_the_framework_enums():
    schema = schema_documents()["method.schema.json"]
    coordinates = schema["$defs"]["Coordinates"]["properties"]
    for axis, enum in AXES.items():
        assert coordinates[axis]["oneOf"][0]["enum"] == enum.allowed()
    assert schema["$defs"]["Paradigm"]["enum"] == Paradigm.allowed()
    assert schema["$defs"]["Modality"]["enum"] == Modality.allowed()
    assert schema["$defs"]["Access"]["enum"] == Access.allowed()


def test_the_schema_rejects_what_the_loader_rejects():
    schema = schema_documents()["method.schema.json"]
    good = yaml.safe_load((CATALOG_ROOT / "methods" / "bar.yaml").read_text(encoding="utf-8"))
    assert _errors(good, schema, schema) == []
    for change, expected in [
        ({"coordinates": {**good["coordinates"], "operator": "multiplicative"}}, "$.coordinates.operator"),
        ({"access": "sometimes"}, "$.access"),
        ({"colour": "red"}, "unknown property 'colour'"),
        ({"paper": {**good["paper"], "arxiv": 2007.08714}}, "$.paper.arxiv"),
        ({"relations": [{"type": "inspired-by", "target": "x"}]}, "$.relations[0].type"),
        ({"implementation": "elsewhere:build"}, "$.implementation"),
    ]:
        errors = _errors({**good, **change}, schema, schema)
        assert any(expected in e for e in errors), (change, errors)
    missing = dict(good)
    del missing["paper"]
    assert any("missing 'paper'" in e for e in _errors(missing, schema, schema))


def test_schema_files_are_the_package_data():
    assert SCHEMA_DIR == Path(CATALOG_ROOT) / "schema"
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(schema_documents())
