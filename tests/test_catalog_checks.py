"""Whole-catalog checks (time order, cycles, glossary reachability, axis rules), queries on f's weights and
access, parameter-centric names, and the one-way layering of the catalog's modules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from reprogrammability.catalog import Catalog, CatalogError
from reprogrammability.catalog.checks import check_catalog, check_glossary, check_time_order, first_public
from reprogrammability.catalog.data import CatalogData, relation_cycle
from reprogrammability.catalog.models import GlossaryTerm, MethodEntry, ProgramPart, Readout, Relative
from reprogrammability.catalog.query import RUNS_ON
from reprogrammability.catalog.resolve import suggestions
from reprogrammability.catalog.rules import alignment_rule, alignments_for, operator_rule, operators_for
from reprogrammability.cli import main
from reprogrammability.framework.axes import Access, Alignment, FWeights, Operator

CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog"


@pytest.fixture(scope="module")
def real() -> Catalog:
    return Catalog.load()


def _method(real: Catalog, method_id: str, **changes) -> MethodEntry:
    """A copy of a real method entry with ``changes``, validated like a file would be."""
    document = real.methods[method_id].model_dump(mode="json", exclude_none=True)
    document.update(changes)
    paper = dict(document["paper"])
    paper.update(changes.pop("paper_changes", None) or {})
    document["paper"] = paper
    document.pop("paper_changes", None)
    return MethodEntry.model_validate(document).with_source(f"methods/{method_id}.yaml")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["catalog", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the committed catalog passes every check ---------------------------------------------------------------


def test_the_committed_catalog_has_no_findings(real):
    findings = check_catalog(real)
    assert findings == [], "\n".join(str(f) for f in findings)


def test_nnr_catalog_check_without_an_entry_checks_the_whole_catalog(capsys, real):
    code, out, _ = _run(capsys, "check", "--json")
    assert code == (1 if check_catalog(real) else 0)
    assert json.loads(out) == [f.to_dict() for f in check_catalog(real)]
    code, out, _ = _run(capsys, "check", "--only", "time-order")
    assert code == 0 and "catalog consistent (time-order" in out


def test_check_rejects_options_that_need_an_entry(capsys):
    code, _, err = _run(capsys, "check", "--implementation", "x.py:f")
    assert code == 2 and "--implementation needs an ENTRY" in err


# --- time order -----------------------------------------------------------------------------------------------


def test_a_relation_to_a_later_method_is_a_finding_unless_marked_concurrent(real):
    early = _method(real, "adversarial-reprogramming")  # 2018
    late_target = _method(real, "ilm-vp", relations=[])
    backwards = _method(real, "adversarial-reprogramming", relations=[{"type": "extends", "target": "ilm-vp"}])
    catalog = CatalogData([backwards, late_target])
    findings = check_time_order(catalog)
    assert [(f.entry, f.field) for f in findings] == [("adversarial-reprogramming", "relations[0]")]
    assert "became public later" in findings[0].message and str(first_public(late_target)) in findings[0].message
    concurrent = _method(
        real,
        "adversarial-reprogramming",
        relations=[{"type": "variant-of", "target": "ilm-vp", "note": "concurrent: both appeared within a week"}],
    )
    assert check_time_order(CatalogData([concurrent, late_target])) == []
    forwards = _method(real, "ilm-vp", relations=[{"type": "extends", "target": "adversarial-reprogramming"}])
    assert check_time_order(CatalogData([early, forwards])) == []


def test_first_public_dates_order_relations_within_one_year(real):
    source = _method(
        real, "ilm-vp", relations=[{"type": "extends", "target": "blm"}], paper_changes={"first_public": "2023-01-01"}
    )
    target = _method(real, "blm", relations=[], paper_changes={"first_public": "2023-06-01", "year": source.year})
    assert first_public(source) == date(2023, 1, 1)
    assert len(check_time_order(CatalogData([source, target]))) == 1
    earlier = _method(real, "blm", relations=[], paper_changes={"first_public": "2022-12-01", "year": source.year})
    assert check_time_order(CatalogData([source, earlier])) == []


# --- cycles and unknown targets are load errors ----------------------------------------------------------------


def test_cyclic_relations_are_rejected_with_the_cycle(real):
    a = _method(real, "ilm-vp", relations=[{"type": "extends", "target": "blm"}])
    b = _method(real, "blm", relations=[{"type": "extends", "target": "blm-plus"}])
    c = _method(real, "blm-plus", relations=[{"type": "extends", "target": "ilm-vp"}])
    assert relation_cycle({m.id: m for m in (a, b, c)}) == ["blm", "blm-plus", "ilm-vp", "blm"]
    with pytest.raises(CatalogError) as info:
        CatalogData([a, b, c])
    assert info.value.file == "methods/blm.yaml" and info.value.field == "relations[0].target"
    assert "blm → blm-plus → ilm-vp → blm" in str(info.value)


def test_a_relation_to_a_missing_method_is_rejected(real):
    lonely = _method(real, "ilm-vp", relations=[{"type": "extends", "target": "no-such-method"}])
    with pytest.raises(CatalogError, match="unknown method id 'no-such-method'") as info:
        CatalogData([lonely])
    assert info.value.field == "relations[0].target"


# --- glossary reachability ------------------------------------------------------------------------------------


def _term(name: str, senses: list[dict]) -> GlossaryTerm:
    return GlossaryTerm.model_validate(
        {"term": name, "definition": "a test term for the reachability check", "senses": senses}
    )


def test_unreached_methods_and_empty_senses_are_findings(real):
    coop, ilm = _method(real, "coop", relations=[]), _method(real, "ilm-vp", relations=[])
    terms = [
        _term(
            "context optimisation",
            [{"label": "learned context", "meaning": "trainable context vectors for CLIP", "methods": ["coop"]}],
        ),
        _term(
            "label words from data",
            [
                {
                    "label": "statistical verbalizer",
                    "meaning": "label words chosen by data",
                    "coordinates": {"alignment": "statistical"},
                }
            ],
        ),
        _term(
            "everything",
            [
                {
                    "label": "umbrella",
                    "meaning": "all three paradigms together in one name",
                    "paradigm": ["model-reprogramming", "prompt-tuning"],
                }
            ],
        ),
    ]
    terms[0] = terms[0].model_copy(update={"see_also": ["everything", "no such name"]})
    findings = check_glossary(CatalogData([coop, ilm], glossary=terms))
    assert sorted((f.field, f.entry) for f in findings) == [
        ("[0].see_also[1]", ""),
        ("[1].senses[0]", ""),
        ("id", "ilm-vp"),
    ]


def test_a_sense_about_a_parameter_centric_term_is_reached(real):
    terms = [
        _term(
            "instruction",
            [
                {
                    "label": "instruction tuning (outside reprogrammability)",
                    "meaning": "training f on instructions, which changes its weights",
                },
                {"label": "an instruction", "meaning": "a task description in the prompt", "methods": ["coop"]},
            ],
        )
    ]
    pca = next(t for t in real.parameter_centric if t.term == "instruction tuning")
    pca = pca.model_copy(update={"relatives": [Relative(method="coop", why="a frozen model adapted at its input")]})
    catalog = CatalogData([_method(real, "coop", relations=[])], glossary=terms, parameter_centric=[pca])
    assert check_glossary(catalog) == []
    assert len(check_glossary(CatalogData([_method(real, "coop", relations=[])], glossary=terms))) == 1


# --- axis rules --------------------------------------------------------------------------------------------------


def test_the_operator_rule():
    A, C, P = Operator.ADDITIVE, Operator.CONCATENATIVE, Operator.PARAMETRIC
    assert operators_for([ProgramPart.ADD]) == {A}
    assert operators_for([ProgramPart.INSERT]) == {C}
    assert operators_for([ProgramPart.REWRITE]) == {P}
    assert operators_for([ProgramPart.ADD, ProgramPart.INPUT_DEPENDENT]) == {A, P}  # BlackVIP, SMM, GPF-plus
    assert operators_for([ProgramPart.INSERT, ProgramPart.INPUT_DEPENDENT]) == {C, P}  # CoCoOp
    assert operators_for([ProgramPart.ADD, ProgramPart.REWRITE]) == {A, P}  # AutoVP
    with pytest.raises(ValueError, match="qualifies an 'add' or an 'insert'"):
        operators_for([ProgramPart.INPUT_DEPENDENT])


def test_the_alignment_rule():
    assert alignments_for([Readout.CLASS_NAMES]) == {Alignment.IDENTITY}
    assert alignments_for([Readout.FREE_ANSWER]) == {Alignment.IDENTITY}
    assert alignments_for([Readout.LABEL_WORDS]) == {Alignment.RULE_BASED}
    assert alignments_for([Readout.ANSWER_PARSER]) == {Alignment.RULE_BASED}
    assert alignments_for([Readout.ESTIMATED_MAP]) == {Alignment.STATISTICAL}
    assert alignments_for([Readout.TRAINED_MAP]) == {Alignment.LINEAR}


def test_every_committed_method_obeys_the_axis_rules(real):
    broken = {
        m.id: (operator_rule(m), alignment_rule(m))
        for m in real.methods.values()
        if operator_rule(m) or alignment_rule(m)
    }
    assert broken == {}
    for method_id in ("blackvip", "smm", "gpf-plus", "autovp"):  # issue 13: decided by one rule
        assert set(real.methods[method_id].coordinates.operator) == {Operator.ADDITIVE, Operator.PARAMETRIC}


def test_an_entry_that_breaks_a_rule_is_reported(real):
    generated_but_additive = _method(
        real,
        "blackvip",
        relations=[],
        coordinates={**real.methods["blackvip"].coordinates.model_dump(mode="json"), "operator": "additive"},
    )
    assert "gives τ=additive+parametric, the entry says τ=additive" in operator_rule(generated_but_additive)
    verbalizer_as_identity = _method(
        real,
        "prompt-tuning",
        relations=[],
        readout="label-words",
        coordinates={**real.methods["prompt-tuning"].coordinates.model_dump(mode="json"), "alignment": "identity"},
    )
    assert "gives ω=rule-based, the entry says ω=identity" in alignment_rule(verbalizer_as_identity)
    document = real.methods["coop"].model_dump(mode="json", exclude_none=True)
    document.pop("program"), document.pop("readout")
    unstated = MethodEntry.model_validate(document)
    assert "no 'program'" in operator_rule(unstated) and "no 'readout'" in alignment_rule(unstated)


def test_program_and_readout_reject_bad_values(real):
    with pytest.raises(ValueError, match="program"):
        _method(real, "coop", program=["add", "add"])
    with pytest.raises(ValueError, match="readout"):
        _method(real, "coop", readout="verbalizer")
    with pytest.raises(ValueError, match="at least one value"):
        _method(real, "coop", program=[])


# --- f's weights and access -----------------------------------------------------------------------------------


def test_f_weights_filters_and_keeps_f_frozen(real):
    papers = real.query(kind="papers")
    trained = real.query(kind="papers", f_weights="trained")
    frozen = real.query(kind="papers", keeps_f_frozen=True)
    assert trained and all(p.f_weights is FWeights.TRAINED for p in trained)
    assert {p.id for p in frozen} == {p.id for p in papers if p.f_weights is FWeights.FROZEN}
    assert not {p.id for p in frozen} & {p.id for p in trained}
    not_frozen = real.query(kind="papers", keeps_f_frozen=False)
    assert len(frozen) + len(not_frozen) == len(papers)
    assert len(real.query(keeps_f_frozen=True)) == sum(m.f_weights is FWeights.FROZEN for m in real.methods.values())


def test_runs_on_maps_what_you_have_to_access_values(real):
    assert RUNS_ON["text-api"] == {Access.TEXT_ONLY}
    assert RUNS_ON["scores"] == {Access.TEXT_ONLY, Access.SCORES, Access.ZEROTH_ORDER}
    assert RUNS_ON["gradients"] == RUNS_ON["scores"] | {Access.GRADIENT}
    assert RUNS_ON["white-box"] == set(Access)
    ids = {name: {m.id for m in real.query(runs_on=name)} for name in RUNS_ON}
    assert ids["text-api"] == {m.id for m in real.methods.values() if m.access is Access.TEXT_ONLY}
    assert ids["text-api"] <= ids["scores"] <= ids["gradients"] <= ids["white-box"] == set(real.methods)
    assert "bar" in ids["scores"] and "coop" not in ids["scores"] and "coop" in ids["gradients"]
    assert "activation-addition" not in ids["gradients"]  # needs hidden states


def test_cli_filters_on_f_weights_and_runs_on(capsys, real):
    code, out, _ = _run(capsys, "papers", "--f-weights", "trained", "--json")
    assert code == 0 and {e["f_weights"] for e in json.loads(out)} == {"trained"}
    code, out, _ = _run(capsys, "papers", "--keeps-f-frozen", "--json")
    assert code == 0 and {e["f_weights"] for e in json.loads(out)} == {"frozen"}
    code, out, _ = _run(capsys, "query", "--runs-on", "text-api", "--json")
    assert {e["access"] for e in json.loads(out)} == {"text-only"}
    code, out, _ = _run(capsys, "show", "prompt-tuning")
    assert "f's weights    frozen" in out and "program        insert" in out


# --- parameter-centric adaptation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "LoRA",
        "adapter",
        "BitFit",
        "fine-tuning",
        "full fine-tuning",
        "low-rank adaptation",
        "instruction tuning",
        "model merging",
    ],
)
def test_parameter_centric_names_resolve_with_relatives(capsys, real, name):
    resolution = real.resolve(name)
    assert resolution.parameter_centric, name
    for term in resolution.parameter_centric:
        assert term.f_weights is not FWeights.FROZEN
        assert all(r.method in real.methods for r in term.relatives)
    code, out, _ = _run(capsys, "resolve", *name.split())
    assert code == 0
    assert "parameter-centric adaptation (PCA), not reprogramming" in out
    assert "nearest reprogramming relatives" in out and resolution.parameter_centric[0].relatives[0].method in out


def test_prefix_tuning_stays_reprogramming(real):
    resolution = real.resolve("prefix tuning")
    assert resolution.terms and not resolution.parameter_centric
    assert "prefix-tuning" in {m.id for m in resolution.methods}


def test_suggestions_need_real_similarity(real):
    assert not any("reprogramming" in s.lower() for s in suggestions(real, "model mergers"))
    assert suggestions(real, "LMs") == []
    assert suggestions(real, "visual promting")[0] == "visual prompting"
    assert "prefix tuning" in suggestions(real, "prefix fine-tuning")


def test_a_parameter_centric_name_may_not_be_a_method_name(real):
    term = real.parameter_centric[0].model_copy(update={"variants": ["CoOp"]})
    with pytest.raises(CatalogError, match="already a name of method 'coop'") as info:
        CatalogData([_method(real, "coop", relations=[])], parameter_centric=[term])
    assert info.value.file == "parameter-centric.yaml" and info.value.field == "[0].variants[0]"


# --- layers: no import circle, no torch ----------------------------------------------------------------------------


def _relative_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
    return found


def test_catalog_modules_run_one_way_to_the_loader():
    """Only the facade (loader), the CLI and __init__ may import the loader: no module imports it back."""
    allowed = {"loader.py", "cli.py", "__init__.py", "crosscheck.py"}
    offenders = {
        path.name: _relative_imports(path) & {"loader"} for path in CATALOG_DIR.glob("*.py") if path.name not in allowed
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    assert "query" in _relative_imports(CATALOG_DIR / "loader.py")
    assert _relative_imports(CATALOG_DIR / "data.py") <= {"errors", "models"}


def test_loading_and_checking_the_catalog_imports_no_torch():
    code = (
        "import sys\n"
        "from reprogrammability.catalog import Catalog\n"
        "from reprogrammability.catalog.checks import check_catalog\n"
        "c = Catalog.load(cache=False); check_catalog(c); c.resolve('LoRA'); c.export('bibtex')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_nnr_catalog_check_entry_reports_misfits_before_the_validator(tmp_path, capsys, real):
    text = (CATALOG_DIR / "methods" / "blackvip.yaml").read_text(encoding="utf-8")
    dangling = tmp_path / "blackvip.yaml"
    dangling.write_text(text.replace("target: visual-prompting", "target: no-such-method"), encoding="utf-8")
    code, _, err = _run(capsys, "check", str(dangling))
    assert code == 1 and "[load]" in err and "unknown method id 'no-such-method'" in err
    dangling.write_text(text.replace("operator: [additive, parametric]", "operator: parametric"), encoding="utf-8")
    code, out, _ = _run(capsys, "check", str(dangling), "--json")
    assert code == 1 and [f["check"] for f in json.loads(out)] == ["axis-rules"]
    cyclic = real.methods["visual-prompting"].model_dump(mode="json", exclude_none=True)
    cyclic["relations"] = [{"type": "extends", "target": "blackvip"}]
    from reprogrammability.catalog.checks import check_entry

    findings = check_entry(real, MethodEntry.model_validate(cyclic).with_source("visual-prompting.yaml"))
    assert [f.check for f in findings] == ["load"] and "cycle" in findings[0].message


def test_exports_carry_f_weights_program_readout_and_first_public(real):
    import csv
    import io

    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(real.export("csv")))}
    cocoop = real.methods["cocoop"]
    assert rows["cocoop"]["f_weights"] == "frozen"
    assert rows["cocoop"]["program"] == "+".join(p.value for p in cocoop.program)
    assert rows["cocoop"]["readout"] == "+".join(r.value for r in cocoop.readout)
    assert rows["cocoop"]["first_public"] == (
        cocoop.paper.first_public.isoformat() if cocoop.paper.first_public else ""
    )
    trained = [p.id for p in real.papers.values() if p.f_weights is FWeights.TRAINED]
    assert trained and {rows[i]["f_weights"] for i in trained} == {"trained"}
    graph = real.graph()
    assert ("cocoop", "f_weights:frozen") in {(u, v) for u, v, d in graph.edges(data=True) if d["type"] == "f_weights"}
    assert "coop" in real.sharing_coordinates("cocoop", ["f_weights", "paradigm"])


def test_a_new_entry_outside_the_glossary_is_a_note_not_a_failure(tmp_path, capsys, monkeypatch):
    text = (CATALOG_DIR / "methods" / "blackvip.yaml").read_text(encoding="utf-8")
    new = tmp_path / "blackvip-two.yaml"
    new.write_text(
        text.replace("id: blackvip", "id: blackvip-two")
        .replace("name: Black-box visual prompting", "name: Another black-box prompt")
        .replace("acronym: BlackVIP", "acronym: BlackVIP2")
        .replace("'2303.14773'", "'2303.99999'")
        .replace("reprogramming.blackvip:build", "reprogramming.blackvip_two:build"),
        encoding="utf-8",
    )
    monkeypatch.setattr("reprogrammability.framework.validation_cli.run_catalog_check", lambda args: 0)
    code, _, err = _run(capsys, "check", str(new))
    assert code == 0 and "note: [glossary]" in err and "blackvip-two" in err


def test_first_public_after_the_venue_year_is_a_finding(real):
    late = _method(
        real, "ilm-vp", relations=[], paper_changes={"first_public": f"{real.methods['ilm-vp'].year + 1}-01-02"}
    )
    findings = check_time_order(CatalogData([late]))
    assert [(f.entry, f.field) for f in findings] == [("ilm-vp", "paper.first_public")]
    assert "after the venue year" in findings[0].message
