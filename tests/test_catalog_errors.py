"""Malformed catalog data is rejected with a CatalogError that names the file and the field."""

from __future__ import annotations

import copy
import sys
import types
from pathlib import Path

import pytest
import yaml

from reprogrammability.catalog import Catalog, CatalogError
from reprogrammability.catalog.loader import check_implementation, load_method_file, load_papers_file, parse_yaml
from reprogrammability.catalog.models import MethodEntry
from reprogrammability.framework.spec import Spec


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch):
    monkeypatch.setenv("REPROGRAMMABILITY_CATALOG_CACHE", "0")


@pytest.fixture(scope="module")
def real() -> Catalog:
    return Catalog.load()


def _method(real: Catalog, method_id: str) -> dict:
    return real.methods[method_id].model_dump(mode="json", exclude_none=True)


def _paper(real: Catalog, paper_id: str) -> dict:
    return real.papers[paper_id].model_dump(mode="json", exclude_none=True)


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _mini_catalog(root: Path, real: Catalog, method_ids=("adversarial-reprogramming", "bar", "visual-prompting")):
    """A small valid catalog: a few methods (relations kept inside the set), one paper, one glossary term."""
    for method_id in method_ids:
        data = _method(real, method_id)
        data["relations"] = [r for r in data.get("relations", []) if r["target"] in method_ids]
        _write(root / "methods" / f"{method_id}.yaml", data)
    paper = _paper(real, "englert-2022-reprogramming-revisited")
    _write(root / "papers" / "some.yaml", [paper])
    term = real.resolve("adversarial reprogramming").terms[0].model_dump(mode="json", exclude_none=True)
    for sense in term["senses"]:
        sense["methods"] = [m for m in sense.get("methods", []) if m in method_ids]
    _write(root / "glossary.yaml", [term])
    return root


def test_the_mini_catalog_is_valid(tmp_path, real):
    catalog = Catalog.load(_mini_catalog(tmp_path, real), cache=False)
    assert set(catalog.methods) == {"adversarial-reprogramming", "bar", "visual-prompting"}
    assert catalog.builds_on("bar") == ["adversarial-reprogramming"]


def _expect(path_or_root, file: str, field: str, *, match: str = "", loader=None):
    if loader is None:

        def loader(p):
            return Catalog.load(p, cache=False) if Path(p).is_dir() else load_method_file(p, root=p.parent.parent)

    with pytest.raises(CatalogError) as info:
        loader(path_or_root)
    error = info.value
    assert error.file == file, str(error)
    assert error.field == field, str(error)
    assert match in str(error)
    return error


def test_unknown_enum_value(tmp_path, real):
    data = _method(real, "bar")
    data["coordinates"]["operator"] = "multiplicative"
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    error = _expect(path, "methods/bar.yaml", "coordinates.operator", match="'additive'")
    assert error.entry == "bar"


def test_unknown_enum_value_inside_a_list(tmp_path, real):
    data = _method(real, "time-llm")
    data["coordinates"]["location"] = ["embedding", "middle"]
    path = _write(tmp_path / "methods" / "time-llm.yaml", data)
    _expect(path, "methods/time-llm.yaml", "coordinates.location[1]", match="'hidden'")


def test_missing_field(tmp_path, real):
    data = _method(real, "bar")
    del data["paper"]
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "paper", match="required field is missing")
    data = _method(real, "bar")
    del data["paper"]["year"]
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "paper.year", match="required")


def test_unknown_field(tmp_path, real):
    data = _method(real, "bar")
    data["coordinate"] = data.pop("coordinates")
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "coordinates", match="required")
    data = _method(real, "bar")
    data["colour"] = "red"
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "colour", match="unknown field")


def test_arxiv_read_as_a_number(tmp_path, real):
    path = tmp_path / "methods" / "prompt-tuning.yaml"
    text = yaml.safe_dump(_method(real, "prompt-tuning"), sort_keys=False).replace("'2104.08691'", "2104.08691")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    _expect(path, "methods/prompt-tuning.yaml", "paper.arxiv", match="quote it")


def test_rule_violation_names_the_field(tmp_path, real):
    data = _method(real, "in-context-learning")
    data["access"] = "gradient"
    path = _write(tmp_path / "methods" / "in-context-learning.yaml", data)
    _expect(path, "methods/in-context-learning.yaml", "access", match="fixed-needs-no-model-access")
    data = _method(real, "prompt-tuning")
    data["coordinates"].update(operator="additive", location="input")
    path = _write(tmp_path / "methods" / "prompt-tuning.yaml", data)
    _expect(path, "methods/prompt-tuning.yaml", "coordinates.operator", match="additive-needs-continuous-input")


