"""The Trainer's performance options: no host reads in the hot loop, channels-last, torch.compile.

What each option does is checked here (same results, the frozen model untouched, the option in
effect); whether it is faster is measured by ``nnr bench``, not asserted in tests.
"""

from __future__ import annotations

import pytest
import torch

from reprogrammability.bench import count_host_syncs, host_syncs_per_step
from reprogrammability.framework import Reprogrammer
from reprogrammability.framework.errors import FrozenModelError
from reprogrammability.framework.training import Trainer, TrainerConfig
from reprogrammability.implementations.models.tiny import tiny_cnn
from reprogrammability.implementations.reprogramming.label_mapping import (
    FrequencyLabelMapping,
    IterativeLabelMapping,
)
from reprogrammability.implementations.reprogramming.programs import PaddingProgram


def reprogrammer(output=None):
    return Reprogrammer(
        tiny_cnn(seed=1), PaddingProgram(32, 24), output or FrequencyLabelMapping(10, 4), paradigm="model-reprogramming"
    )


def data(n=32):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 4
    return (0.2 * y.float().view(-1, 1, 1, 1) + 0.3 * torch.rand(n, 3, 24, 24, generator=g)).clamp(0, 1), y


def test_training_steps_read_nothing_back_from_the_device():
    counted = host_syncs_per_step()
    assert counted["per_step"] == 0, counted
    # the epoch-end reads are there (loss and accuracy become floats once per epoch) and are found
    assert any("__float__ training.py" in call for call in counted["per_fit"]["2"])


def test_the_sync_counter_finds_a_read_in_every_step():
    """A loss that calls .item() is a host read per step: the counter sees one per step."""

    def loss_with_item(logits, targets):
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.item()
        return loss

    counts = []
    for steps in (2, 5):
        images, labels = data(4 * steps)
        trainer = Trainer(reprogrammer(), epochs=1, batch_size=4, progress=False, loss_fn=loss_with_item)
        counts.append(len(count_host_syncs(lambda: trainer.fit((images, labels)))))
    assert counts[1] - counts[0] == 3


def test_a_statistical_alignment_answers_is_fitted_from_the_host_after_fit():
    mapping = IterativeLabelMapping(10, 4)
    assert not mapping.is_fitted
    mapping.fit(torch.randn(16, 10), torch.arange(16) % 4)
    assert mapping.is_fitted
    assert count_host_syncs(lambda: mapping.is_fitted) == []
    # loading an unfitted state makes it unfitted again (the buffer is read again once)
    mapping.load_state_dict(IterativeLabelMapping(10, 4).state_dict())
    assert not mapping.is_fitted
    fitted = IterativeLabelMapping(10, 4).fit(torch.randn(16, 10), torch.arange(16) % 4)
    mapping.load_state_dict(fitted.state_dict())
    assert mapping.is_fitted and torch.equal(mapping.omega, fitted.omega)


def test_channels_last_gives_the_same_training_and_leaves_f_unchanged():
    images, labels = data()
    results = {}
    for option in (False, True):
        r = reprogrammer()
        fingerprint = r.frozen.fingerprint()
        result = Trainer(r, epochs=2, batch_size=8, learning_rate=0.1, progress=False, channels_last=option).fit(
            (images, labels)
        )
        conv = r.frozen.model.layer1[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last) is option
        assert r.frozen.fingerprint() == fingerprint  # same values, whatever the layout
        results[option] = (r.learned_state()["inputs.0.program"], result.final["loss"])
    torch.testing.assert_close(results[True][0], results[False][0], atol=1e-5, rtol=1e-4)
    assert results[True][1] == pytest.approx(results[False][1], rel=1e-5)
    assert results[True][0].abs().max() > 0  # it trained


def test_the_write_check_follows_layout_changes():
    """After f's tensors are converted (a new layout means new storage) an in-place write is still caught."""
    r = reprogrammer()
    r.to(memory_format=torch.channels_last)
    images, _ = data(4)
    r.source_outputs(images)  # no false alarm after the conversion
    with torch.no_grad():
        r.frozen.model.layer1[0].weight.mul_(1.0)
    with pytest.raises(FrozenModelError, match="layer1.0.weight"):
        r.source_outputs(images)


def test_new_options_are_validated_and_default_off():
    config = TrainerConfig()
    assert (config.channels_last, config.compile, config.distributed) == (False, False, "auto")
    with pytest.raises(ValueError, match="distributed"):
        TrainerConfig(distributed="always")


@pytest.mark.slow
def test_compile_gives_the_same_training():
    """torch.compile of f (minutes of compiling on a small CPU)."""
    images, labels = data(16)
    programs = []
    for option in (False, True):
        r = reprogrammer()
        Trainer(r, epochs=1, batch_size=8, learning_rate=0.1, progress=False, compile=option).fit((images, labels))
        assert (getattr(r.frozen.model, "_compiled_call_impl", None) is not None) is option
        r.frozen.assert_unchanged()
        programs.append(r.learned_state()["inputs.0.program"])
    # Adam's first steps divide by √v, so float differences of the compiled kernels show up at ~1e-5
    torch.testing.assert_close(programs[1], programs[0], atol=1e-4, rtol=1e-3)
