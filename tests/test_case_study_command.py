"""``nnr case-study``: the three paradigms on the frozen dual encoder (the --quick run), its arguments and its page."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from reprogrammability.case_study import file_names, parse_seeds, summary_sentences
from reprogrammability.case_study.runner import METHOD_ROWS, margins
from reprogrammability.cli import main


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("case-study") / "out"
    import io
    from contextlib import redirect_stdout

    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["case-study", "--quick", "--output", str(output)])
    names = file_names("fashion-mnist")
    report = json.loads((output / names["report"]).read_text())
    return code, printed.getvalue(), report, output


def test_quick_run_prints_every_row_and_keeps_f_frozen(quick_run):
    code, printed, report, _ = quick_run
    assert code == 0
    rows = {row["key"]: row for row in report["rows"]}
    assert list(rows) == [row.key for row in METHOD_ROWS]
    for row in METHOD_ROWS:
        assert row.label in printed
    before = report["fingerprint_before"]
    assert len(before) == 64 and report["fingerprint_unchanged"] is True
    for key, row in rows.items():  # every row runs on the dual encoder: none may fall back to "not run"
        assert row["status"] == "ok", (key, row.get("error"))
        assert len(row["accuracy_per_seed"]) == 1, key
        assert all(math.isfinite(a) and 0.0 <= a <= 1.0 for a in row["accuracy_per_seed"]), key
        assert math.isfinite(row["accuracy_mean"]), key
        assert row["fingerprint_after"] == [before] * len(row["fingerprint_after"])
        assert row["coordinates"].startswith("λ=")
    assert "f's fingerprint unchanged after every run: yes" in printed


def test_quick_run_counts_the_parameters_each_method_trains(quick_run):
    """CoOp: 4 context vectors ("a photo of a") of MiniLM's width 384; the padding program: 3 × 112 × 112."""
    _, _, report, _ = quick_run
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["coop"]["trainable_parameters"] == 4 * 384
    assert rows["vr-identity"]["trainable_parameters"] == 3 * 112 * 112
    assert rows["vr-flm"]["trainable_parameters"] == 3 * 112 * 112
    assert rows["vr+coop"]["trainable_parameters"] == 3 * 112 * 112 + 4 * 384
    assert rows["vr-flm"]["alignment"] == ["statistical"]
    assert {p["location"] for p in rows["vr+coop"]["parts"]} == {"input", "embedding"}
    assert rows["coop"]["train_seconds_per_seed"][0] > 0


def test_quick_run_writes_the_figures(quick_run):
    _, _, report, output = quick_run
    names = file_names("fashion-mnist")
    assert (output / names["paths"]).read_bytes().lstrip().startswith(b"<?xml")
    assert (output / names["programs"]).read_bytes().startswith(b"\x89PNG")
    assert report["budget"]["train_images"] == 20 and report["seeds"] == [0]
    assert report["machine"]["processor"] and report["versions"]["torch"]
    assert len(report["alignment_sha256"]) == 64


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--task", "cifar"], "--task"),
        (["--seeds", "a,b"], "--seeds"),
        (["--seeds", "1,1"], "--seeds"),
        (["--seeds", "-3"], "--seeds"),
    ],
)
def test_bad_arguments_are_rejected_before_any_work(argv, named, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["case-study", *argv])
    assert exit.value.code == 2
    assert named in capsys.readouterr().err


def test_an_output_that_is_a_file_is_rejected(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(SystemExit) as exit:
        main(["case-study", "--output", str(file)])
    assert exit.value.code == 2
    assert "--output" in capsys.readouterr().err


def test_parse_seeds():
    assert parse_seeds("0, 1,2") == [0, 1, 2]
    assert parse_seeds("7") == [7]


def _report(**accuracies):
    rows = []
    for key, (trained, values) in accuracies.items():
        mean = sum(values) / len(values)
        rows.append(
            {
                "key": key,
                "paradigm": "prompt tuning" if trained else "prompt instruction",
                "method": key.upper(),
                "trained": trained,
                "accuracy_per_seed": values,
                "accuracy_mean": mean,
                "accuracy_std": 0.0,
                "train_seconds_mean": 1.0,
                "coordinates": "λ=fixed τ=concatenative ℓ=input ω=identity",
                "trainable_parameters": 0,
                "alignment": ["identity"],
                "parts": [{"location": "input", "tower": "text", "operator": "concatenative"}],
            }
        )
    return {"task": "fashion-mnist", "chance": 0.1, "rows": rows}


def test_margins_compare_each_learned_method_with_the_best_fixed_prompt():
    report = _report(template=(False, [0.20]), ensemble=(False, [0.25]), coop=(True, [0.5, 0.6]))
    computed = margins(report)
    assert computed["best_fixed"] == "ensemble"
    assert computed["best_fixed_over_chance"] == pytest.approx(2.5)
    assert computed["template_over_chance"] == pytest.approx(2.0)
    assert computed["over_best_fixed"] == {"coop": pytest.approx(0.30)}
    report["margins"] = computed
    assert "COOP: +30.0 points over the best fixed prompt." in summary_sentences(report)


def test_case_study_page_renders_a_report_and_says_when_there_is_none(tmp_path):
    from reprogrammability.docs_gen.pages.case_study import PAGE, pages

    empty = pages(SimpleNamespace(results_dir=tmp_path))
    assert "No result yet: run `nnr case-study --task fashion-mnist`" in empty[PAGE]
    report = _report(template=(False, [0.20]), coop=(True, [0.5, 0.6]))
    report.update(
        seeds=[0, 1],
        mode="full",
        command="nnr case-study --task fashion-mnist --seeds 0,1",
        budget={
            "shots_per_class": 16,
            "train_images": 160,
            "epochs": 4,
            "batch_size": 32,
            "learning_rates": {"context": 0.005},
            "test_images": 500,
            "canvas": 112,
            "program_image": 64,
        },
        seconds=120.0,
        machine={"torch_threads": 1},
        versions={"torch": "2"},
        fingerprint_before="ab" * 32,
        fingerprint_unchanged=True,
    )
    report["rows"][1]["accuracy_std"] = 0.0707
    report["margins"] = margins(report)
    folder = tmp_path / "case_study_fashion-mnist"
    folder.mkdir()
    (folder / "case_study_fashion-mnist.json").write_text(json.dumps(report))
    (folder / "case_study_fashion-mnist_programs.png").write_bytes(b"\x89PNG fake")
    out = pages(SimpleNamespace(results_dir=tmp_path))
    page = out[PAGE]
    assert "| prompt tuning | COOP | λ=fixed τ=concatenative ℓ=input ω=identity | 0 | 55.0 ± 7.1 % | 1 s |" in page
    assert "| prompt instruction | TEMPLATE |" in page and "20.0 (fixed) %" in page
    assert "COOP: +35.0 points over the best fixed prompt." in page
    assert "`nnr case-study --task fashion-mnist --seeds 0,1`" in page
    assert out["case-study-fashion-mnist-paths.svg"].lstrip().startswith(b"<?xml")
    assert out["case-study-fashion-mnist-programs.png"] == b"\x89PNG fake"
    assert "No result yet: run `nnr case-study --task digits`" in page
