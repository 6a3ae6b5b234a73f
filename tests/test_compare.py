"""`nnr compare` (issue 18): the core's row arithmetic, the command's argument checks, and the vision setting's
quick run (every method a few steps on the real frozen EfficientNet-Lite0, f untouched)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from reprogrammability.cli import main
from reprogrammability.compare import core


def _facts(**overrides):
    values = dict(
        method="m",
        label="M",
        family="RCA",
        paradigm="model-reprogramming",
        coordinates="λ=learnable τ=additive ℓ=input ω=statistical",
        access="gradient",
        keeps_f_frozen=True,
        trainable_parameters=100,
        f_parameters=1000,
        adaptation_bytes=480,
    )
    values.update(overrides)
    return core.MethodFacts(**values)


def test_make_row_aggregates_seeds_and_time_to_target():
    runs = [
        core.SeedRun(_facts(), 0.6, [0.1] * 4, [(2, 0.4), (4, 0.6)]),
        core.SeedRun(_facts(), 0.8, [0.3] * 4, [(2, 0.55), (4, 0.8)]),
        core.SeedRun(_facts(), 0.4, [0.2] * 4, [(2, 0.3), (4, 0.4)]),
    ]
    row = core.make_row(runs, target_accuracy=0.5)
    assert row["accuracy"]["mean"] == pytest.approx(0.6)
    assert row["accuracy"]["std"] == pytest.approx(0.2)  # sample std of 0.4, 0.6, 0.8
    assert row["accuracy"]["per_seed"] == [0.6, 0.8, 0.4]
    assert row["fraction_of_f"] == pytest.approx(0.1)
    assert row["step_time_s"]["mean"] == pytest.approx(0.2)
    # seed 0 reaches 0.5 at step 4 (0.4 s), seed 1 at step 2 (0.6 s), seed 2 never
    assert row["seeds_reaching_target"] == 2
    assert row["steps_to_target"] == 3
    assert row["time_to_target_s"] == pytest.approx(0.5)
    assert core.make_row(runs[2:], target_accuracy=0.5)["time_to_target_s"] is None


def test_facts_reject_unknown_family_and_paradigm():
    with pytest.raises(ValueError, match="family"):
        _facts(family="LoRA")
    with pytest.raises(ValueError, match="paradigm"):
        _facts(paradigm="fine-tuning")
    with pytest.raises(ValueError, match="target_accuracy"):
        core.Budget(steps=1, batch_size=1, lr_policy="x", target_accuracy=1.5)


def test_train_steps_times_steps_and_checkpoints_outside_them():
    calls = []
    seconds, checkpoints = core.train_steps(calls.append, 5, evaluate=lambda: len(calls) / 5, eval_every=2)
    assert calls == [0, 1, 2, 3, 4] and len(seconds) == 5
    assert checkpoints == [(2, 0.4), (4, 0.8), (5, 1.0)]


def test_adaptation_bytes_is_the_safetensors_size():
    import torch

    small = core.adaptation_bytes({"w": torch.zeros(10)})
    large = core.adaptation_bytes({"w": torch.zeros(1010)})
    assert 4000 <= large - small <= 4016  # 1000 more float32 values (+ a longer, 8-byte aligned header)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--setting", "vision-mnist"], "--setting"),
        (["--seeds", "-1"], "--seeds"),
        (["--seeds", "zero"], "--seeds"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_bad_arguments_fail_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "allowed" in err or "invalid choice" in err


def test_bad_values_checked_before_any_work(tmp_path, capsys):
    code = main(["compare", "--setting", "vision-digits", "--seeds", "0", "0", "--output", str(tmp_path)])
    assert code == 2 and "--seeds" in capsys.readouterr().err
    code = main(["compare", "--setting", "vision-digits", "--methods", "lora", "prefix", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "--methods" in err and "prefix" in err and "vr-flm" in err
    assert list(tmp_path.iterdir()) == []


def test_importing_compare_does_not_import_torch():
    code = "import sys, reprogrammability.compare as c; c.settings(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture(scope="module")
def quick_digits():
    """The quick vision-digits setting, prepared once."""
    from reprogrammability.compare.vision import VisionSetting

    setting = VisionSetting("digits", "vision-digits")
    setting.prepare(quick=True, log=lambda text: None)
    return setting


def test_quick_vision_run_every_method_leaves_f_untouched(quick_digits, tmp_path):
    import torch

    before = {k: v.clone() for k, v in quick_digits.network.state_dict().items()}
    rows = core.run_setting(quick_digits, [0])
    document = core.results_document(quick_digits, rows, [0], "nnr compare --quick", 1.0)
    path = core.write_results(document, tmp_path, quick=True)
    assert path.name == "compare_vision_digits_quick.json"
    saved = json.loads(path.read_text())
    assert saved["schema"] == "nnr-compare/1" and saved["task"]["classes"] == 10
    by = {row["method"]: row for row in saved["rows"]}
    assert list(by) == quick_digits.method_names()
    # f itself never changes, whatever the method (PCA rows train a copy)
    after = quick_digits.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in quick_digits.network.parameters())
    f = quick_digits.f_parameters
    classifier = 1280 * 1000 + 1000
    assert by["linear-probe"]["trainable_parameters"] == 1280 * 10 + 10
    assert by["full-ft"]["trainable_parameters"] == f - classifier + 1280 * 10 + 10
    assert by["vr-flm"]["trainable_parameters"] == 3 * 32 * 32  # the program covers the canvas (masked frame)
    assert by["vr-linear"]["trainable_parameters"] == 3 * 32 * 32 + 1000 * 10 + 10
    assert by["full-ft"]["adaptation_bytes"] > 4 * by["full-ft"]["trainable_parameters"]
    assert by["bar"]["access"] == "zeroth-order" and by["bar"]["queries"] > 0
    for name, row in by.items():
        assert 0.0 <= row["accuracy"]["mean"] <= 1.0, name
        assert row["keeps_f_frozen"] == (name not in ("full-ft", "bitfit")), name
        assert (row["coordinates"] is None) == (row["family"] == "PCA"), name
        assert row["peak_train_memory_bytes"] > 0, name
        assert math.isfinite(row["inference_overhead"]["extra_time_ratio"]), name
    assert by["lora"]["inference_overhead"]["extra_flops"] > by["full-ft"]["inference_overhead"]["extra_flops"]


def test_lora_and_adapter_start_from_f(quick_digits):
    """The zero-initialised LoRA B and adapter up-projection leave f's features unchanged before training."""
    import torch

    x = quick_digits.pca_test[:4]
    with torch.no_grad():
        reference = quick_digits.network.features(x)
        for method in ("lora", "adapter"):
            forward, *_ = quick_digits._pca_model(method)
            model = getattr(forward, "base_model", forward)
            assert torch.allclose(model.features(x), reference, atol=1e-5), method


def test_cli_quick_writes_the_quick_file_only(tmp_path, capsys):
    code = main(
        ["compare", "--setting", "vision-digits", "--quick", "--seeds", "0", "--methods", "linear-probe", "vr-flm"]
        + ["--output", str(tmp_path), "--no-progress"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "linear-probe" in out and "vr-flm" in out and "accuracy" in out
    files = [p.name for p in tmp_path.iterdir()]
    assert files == ["compare_vision_digits_quick.json"]
    saved = json.loads((tmp_path / files[0]).read_text())
    assert [row["method"] for row in saved["rows"]] == ["linear-probe", "vr-flm"]
    assert saved["command"].startswith("nnr compare --setting vision-digits --seeds 0 --quick")
