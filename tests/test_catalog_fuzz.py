"""Property-based fuzzing of the catalog loader: whatever the YAML, it loads or raises CatalogError only."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprogrammability.catalog import Catalog, CatalogError
from reprogrammability.catalog.loader import load_glossary_file, load_method_file, load_papers_file, parse_yaml

EXAMPLES = int(os.environ.get("CATALOG_FUZZ_EXAMPLES", "60"))  # raise it for a deeper search
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "learnable",
            "fixed",
            "additive",
            "embedding",
            "rule-based",
            "gradient",
            "none",
            "vision",
            "prompt-tuning",
            "extends",
            "bar",
            "coop",
            "2104.08691",
            "others",
            "",
        ]
    )
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def real() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    os.environ["REPROGRAMMABILITY_CATALOG_CACHE"] = "0"  # never cache fuzzed data
    root = tmp_path_factory.mktemp("fuzz")
    (root / "methods").mkdir()
    (root / "papers").mkdir()
    yield root
    os.environ.pop("REPROGRAMMABILITY_CATALOG_CACHE", None)


def _load_or_catalog_error(load, path):
    try:
        load(path)
    except CatalogError as error:
        assert str(error).startswith(error.file)
        assert error.field
        return error
    return None


def _paths(document, prefix=()):
    """Every path into a nested document (dict keys and list indices)."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, index))


def _mutate(document, data: st.DataObject):
    document = copy.deepcopy(document)
    paths = [p for p in _paths(document) if p]
    path = data.draw(st.sampled_from(paths))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["replace", "delete", "insert", "wrap"]))
    key = path[-1]
    if action == "replace":
        parent[key] = data.draw(values)
    elif action == "delete":
        del parent[key]
    elif action == "wrap":
        parent[key] = [parent[key], data.draw(values)]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=10))] = data.draw(values)
    else:
        parent.insert(key, data.draw(values))
    return document


@SETTINGS
@given(text=st.text(max_size=300))
def test_random_text_as_a_method_file(workdir, text):
    path = workdir / "methods" / "x.yaml"
    path.write_text(text, encoding="utf-8")
    _load_or_catalog_error(lambda p: load_method_file(p, root=workdir), path)


@SETTINGS
@given(blob=st.binary(max_size=200))
def test_random_bytes(workdir, blob):
    try:
        parse_yaml(blob, "x.yaml")
    except CatalogError as error:
        assert error.file == "x.yaml"


@SETTINGS
@given(document=values)
def test_random_structures_in_every_kind_of_file(workdir, document):
    text = yaml.safe_dump(document, allow_unicode=True)
    method = workdir / "methods" / "x.yaml"
    method.write_text(text, encoding="utf-8")
    _load_or_catalog_error(lambda p: load_method_file(p, root=workdir), method)
    papers = workdir / "papers" / "x.yaml"
    papers.write_text(text, encoding="utf-8")
    _load_or_catalog_error(lambda p: load_papers_file(p, root=workdir), papers)
    glossary = workdir / "glossary.yaml"
    glossary.write_text(text, encoding="utf-8")
    _load_or_catalog_error(lambda p: load_glossary_file(p, root=workdir), glossary)


@SETTINGS
@given(data=st.data(), method_id=st.sampled_from(["time-llm", "bar", "coop", "in-context-learning", "maple"]))
def test_mutated_method_entries(workdir, real, data, method_id):
    document = _mutate(real.methods[method_id].model_dump(mode="json"), data)
    path = workdir / "methods" / f"{method_id}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    _load_or_catalog_error(lambda p: load_method_file(p, root=workdir), path)


@SETTINGS
@given(data=st.data())
def test_mutated_papers_and_glossary(workdir, real, data):
    papers = [real.papers[p].model_dump(mode="json") for p in list(real.papers)[:2]]
    path = workdir / "papers" / "x.yaml"
    path.write_text(yaml.safe_dump(_mutate(papers, data), allow_unicode=True), encoding="utf-8")
    _load_or_catalog_error(lambda p: load_papers_file(p, root=workdir), path)
    glossary = [t.model_dump(mode="json") for t in real.glossary[:2]]
    path = workdir / "glossary.yaml"
    path.write_text(yaml.safe_dump(_mutate(glossary, data), allow_unicode=True), encoding="utf-8")
    _load_or_catalog_error(lambda p: load_glossary_file(p, root=workdir), path)


@settings(max_examples=max(EXAMPLES // 2, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_small_catalogs_fail_only_with_catalog_error(tmp_path_factory, real, data):
    """Cross-entry rules (relations, aliases, linked methods, glossary senses) under mutation."""
    root = tmp_path_factory.mktemp("mini")
    keep = ("adversarial-reprogramming", "bar", "visual-prompting", "ilm-vp")
    documents = {}
    for method_id in keep:
        document = real.methods[method_id].model_dump(mode="json")
        document["relations"] = [r for r in document["relations"] if r["target"] in keep]
        documents[f"methods/{method_id}.yaml"] = document
    documents["papers/p.yaml"] = [real.papers["englert-2022-reprogramming-revisited"].model_dump(mode="json")]
    term = real.resolve("label mapping").terms[0].model_dump(mode="json")
    for sense in term["senses"]:
        sense["methods"] = [m for m in sense["methods"] if m in keep]
    documents["glossary.yaml"] = [term]
    victim = data.draw(st.sampled_from(sorted(documents)))
    documents[victim] = _mutate(documents[victim], data)
    for name, document in documents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    error = _load_or_catalog_error(lambda p: Catalog.load(p, cache=False), root)
    if error is not None:
        assert error.file in documents or error.file == victim
