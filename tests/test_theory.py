"""The propositions of ``reprogrammability.framework.theory``: every check passes at fast shapes, every
deliberately broken variant fails, the metadata is complete, and ``nnr theory`` works."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reprogrammability.cli import main
from reprogrammability.framework import theory
from reprogrammability.framework.theory.results import DEFAULT_PATH, THOROUGH_PATH, load_report

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = [(p.id, name) for p in theory.PROPOSITIONS for name in p.variants]


@pytest.fixture(scope="module")
def results():
    """Every check once at the default (fast) shapes, seed 0."""
    return {result.proposition: result for result in theory.run_all()}


@pytest.mark.parametrize("proposition_id", theory.ids())
def test_check_passes_with_a_measured_residual(results, proposition_id):
    result = results[proposition_id]
    assert result.passed, result.to_dict()
    assert result.instances >= 1
    assert result.value == result.value  # a number, not NaN
    if theory.get(proposition_id).kind == "identity":
        assert 0.0 <= result.value <= 1e-11


@pytest.mark.parametrize(("proposition_id", "variant"), VARIANTS)
def test_broken_variant_fails(proposition_id, variant):
    result = theory.get(proposition_id).run(variant=variant)
    assert not result.passed, f"the broken variant {variant!r} of {proposition_id} passed: {result.to_dict()}"


def test_checks_depend_on_the_seed_not_on_luck():
    first, second = (theory.get("icl-one-gd-step").run(seed=s) for s in (0, 1))
    assert first.passed and second.passed
    assert first.measurements != second.measurements


def test_limitation_numbers(results):
    """The constructed counterexamples separate prompts from LoRA by a wide margin."""
    prefix = results["prefix-relative-attention"].measurements
    assert prefix["prefix_normalised_mse_best"] > 10 * prefix["lora_rank1_normalised_mse"]
    assert prefix["lora_trainable_parameters"] < prefix["prefix_trainable_parameters_max"]
    prompt = results["prompt-tuning-limits"].measurements
    best_prompt = min(v for k, v in prompt.items() if k.startswith("prompt_length_"))
    assert best_prompt > 1e3 * max(prompt["lora_rank2_error"], 1e-12)


def test_every_proposition_is_complete_and_cites_its_source():
    from reprogrammability.catalog import Catalog

    methods = set(Catalog.load().methods)
    for proposition in theory.PROPOSITIONS:
        assert proposition.statement.count("$") % 2 == 0, proposition.id
        assert proposition.assumptions and proposition.how and proposition.variants, proposition.id
        assert set(proposition.methods) <= methods, (proposition.id, set(proposition.methods) - methods)
        assert any(source.arxiv for source in proposition.sources), proposition.id
        for source in proposition.sources:
            assert source.year > 1900 and source.venue and source.authors and source.title, source
            assert source.arxiv is None or re.fullmatch(r"\d{4}\.\d{4,5}", source.arxiv), source
        proposition.check_function()  # the check is importable


def test_for_method_links_propositions():
    assert [p.id for p in theory.for_method("prefix-tuning")] == ["prefix-gating", "prefix-relative-attention"]
    assert theory.for_method("no-such-method") == []


def test_bad_ids_and_variants_name_the_allowed_values():
    with pytest.raises(KeyError, match="allowed: prefix-gating"):
        theory.get("nope")
    with pytest.raises(ValueError, match="allowed: swapped-gate, wrong-gate"):
        theory.get("prefix-gating").run(variant="nope")


def test_importing_theory_does_not_import_torch():
    code = "import sys, reprogrammability.framework.theory as t; t.PROPOSITIONS; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_cli_list(capsys):
    assert main(["theory", "list"]) == 0
    out = capsys.readouterr().out
    assert all(pid in out for pid in theory.ids())
    assert main(["theory", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == theory.ids()


def test_cli_check_one_and_errors(capsys, tmp_path):
    output = tmp_path / "theory.json"
    assert main(["theory", "check", "icl-one-gd-step", "--json", "--output", str(output)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["proposition"] for row in report["results"]] == ["icl-one-gd-step"]
    assert report["results"][0]["passed"] and report["seed"] == 0
    assert json.loads(output.read_text())["versions"]["torch"]
    assert main(["theory", "check", "icl-one-gd-step", "--variant", "wrong-sign"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["theory", "check", "nope"]) == 2
    assert "allowed:" in capsys.readouterr().err


def test_committed_results_cover_every_proposition():
    report = load_report(ROOT / DEFAULT_PATH)
    assert report is not None, f"run: {theory.results.COMMAND}"
    assert [row["proposition"] for row in report["results"]] == theory.ids()
    assert all(row["passed"] for row in report["results"])
    assert {(row["proposition"], row["variant"]) for row in report["broken_variants"]} == set(VARIANTS)
    assert not any(row["passed"] for row in report["broken_variants"])
    assert report["machine"] and report["versions"]["torch"] and report["seed"] == 0
    thorough = load_report(ROOT / THOROUGH_PATH)
    assert thorough is not None, f"run: {theory.results.THOROUGH_COMMAND}"
    assert thorough["thorough"] and thorough["command"] == theory.results.THOROUGH_COMMAND
    assert [row["proposition"] for row in thorough["results"]] == theory.ids()
    assert all(row["passed"] and row["thorough"] for row in thorough["results"])
    for small, large in zip(report["results"], thorough["results"]):
        assert large["instances"] >= small["instances"], large["proposition"]


def test_theory_page_renders_statements_sources_and_measured_values():
    from reprogrammability.docs_gen.pages.theory import theory_page

    report = load_report(ROOT / DEFAULT_PATH)
    page = theory_page(report, load_report(ROOT / THOROUGH_PATH))
    for proposition in theory.PROPOSITIONS:
        assert f"## {proposition.title}" in page
        assert proposition.statement in page
        assert all(f"arXiv:{source.arxiv}" in page for source in proposition.sources if source.arxiv)
        assert all(source.title in page for source in proposition.sources)
    for row in report["results"]:
        assert f"{row['value']:.3g}" in page
    assert page.count("With `--thorough`:") == len(theory.PROPOSITIONS)
    assert ": not run." not in page and "the check is vacuous" not in page
    assert "No results yet" in theory_page(None)


def test_method_pages_link_their_propositions():
    from reprogrammability.docs_gen.pages.theory import method_theory_lines

    lines = method_theory_lines("methods/prefix-tuning.md", "prefix-tuning")
    assert lines[0] == "## Theory"
    assert "(../theory.md#prefix-tuning-is-a-gated-interpolation-of-two-attentions)" in "\n".join(lines)
    assert method_theory_lines("methods/chain-of-thought.md", "chain-of-thought") == []
