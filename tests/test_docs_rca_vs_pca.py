"""The "RCA vs PCA" docs page is computed from the compare results: tested on a small synthetic results folder."""

from __future__ import annotations

import json

import pytest

from reprogrammability.compare import core
from reprogrammability.docs_gen.pages import rca_vs_pca


def _row(method, family, params, accuracies, paradigm=None, extra=None):
    facts = core.MethodFacts(
        method=method,
        label=method.upper(),
        family=family,
        paradigm=paradigm or ("parameter-centric" if family == "PCA" else "model-reprogramming"),
        coordinates=None if family == "PCA" else "λ=learnable τ=additive ℓ=input ω=statistical",
        access="zeroth-order" if extra else "gradient",
        keeps_f_frozen=family == "RCA",
        trainable_parameters=params,
        f_parameters=2_000_000,
        adaptation_bytes=4 * params,
    )
    runs = [
        core.SeedRun(facts, a, [0.01] * 10, [(5, a / 2), (10, a)], queries=100 if extra else None, extra=extra or {})
        for a in accuracies
    ]
    return core.make_row(runs, target_accuracy=0.5)


def _document(setting, rows, steps=10):
    return {
        "schema": "nnr-compare/1",
        "setting": setting,
        "model": {"name": "f", "parameters": 2_000_000},
        "task": {"name": "t", "source": "s", "license": "CC0", "train": 100, "test": 50, "classes": 10},
        "budget": {"steps": steps, "batch_size": 8, "lr_policy": "Adam", "target_accuracy": 0.5, "eval_every": 5},
        "seeds": [0, 1, 2],
        "machine": {"cpu_count": 2, "torch_threads": 1},
        "versions": {"torch": "x"},
        "command": f"nnr compare --setting {setting}",
        "wall_s": 60.0,
        "rows": rows,
        "notes": ["a note"],
    }


@pytest.fixture
def results(tmp_path):
    bar_extra = {"checkpoints": [[5, 0.12], [10, 0.15]], "start_accuracy": 0.3, "queries_per_step": 10.0}
    main = [
        _row("full-ft", "PCA", 1_000_000, [0.90, 0.92, 0.94]),
        _row("bitfit", "PCA", 50_000, [0.80, 0.82, 0.84]),
        _row("linear-probe", "PCA", 1_000, [0.70, 0.72, 0.74]),
        _row("vr-flm", "RCA", 1_000, [0.40, 0.43, 0.44]),
        _row("vr-ilm", "RCA", 1_000, [0.50, 0.52, 0.54]),
    ]
    long = [_row("linear-probe", "PCA", 1_000, [0.8, 0.8, 0.8]), _row("vr-flm", "RCA", 1_000, [0.75, 0.77, 0.79])]
    long.append(_row("bar", "RCA", 1_000, [0.15, 0.15, 0.15], extra=bar_extra))
    (tmp_path / "compare_vision_digits.json").write_text(json.dumps(_document("vision-digits", main)))
    (tmp_path / "compare_vision_digits_long.json").write_text(json.dumps(_document("vision-digits-long", long, 30)))
    (tmp_path / "compare_vision_digits_quick.json").write_text(json.dumps(_document("vision-quick", main[:1])))
    return tmp_path


def test_page_numbers_are_computed_from_the_results(results):
    documents = rca_vs_pca.load_results(results)
    assert [d["setting"] for d in documents] == ["vision-digits", "vision-digits-long"]  # _quick left out
    out = rca_vs_pca.render(documents)
    assert set(out) == {
        "results/rca-vs-pca.md",
        "results/rca-vs-pca-vision-digits.svg",
        "results/rca-vs-pca-vision-digits-long.svg",
        "results/rca-vs-pca-queries-vision-digits-long.svg",
    }
    page = out["results/rca-vs-pca.md"]
    # 1,000 of 1,000,000: 10^-3.0 of full fine-tuning's parameters, 92 - 42.3 = 49.7 points less
    assert "VR-FLM trains 10^-3.0 (1.0e-03) of full fine-tuning's parameters for 49.7 points less accuracy" in page
    # orders against the median RCA count (1,000): full FT 3.0, BitFit 1.7, linear probe 0.0
    assert "FULL-FT: 3.0; BITFIT: 1.7; LINEAR-PROBE: 0.0" in page
    assert "holds against: FULL-FT" in page
    assert "**The data contradict the claim** against BITFIT (1.7 orders), LINEAR-PROBE (0.0 orders)" in page
    assert "**trails** the best PCA row (FULL-FT, 92.0 %) by 40.0 points" in page
    # ILM − FLM paired over 3 seeds: differences 0.10, 0.09, 0.10 -> mean 9.7, t = 29.0 > 4.30
    assert "ILM − FLM on vision-digits: +9.7 ± 0.6 points over 3 paired seeds" in page
    assert "t = 29.00" in page and "**real**" in page
    # budget table: VR-FLM gap to the probe 42.33 - 72.0 = -29.7 at 10 steps, 77 - 80 = -3.0 at 30 steps
    assert "| VR-FLM | 42.3 ± 2.1 | 77.0 ± 2.0 | -29.7 → -3.0 |" in page
    # BAR's curve: 30 % before training, 15 % after 100 queries
    assert "| BAR | 0 | 30.0 ± 0.0 |" in page and "| BAR | 100 | 15.0 ± 0.0 |" in page
    assert "30.0 % before training" in page and "(-15.0 points)" in page
    assert out["results/rca-vs-pca-vision-digits.svg"].startswith(b"<?xml")


def test_page_without_results_says_so(tmp_path):
    page = rca_vs_pca.render(rca_vs_pca.load_results(tmp_path))["results/rca-vs-pca.md"]
    assert "No results yet" in page


def test_paired_difference_needs_two_seeds():
    assert rca_vs_pca.paired_difference([0.5], [0.4]) is None
    test = rca_vs_pca.paired_difference([0.5, 0.6, 0.7], [0.5, 0.5, 0.5])
    assert test["mean"] == pytest.approx(0.1) and test["critical"] == 4.30