def test_implementation_path_must_match_the_id(tmp_path, real):
    data = _method(real, "bar")
    data["implementation"] = "reprogrammability.implementations.reprogramming.other:build"
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "implementation", match="'bar'")
    data["implementation"] = "somewhere.else:build"
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "implementation", match="pattern")


def test_id_must_match_the_file_name(tmp_path, real):
    path = _write(tmp_path / "methods" / "not-bar.yaml", _method(real, "bar"))
    _expect(path, "methods/not-bar.yaml", "id", match="file name")


def test_invalid_yaml_and_wrong_document_shapes(tmp_path):
    for text, field in [
        ("id: [unclosed", "<document>"),
        ("- just\n- a list\n", "<document>"),
        ("", "<document>"),
        ("id: x\n\tbad: tab", "<document>"),
    ]:
        path = tmp_path / "methods" / "x.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        _expect(path, "methods/x.yaml", field)
    path.write_bytes(b"id: \xff\xfe")
    _expect(path, "methods/x.yaml", "<file>", match="UTF-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        parse_yaml("when: 2001-13-45", "f.yaml")  # an impossible date makes the constructor raise ValueError


def test_relation_to_an_unknown_id(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    data = _method(real, "bar")
    data["relations"] = [
        {"type": "extends", "target": "adversarial-reprogramming"},
        {"type": "extends", "target": "adversarial-reprogramm"},
    ]
    _write(root / "methods" / "bar.yaml", data)
    _expect(root, "methods/bar.yaml", "relations[1].target", match="did you mean ['adversarial-reprogramming']")


def test_unknown_relation_type(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    data = _method(real, "bar")
    data["relations"] = [{"type": "inspired-by", "target": "adversarial-reprogramming"}]
    _write(root / "methods" / "bar.yaml", data)
    _expect(root, "methods/bar.yaml", "relations[0].type", match="'variant-of'")


def test_duplicate_id(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    paper = _paper(real, "englert-2022-reprogramming-revisited")
    paper["id"] = "bar"
    paper.pop("arxiv")
    _write(root / "papers" / "some.yaml", [paper])
    _expect(root, "papers/some.yaml", "id", match="duplicate id 'bar', also in methods/bar.yaml")


def test_duplicate_alias_across_methods(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    data = _method(real, "visual-prompting")
    data["aliases"] = ["padding prompt", "black-box reprogramming"]  # an alias of bar
    _write(root / "methods" / "visual-prompting.yaml", data)
    _expect(root, "methods/visual-prompting.yaml", "aliases[1]", match="already a name of 'bar'")


def test_duplicate_alias_within_a_method(tmp_path, real):
    data = _method(real, "bar")
    data["aliases"] = ["Black-Box Adversarial Reprogramming"]
    path = _write(tmp_path / "methods" / "bar.yaml", data)
    _expect(path, "methods/bar.yaml", "aliases[0]", match="repeats the name")


def test_paper_linked_to_an_unknown_method(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    paper = _paper(real, "englert-2022-reprogramming-revisited")
    paper["methods"] = ["bar", "ghost-method"]
    _write(root / "papers" / "some.yaml", [paper])
    _expect(root, "papers/some.yaml", "methods[1]", match="unknown method id 'ghost-method'")


def test_paper_field_errors_carry_the_list_index(tmp_path, real):
    good = _paper(real, "englert-2022-reprogramming-revisited")
    bad = copy.deepcopy(good)
    bad["id"] = "another-paper"
    bad["kind"] = "tutorial"
    path = _write(tmp_path / "papers" / "x.yaml", [good, bad])
    error = _expect(path, "papers/x.yaml", "[1].kind", loader=lambda p: load_papers_file(p, root=tmp_path))
    assert error.entry == "another-paper"


def test_paper_duplicating_a_method_paper(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    paper = _paper(real, "englert-2022-reprogramming-revisited")
    paper["arxiv"] = "2007.08714"  # BAR's own paper
    _write(root / "papers" / "some.yaml", [paper])
    _expect(root, "papers/some.yaml", "arxiv", match="already catalogued as 'bar'")


def test_glossary_sense_must_contain_its_methods(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    term = {
        "term": "pixel program",
        "definition": "A learned pattern added to raw pixels of the input.",
        "senses": [
            {
                "label": "x",
                "meaning": "an additive program on the raw input image",
                "coordinates": {"location": "embedding"},
                "methods": ["bar"],
            }
        ],
    }
    _write(root / "glossary.yaml", [term])
    _expect(root, "glossary.yaml", "[0].senses[0].coordinates.location", match="method 'bar' has location")


def test_glossary_duplicate_name(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    terms = yaml.safe_load((root / "glossary.yaml").read_text())
    terms.append({**copy.deepcopy(terms[0]), "term": "Adversarial-Reprogramming", "variants": []})
    _write(root / "glossary.yaml", terms)
    _expect(root, "glossary.yaml", "[1].term", match="already listed")


def test_excluded_item_must_not_be_catalogued(tmp_path, real):
    root = _mini_catalog(tmp_path, real)
    _write(
        root / "excluded.yaml",
        [
            {
                "title": "BAR again",
                "arxiv": "2007.08714",
                "sources": ["methods.yaml"],
                "category": "duplicate",
                "reason": "listed twice in the survey's data",
            }
        ],
    )
    _expect(root, "excluded.yaml", "[0].arxiv", match="also catalogued as 'bar'")


def test_missing_root():
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog.load("/nonexistent/catalog", cache=False)


# --- the implementation check ------------------------------------------------------------------------


def _fake_implementation(monkeypatch, method_id: str, **declared):
    """Install ``reprogrammability.implementations.reprogramming.<module>`` with a registered ``build``."""
    from reprogrammability.implementations.registry import MethodInfo

    module_name = f"reprogrammability.implementations.reprogramming.{method_id.replace('-', '_')}"
    module = types.ModuleType(module_name)

    def build(model, config=None, **overrides):  # pragma: no cover - never called
        raise NotImplementedError

    spec = Spec(**declared)
    build.method_info = MethodInfo(id=declared.pop("id", method_id), factory=build, spec=spec)
    module.build = build
    monkeypatch.setitem(sys.modules, module_name, module)
    return module_name


def _entry(method_id: str) -> MethodEntry:
    data = {
        "id": method_id,
        "name": "A test method",
        "paradigm": "model-reprogramming",
        "modality": "vision",
        "coordinates": {
            "configuration": "learnable",
            "operator": "additive",
            "location": "input",
            "alignment": "statistical",
        },
        "access": "gradient",
        "paper": {"title": "A paper", "authors": ["Doe, Jane"], "year": 2024, "venue": "arXiv"},
        "implementation": f"reprogrammability.implementations.reprogramming.{method_id.replace('-', '_')}:build",
        "summary": "A method used only by the tests of the implementation check.",
    }
    return MethodEntry.model_validate(data).with_source(f"methods/{method_id}.yaml")


def test_check_implementation_accepts_a_matching_declaration(monkeypatch):
    _fake_implementation(
        monkeypatch,
        "zz-test-method",
        configuration="learnable",
        operator="additive",
        location="input",
        alignment="statistical",
        paradigm="model-reprogramming",
        access="gradient",
    )
    info = check_implementation(_entry("zz-test-method"))
    assert info.id == "zz-test-method"
    assert Catalog.check_implementation(_entry("zz-test-method")) is info


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"location": "embedding"}, "coordinates.location"),
        ({"alignment": ["statistical", "linear"]}, "coordinates.alignment"),
        ({"paradigm": "prompt-tuning"}, "paradigm"),
        ({"access": "zeroth-order"}, "access"),
    ],
)
def test_check_implementation_names_the_differing_field(monkeypatch, changes, field):
    declared = dict(
        configuration="learnable",
        operator="additive",
        location="input",
        alignment="statistical",
        paradigm="model-reprogramming",
        access="gradient",
    )
    declared.update(changes)
    _fake_implementation(monkeypatch, "zz-test-method", **declared)
    with pytest.raises(CatalogError) as info:
        check_implementation(_entry("zz-test-method"))
    assert info.value.file == "methods/zz-test-method.yaml"
    assert info.value.field == field


def test_check_implementation_reports_missing_and_unregistered_modules(monkeypatch):
    with pytest.raises(CatalogError, match="does not exist") as info:
        check_implementation(_entry("zz-not-written-yet"))
    assert info.value.field == "implementation"
    module = types.ModuleType("reprogrammability.implementations.reprogramming.zz_unregistered")
    module.build = lambda model, config=None: None
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(CatalogError, match="not registered"):
        check_implementation(_entry("zz-unregistered"))


def test_adding_a_new_file_to_the_catalog(tmp_path, real):
    data = _method(real, "bar")
    data.update(id="bar-two", name="A second black-box method", acronym="BAR2", aliases=["black-box reprogramming"])
    data["implementation"] = "reprogrammability.implementations.reprogramming.bar_two:build"
    entry = load_method_file(_write(tmp_path / "bar-two.yaml", data))
    with pytest.raises(CatalogError) as info:
        real.adding(entry)
    assert info.value.field == "aliases[0]" and "already a name of 'bar'" in str(info.value)
    data["aliases"] = []
    entry = load_method_file(_write(tmp_path / "bar-two.yaml", data))
    bigger = real.adding(entry)
    assert "bar-two" in bigger.methods and "bar-two" not in real.methods
    assert len(bigger.methods) == len(real.methods) + 1
    assert bigger.builds_on("bar-two") == ["adversarial-reprogramming"]
