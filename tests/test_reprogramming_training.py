"""Short real training runs: the learned parts improve the target task, the frozen model stays unchanged."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.framework.training import Trainer
from reprogrammability.implementations import create_method, get_method
from reprogrammability.implementations.models.tiny import tiny_cnn


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _quadrants(n: int = 128, size: int = 16, seed: int = 1):
    """Class c = the quadrant holding a bright square, on a dim noisy background."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % 4
    images = 0.2 * torch.rand(n, 3, size, size, generator=generator)
    half = size // 2
    for i, c in enumerate(targets.tolist()):
        r, q = divmod(c, 2)
        images[i, :, r * half : (r + 1) * half, q * half : (q + 1) * half] += 0.7
    return images, targets


def test_ilm_vp_reprograms_a_frozen_cnn():
    inputs, targets = _quadrants()
    model = tiny_cnn(num_classes=20, width=16)
    reprogrammer = create_method("ilm-vp", model, num_classes=4, canvas_size=32, image_size=16)
    fingerprint = reprogrammer.frozen.fingerprint()
    trainer = Trainer(reprogrammer, epochs=10, batch_size=32, learning_rate=0.2, progress=False, device="cpu")
    trainer.fit_alignment((inputs, targets))
    before = trainer.evaluate((inputs, targets))["accuracy"]
    trainer.fit((inputs, targets))
    after = trainer.evaluate((inputs, targets))["accuracy"]
    assert after >= before + 0.2, (before, after)
    assert reprogrammer.frozen.fingerprint() == fingerprint
    reprogrammer.frozen.assert_unchanged()


@pytest.mark.parametrize("method", ["ilm-vp", "blm", "blm-plus"])
def test_per_epoch_refit_uses_the_epochs_logits_without_an_extra_pass(method):
    inputs, targets = _quadrants(64)
    model = tiny_cnn(num_classes=20, width=8)
    reprogrammer = create_method(method, model, num_classes=4, canvas_size=32, image_size=16)
    outputs: list[torch.Tensor] = []
    order: list[torch.Tensor] = []
    handle = reprogrammer.frozen.model.register_forward_hook(lambda m, a, out: outputs.append(out.detach().clone()))

    def loss_fn(logits, y):
        order.append(y.clone())
        return F.cross_entropy(logits, y)

    try:
        trainer = Trainer(
            reprogrammer, epochs=2, batch_size=16, learning_rate=0.1, progress=False, device="cpu", loss_fn=loss_fn
        )
        trainer.fit((inputs, targets))
    finally:
        handle.remove()
    steps = 64 // 16
    assert len(outputs) == steps + 2 * steps  # one fitting pass before training, then only the training steps
    reference = copy.deepcopy(reprogrammer.output)
    reference.fit(torch.cat(outputs[-steps:]), torch.cat(order[-steps:]))  # the last epoch's own logits
    torch.testing.assert_close(reprogrammer.output.omega, reference.omega)


def test_voice2series_learns_a_series_task_on_a_frozen_acoustic_model():
    from reprogrammability.implementations.reprogramming._common import tiny_audio_classifier

    generator = torch.Generator().manual_seed(0)
    targets = torch.arange(64) % 2
    t = torch.linspace(0, 1, 50)
    series = torch.sin(2 * torch.pi * (2 + 4 * targets[:, None]) * t) + 0.3 * torch.randn(64, 50, generator=generator)
    # the tiny acoustic model pools globally, so the program must overlap the series: placement="repeat"
    reprogrammer = create_method(
        "voice2series",
        tiny_audio_classifier(30),
        num_classes=2,
        series_length=50,
        target_length=256,
        labels_per_class=3,
        placement="repeat",
    )
    trainer = Trainer(reprogrammer, epochs=15, batch_size=32, learning_rate=0.1, progress=False, device="cpu")
    before = trainer.evaluate((series, targets))
    trainer.fit((series, targets))
    after = trainer.evaluate((series, targets))
    assert after["loss"] < before["loss"] - 0.03 and after["accuracy"] >= before["accuracy"] + 0.3
    reprogrammer.frozen.assert_unchanged()


def test_time_llm_forecast_error_falls_on_a_frozen_tiny_llama():
    reprogrammer, _, _ = get_method("time-llm").example()
    generator = torch.Generator().manual_seed(1)
    t = torch.arange(40, dtype=torch.float32)
    series = torch.sin(t / 3.0 + torch.rand(64, 1, generator=generator) * 6.28)
    inputs, horizon = series[:, :32].contiguous(), series[:, 32:].contiguous()
    trainer = Trainer(
        reprogrammer, epochs=12, batch_size=16, learning_rate=0.01, progress=False, device="cpu", loss_fn=F.mse_loss
    )
    before = trainer.evaluate((inputs, horizon))["loss"]
    trainer.fit((inputs, horizon))
    after = trainer.evaluate((inputs, horizon))["loss"]
    assert after < 0.1 * before, (before, after)  # far below predicting the window mean (MSE ≈ 0.5)
    reprogrammer.frozen.assert_unchanged()
