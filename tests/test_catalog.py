"""The committed catalog: coverage, query, resolve, lineage and exports (no torch involved)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reprogrammability.catalog import Catalog, CatalogError
from reprogrammability.catalog.export import EXPORT_FORMATS, bibtex_key, export, write_export
from reprogrammability.catalog.models import AXIS_FIELDS, MethodEntry, PaperEntry
from reprogrammability.catalog.query import parse_year_range
from reprogrammability.framework.axes import Access, Alignment, Configuration, Location, Modality, Operator, Paradigm

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


# --- coverage --------------------------------------------------------------------------------------


def test_counts_meet_the_issue(catalog):
    assert len(catalog.methods) >= 60
    assert len(catalog.papers) >= 150
    assert len(catalog.glossary) >= 17


def test_registry_and_catalog_cover_the_same_methods(catalog):
    from reprogrammability.implementations import list_methods

    registered = set(list_methods())
    assert len(registered) >= 61
    assert registered == set(catalog.methods), (
        f"registered without a catalog entry: {sorted(registered - set(catalog.methods))}; "
        f"catalog entries without a registered method: {sorted(set(catalog.methods) - registered)}"
    )


def test_implementation_paths_follow_the_layout(catalog):
    """``reprogrammability.implementations.<family>.<id with - as _>:build``, one module per method."""
    families = ("reprogramming", "prompt_tuning", "prompt_instruction")
    for method_id, entry in catalog.methods.items():
        module, _, factory = entry.implementation.partition(":")
        prefix, family, name = module.rsplit(".", 2)
        assert prefix == "reprogrammability.implementations" and family in families, entry.implementation
        assert name == method_id.replace("-", "_") and factory == "build", entry.implementation


@pytest.mark.parametrize(
    "field, enum",
    [("configuration", Configuration), ("operator", Operator), ("location", Location), ("alignment", Alignment)],
)
def test_every_value_of_every_axis_occurs_among_methods(catalog, field, enum):
    seen = {v for m in catalog.methods.values() for v in getattr(m.coordinates, field)}
    assert seen == set(enum), f"{field}: values never used by a method: {set(enum) - seen}"


def test_all_paradigms_accesses_and_modalities_occur(catalog):
    assert {m.paradigm for m in catalog.methods.values()} == set(Paradigm)
    assert {m.access for m in catalog.methods.values()} == set(Access)
    modalities = set()
    for entry in [*catalog.methods.values(), *catalog.papers.values()]:
        modalities.add(entry.modality)
        if entry.task_modality:
            modalities.add(entry.task_modality)
    assert modalities == set(Modality), f"modalities never used: {set(Modality) - modalities}"
    assert {p for paper in catalog.papers.values() for p in paper.paradigm} == set(Paradigm)


def test_entries_carry_their_source_file(catalog):
    for method in catalog.methods.values():
        assert method.source == f"methods/{method.id}.yaml"
    assert all(p.source.startswith("papers/") for p in catalog.papers.values())


def test_method_specs_obey_the_framework_rules(catalog):
    for method in catalog.methods.values():
        spec = method.spec
        assert spec.coordinates == method.coordinates.as_dict()
        assert spec.paradigm is method.paradigm and spec.access is method.access


def test_relations_form_a_chronological_dag(catalog):
    import networkx as nx

    from reprogrammability.catalog.graph import relation_subgraph

    assert nx.is_directed_acyclic_graph(relation_subgraph(catalog.graph()))
    for method in catalog.methods.values():
        for relation in method.relations:
            target = catalog.methods[relation.target]
            if method.paper.arxiv and target.paper.arxiv:  # preprint ids order the papers in time
                assert target.paper.arxiv <= method.paper.arxiv, (method.id, relation.target)


def test_papers_are_linked_and_unique(catalog):
    arxiv_ids = [p.arxiv for p in catalog.papers.values() if p.arxiv]
    assert len(arxiv_ids) == len(set(arxiv_ids))
    method_arxiv = {m.paper.arxiv for m in catalog.methods.values()}
    assert not set(arxiv_ids) & method_arxiv
    titles = [re.sub(r"\W+", " ", p.title.lower()) for p in catalog.papers.values()]
    assert len(titles) == len(set(titles))
    for paper in catalog.papers.values():
        assert paper.methods and all(m in catalog.methods for m in paper.methods)
        assert paper.url or paper.arxiv or paper.doi, paper.id
    kinds = {p.kind.value for p in catalog.papers.values()}
    assert {"application", "analysis", "extension", "theory", "survey"} <= kinds


def test_every_method_has_at_least_one_paper_or_relation(catalog):
    about = {m for p in catalog.papers.values() for m in p.methods}
    targets = {r.target for m in catalog.methods.values() for r in m.relations}
    for method in catalog.methods.values():
        assert method.id in about or method.id in targets or method.relations, method.id


# --- query -----------------------------------------------------------------------------------------


def test_query_by_location_returns_only_matching_methods(catalog):
    found = catalog.query(location="embedding")
    assert found and all(isinstance(m, MethodEntry) for m in found)
    assert all(Location.EMBEDDING in m.coordinates.location for m in found)
    expected = {m.id for m in catalog.methods.values() if Location.EMBEDDING in m.coordinates.location}
    assert {m.id for m in found} == expected
    assert "prompt-tuning" in expected and "visual-prompting" not in expected


def test_query_values_are_ored_and_filters_anded(catalog):
    either = {m.id for m in catalog.query(location=["embedding", "hidden"])}
    emb = {m.id for m in catalog.query(location="embedding")}
    hid = {m.id for m in catalog.query(location="hidden")}
    assert either == emb | hid
    assert {m.id for m in catalog.query(location="embedding,hidden")} == either
    both = {m.id for m in catalog.query(location="hidden", configuration="fixed")}
    assert both == hid & {m.id for m in catalog.query(configuration="fixed")}
    assert both == {"activation-addition", "function-vector", "structured-prompting", "task-vector"}


def test_query_modality_access_paradigm_year_and_text(catalog):
    ts = {m.id for m in catalog.query(modality="time-series")}
    assert {"time-llm", "test-ts", "voice2series"} <= ts  # task modality counts
    assert {"bar", "blackvip", "bbt"} <= {m.id for m in catalog.query(access="zeroth-order")}
    mr = catalog.query(paradigm="model-reprogramming")
    assert all(m.paradigm is Paradigm.MODEL_REPROGRAMMING for m in mr)
    old = catalog.query(year=(None, 2019))
    assert {m.id for m in old} == {"adversarial-reprogramming", "adversarial-reprogramming-text"}
    assert all(2021 <= m.year <= 2022 for m in catalog.query(year="2021-2022"))
    assert [m.id for m in catalog.query(text="dictionary learning")] == ["r2dl"]
    papers = catalog.query(kind="papers", location="hidden", paradigm="prompt-instruction")
    assert papers and all(isinstance(p, PaperEntry) for p in papers)
    assert all(Location.HIDDEN in p.coordinates.location for p in papers)
    everything = catalog.query(kind="all")
    assert len(everything) == len(catalog.methods) + len(catalog.papers)


def test_query_rejects_bad_values_naming_the_argument(catalog):
    with pytest.raises(ValueError, match=r"location: 'middle' is not one of \['input', 'embedding', 'hidden'\]"):
        catalog.query(location="middle")
    with pytest.raises(ValueError, match="kind"):
        catalog.query(kind="things")
    with pytest.raises(ValueError, match="year"):
        catalog.query(year="recent")


@pytest.mark.parametrize(
    "text, expected",
    [
        (2022, (2022, 2022)),
        ("2020-2023", (2020, 2023)),
        ("2020-", (2020, None)),
        ("-2021", (None, 2021)),
        ((2019, None), (2019, None)),
        (range(2020, 2024), (2020, 2023)),
        (None, None),
    ],
)
def test_parse_year_range(text, expected):
    assert parse_year_range(text) == expected


# --- resolve ---------------------------------------------------------------------------------------

ISSUE_TERMS = [
    "model reprogramming",
    "adversarial reprogramming",
    "visual prompting",
    "visual reprogramming",
    "input transformation",
    "prompt tuning",
    "soft prompt",
    "prefix tuning",
    "P-tuning",
    "prompt learning",
    "context optimisation",
    "in-context learning",
    "demonstrations",
    "chain-of-thought",
    "instruction",
    "label mapping",
    "verbalizer",
]


@pytest.mark.parametrize("term", ISSUE_TERMS)
def test_every_literature_name_of_the_issue_resolves(catalog, term):
    resolution = catalog.resolve(term)
    assert resolution.terms, f"{term!r} is not in the glossary"
    assert resolution.methods, f"{term!r} resolves to no method"
    for sense in resolution.terms[0].senses:
        for method_id in sense.methods:
            assert sense.coordinates.admits(catalog.methods[method_id].coordinates) is None


def test_resolve_is_case_hyphen_and_spelling_insensitive(catalog):
    assert catalog.resolve("Soft-Prompt").terms == catalog.resolve("soft prompt").terms
    assert catalog.resolve("context optimization").terms == catalog.resolve("context optimisation").terms
    assert catalog.resolve("chain of thought").terms[0].term == "chain-of-thought"


def test_resolve_soft_prompt_lands_on_embedding_or_hidden(catalog):
    resolution = catalog.resolve("soft prompt")
    ids = {m.id for m in resolution.methods}
    assert {"prompt-tuning", "coop", "vpt-shallow"} <= ids
    for method in resolution.methods:
        assert set(method.coordinates.location) <= {Location.EMBEDDING, Location.HIDDEN}


def test_visual_prompting_is_disambiguated_by_paradigm(catalog):
    (term,) = catalog.resolve("visual prompting").terms
    paradigms = [tuple(s.paradigm or ()) for s in term.senses]
    assert len(term.senses) >= 3
    assert {p for ps in paradigms for p in ps} == set(Paradigm)
    learned_pixels, tokens, marks = term.senses[:3]
    assert Location.INPUT in learned_pixels.coordinates.location and "vpt-deep" in tokens.methods
    assert marks.coordinates.configuration == (Configuration.FIXED,)


def test_resolve_falls_back_to_method_names(catalog):
    resolution = catalog.resolve("BLM+")
    assert not resolution.terms and [m.id for m in resolution.methods] == ["blm-plus"]
    assert [m.id for m in catalog.resolve("iterative label mapping").methods] == ["ilm-vp"]
    assert not catalog.resolve("no such name at all")
    assert not catalog.resolve("   ")


# --- graph and lineage -----------------------------------------------------------------------------


def test_graph_nodes_and_edges(catalog):
    graph = catalog.graph()
    kinds = {}
    for _, kind in graph.nodes(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds["method"] == len(catalog.methods) and kinds["paper"] == len(catalog.papers)
    assert graph.has_node("location:embedding") and graph.has_node("paradigm:prompt-tuning")
    relations = [(u, v, d["type"]) for u, v, d in graph.edges(data=True) if d["kind"] == "relation"]
    assert ("bar", "adversarial-reprogramming", "extends") in relations
    assert len(relations) == sum(len(m.relations) for m in catalog.methods.values())
    about = [(u, v) for u, v, d in graph.edges(data=True) if d["kind"] == "about"]
    assert len(about) == sum(len(p.methods) for p in catalog.papers.values())


def test_lineage_queries(catalog):
    assert catalog.builds_on("bar") == ["adversarial-reprogramming"]
    assert {"attrvr", "visual-prompting", "adversarial-reprogramming"} <= set(catalog.builds_on("dvp"))
    later = catalog.built_upon_by("adversarial-reprogramming")
    assert {"bar", "voice2series", "visual-prompting", "ilm-vp", "blm"} <= set(later)
    assert "adversarial-reprogramming" not in catalog.builds_on("adversarial-reprogramming")
    path = catalog.lineage_path("blm", "visual-prompting")
    assert path[0] == "blm" and path[-1] == "visual-prompting" and len(path) == 3
    assert catalog.lineage_path("coop", "coop") == ["coop"]
    same = catalog.sharing_coordinates("coop")
    assert "kgcoop" in same and "coop" not in same
    for other in same:
        assert catalog.methods[other].coordinates == catalog.methods["coop"].coordinates
    only_location = catalog.sharing_coordinates("coop", axes=["location"])
    assert set(same) < set(only_location)
    with pytest.raises(KeyError, match="no method 'nope'"):
        catalog.builds_on("nope")
    with pytest.raises(ValueError, match="axes"):
        catalog.sharing_coordinates("coop", axes=["colour"])


# --- exports ---------------------------------------------------------------------------------------


def test_json_export_uses_the_yaml_field_names(catalog):
    document = json.loads(export(catalog, "json"))
    assert set(document) == {"methods", "papers", "glossary", "excluded"}
    assert len(document["methods"]) == len(catalog.methods)
    first = document["methods"][0]
    assert {"id", "paradigm", "coordinates", "implementation", "paper", "access"} <= set(first)
    assert MethodEntry.model_validate(first).id == first["id"]


def test_csv_export_has_one_row_per_entry(catalog):
    rows = list(csv.DictReader(io.StringIO(export(catalog, "csv"))))
    assert len(rows) == len(catalog.methods) + len(catalog.papers)
    by_id = {row["id"]: row for row in rows}
    assert by_id["time-llm"]["operator"] == "concatenative+parametric"
    assert by_id["time-llm"]["task_modality"] == "time-series"
    assert by_id["bar"]["access"] == "zeroth-order"


def test_bibtex_export_is_well_formed(catalog):
    text = export(catalog, "bibtex")
    entries = re.findall(r"^@(\w+)\{([^,\s]+),$", text, re.M)
    keys = [key for _, key in entries]
    assert len(keys) == len(set(keys))
    distinct = {
        e.bibliography.arxiv or e.bibliography.title for e in [*catalog.methods.values(), *catalog.papers.values()]
    }
    assert len(entries) == len(distinct)
    assert {kind for kind, _ in entries} <= {"article", "inproceedings", "misc"}
    assert text.count("{") == text.count("}")
    assert "eprint        = {2104.08691}" in text
    assert bibtex_key(catalog.methods["prompt-tuning"].paper) == "lester2021power"


def test_mermaid_export_draws_every_relation(catalog):
    text = export(catalog, "mermaid")
    assert text.startswith("flowchart LR")
    arrows = re.findall(r"^  (m_\w+) -->\|([a-z-]+)\| (m_\w+)$", text, re.M)
    assert len(arrows) == sum(len(m.relations) for m in catalog.methods.values())
    assert ("m_bar", "extends", "m_adversarial_reprogramming") in arrows


def test_graphml_export_round_trips(catalog, tmp_path):
    import networkx as nx

    path = write_export(catalog, "graphml", tmp_path / "catalog.graphml")
    graph = nx.read_graphml(path)
    assert graph.number_of_nodes() == catalog.graph().number_of_nodes()
    assert graph.nodes["coop"]["kind"] == "method"


def test_write_export_refuses_to_overwrite(catalog, tmp_path):
    target = tmp_path / "out.json"
    target.write_text("keep me")
    with pytest.raises(FileExistsError, match="force"):
        write_export(catalog, "json", target)
    assert target.read_text() == "keep me"
    write_export(catalog, "json", target, force=True)
    assert json.loads(target.read_text())["methods"]
    with pytest.raises(ValueError, match="format"):
        export(catalog, "pdf")
    assert set(EXPORT_FORMATS) == {"json", "csv", "bibtex", "mermaid", "graphml"}


# --- import hygiene --------------------------------------------------------------------------------


def test_catalog_and_its_cli_never_import_torch():
    code = (
        "import sys\n"
        "import reprogrammability.catalog.cli\n"
        "from reprogrammability.catalog import Catalog\n"
        "c = Catalog.load()\n"
        "c.query(location='embedding'); c.resolve('soft prompt')\n"
        "heavy = sorted(m for m in ('torch', 'sympy', 'networkx') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_catalog_error_is_a_value_error_naming_file_and_field():
    error = CatalogError("methods/x.yaml", "coordinates.operator", "bad", entry="x")
    assert isinstance(error, ValueError)
    assert str(error).startswith("methods/x.yaml: coordinates.operator (entry 'x'): bad")
    assert error.file == "methods/x.yaml" and error.field == "coordinates.operator"


def test_axis_field_order():
    assert AXIS_FIELDS == ("configuration", "operator", "location", "alignment")
