"""The Trainer's mixed-precision option and its CUDA data path, checked on CPU.

``amp="auto"`` (the default) is bf16 autocast on CUDA and nothing on CPU, so on CPU it must give the
same bits as ``amp="off"``; ``amp="bf16"`` runs the autocast path on CPU too (the path a GPU takes),
and training must still learn with f untouched.
"""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from reprogrammability.framework import Reprogrammer
from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.training import Trainer, TrainerConfig
from reprogrammability.implementations.models.tiny import tiny_cnn
from reprogrammability.implementations.reprogramming.programs import PaddingProgram


def _problem():
    """Class c > 0 lights colour channel c − 1 (class 0: dark): learnable through f with a padding program
    and a linear head."""
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(48) % 4
    x = 0.2 * torch.rand(48, 3, 24, 24, generator=generator)
    for channel in range(3):
        x[:, channel] += 0.8 * (y == channel + 1).float().view(-1, 1, 1)
    torch.manual_seed(0)
    model = Reprogrammer(
        tiny_cnn(seed=1), PaddingProgram(32, 24), LinearAlignment(10, 4), paradigm="model-reprogramming"
    )
    return model, x, y


def _train(amp, watch: list | None = None):
    model, x, y = _problem()
    if watch is not None:  # the dtype of f's output inside the training steps
        model.frozen.model.register_forward_hook(lambda module, args, out: watch.append(out.dtype))
    result = Trainer(model, epochs=6, batch_size=16, learning_rate=0.2, amp=amp, device="cpu", progress=False).fit(
        (x, y)
    )
    return model, result


def test_amp_spellings_and_a_clear_error():
    assert TrainerConfig().amp == "auto"
    assert TrainerConfig(amp=True).amp == "auto" and TrainerConfig(amp=False).amp == "off"
    with pytest.raises(ValidationError, match="amp"):
        TrainerConfig(amp="fp16")


def test_amp_auto_changes_nothing_on_cpu():
    default, default_result = _train("auto")
    off, off_result = _train("off")
    for name, value in default.learned_state().items():
        assert torch.equal(value, off.learned_state()[name]), name
    assert default_result.history[-1]["loss"] == off_result.history[-1]["loss"]


def test_amp_bf16_trains_under_autocast_on_cpu_with_f_untouched():
    seen: list = []
    model, result = _train("bf16", watch=seen)
    full, full_result = _train("off")
    assert torch.bfloat16 in seen  # f really ran under bf16 autocast
    program = model.learned_state()["inputs.0.program"]
    assert program.abs().max() > 0.01  # gradients reached the program through f under autocast
    assert program.dtype == torch.float32  # the learned parts stay float32 (autocast casts, it does not convert)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.85 * losses[0], losses
    # bf16 rounds differently from float32, so the programs differ, but the training is the same one:
    # the epoch losses agree to within bf16's resolution
    assert not torch.equal(program, full.learned_state()["inputs.0.program"])
    full_losses = [h["loss"] for h in full_result.history]
    assert losses == pytest.approx(full_losses, rel=torch.finfo(torch.bfloat16).eps)
    model.frozen.assert_unchanged()


def test_batches_are_pinned_for_cuda_only(monkeypatch):
    model, x, y = _problem()
    assert not Trainer(model, device="cpu").loader((x, y), shuffle=False).pin_memory
    # building a loader touches no GPU, so the CUDA data path's set-up can be checked on a CPU-only machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert Trainer(model, device="cuda").loader((x, y), shuffle=False).pin_memory
