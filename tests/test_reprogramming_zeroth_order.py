"""Zeroth-order estimators: agreement with the true gradient grows with the number of queries; trainer use."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.framework.training import Trainer
from reprogrammability.implementations import create_method
from reprogrammability.implementations.models.tiny import tiny_cnn
from reprogrammability.implementations.reprogramming import bar, blackvip
from reprogrammability.implementations.reprogramming.zeroth_order import (
    RandomGradientEstimator,
    SPSAEstimator,
    cosine_similarity,
    expected_rgf_cosine,
    flat_gradient,
    true_gradient,
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _problem():
    """BAR on a tiny random CNN, canvas 8 (d = 3·8·8 = 192 program parameters), random program,
    its frequency label map fitted from the queried outputs."""
    reprogrammer = create_method("bar", tiny_cnn(num_classes=10, width=4), num_classes=4, canvas_size=8, image_size=4)
    with torch.no_grad():
        reprogrammer.inputs[0].program.normal_(0.0, 0.5)
    generator = torch.Generator().manual_seed(3)
    inputs = torch.rand(16, 3, 4, 4, generator=generator)
    targets = torch.arange(16) % 4
    with torch.no_grad():
        reprogrammer.output.fit(reprogrammer.source_outputs(inputs), targets)
    return reprogrammer, inputs, targets


@pytest.mark.parametrize(
    "make",
    [
        lambda q, seed: RandomGradientEstimator(q, smoothing=1e-3, seed=seed),
        lambda q, seed: SPSAEstimator(q, perturbation=1e-3, correction=0.0, seed=seed),
    ],
    ids=["rgf", "spsa"],
)
def test_cosine_to_true_gradient_rises_with_queries(make):
    reprogrammer, inputs, targets = _problem()
    reference = true_gradient(reprogrammer, inputs, targets)
    dimension = reference.numel()
    means = {}
    for q in (1, 16, 128):
        values = []
        for seed in range(4):
            estimator = make(q, seed)
            estimator.estimate(reprogrammer, inputs, targets, F.cross_entropy)
            values.append(cosine_similarity(flat_gradient(reprogrammer), reference))
        means[q] = sum(values) / len(values)
    assert means[1] < means[16] < means[128]
    assert means[128] > 0.45  # theory for exact differences: √(q / (q + d − 1)) ≈ 0.63 at d = 192
    assert abs(means[128] - expected_rgf_cosine(dimension, 128)) < 0.2


def test_queries_are_counted_per_input():
    reprogrammer, inputs, targets = _problem()
    rgf = RandomGradientEstimator(5)
    rgf.estimate(reprogrammer, inputs, targets, F.cross_entropy)
    assert (rgf.queries, rgf.calls) == (6 * 16, 6)
    spsa = SPSAEstimator(3)
    spsa.estimate(reprogrammer, inputs, targets, F.cross_entropy)
    assert (spsa.queries, spsa.calls) == (6 * 16, 6)


def test_estimation_leaves_parameters_where_they_were():
    reprogrammer, inputs, targets = _problem()
    program = reprogrammer.inputs[0].program
    for estimator in (RandomGradientEstimator(4), SPSAEstimator(4, correction=0.9)):
        estimator.estimate(reprogrammer, inputs, targets, F.cross_entropy)
        with torch.no_grad():
            program.sub_(0.1 * program.grad)  # a step, so SPSA-GC has a momentum to look ahead along
        before = program.detach().clone()
        estimator.estimate(reprogrammer, inputs, targets, F.cross_entropy)
        torch.testing.assert_close(program.detach(), before, atol=1e-6, rtol=0)
        assert program.grad is not None and program.grad.abs().sum() > 0


def test_trainer_with_rgf_reduces_the_loss_and_reports_queries():
    reprogrammer, inputs, targets = _problem()
    frozen = reprogrammer.frozen
    estimator = bar.make_estimator(num_directions=64, smoothing=1e-3)
    trainer = Trainer(
        reprogrammer,
        epochs=6,
        batch_size=16,
        learning_rate=0.1,
        progress=False,
        device="cpu",
        gradient_estimator=estimator,
    )
    before = trainer.evaluate((inputs, targets))["loss"]
    result = trainer.fit((inputs, targets))
    after = trainer.evaluate((inputs, targets))["loss"]
    assert after < before - 0.01
    assert result.queries == estimator.queries == 6 * 65 * 16
    assert frozen.model.training is False
    frozen.assert_unchanged()


def test_blackvip_with_spsa_gc_trains_through_the_trainer():
    reprogrammer = create_method(
        "blackvip",
        tiny_cnn(num_classes=10, width=4),
        num_classes=4,
        canvas_size=8,
        decoder_widths=(4,),
        feature_channels=4,
        trigger_size=2,
    )
    generator = torch.Generator().manual_seed(0)
    inputs, targets = torch.rand(16, 3, 8, 8, generator=generator), torch.arange(16) % 4
    estimator = blackvip.make_estimator(num_directions=8, perturbation=0.01)
    trainer = Trainer(
        reprogrammer,
        epochs=6,
        batch_size=16,
        learning_rate=0.05,
        optimizer="sgd",
        momentum=0.0,
        progress=False,
        device="cpu",
        gradient_estimator=estimator,
    )
    before = trainer.evaluate((inputs, targets))["loss"]
    result = trainer.fit((inputs, targets))
    assert trainer.evaluate((inputs, targets))["loss"] < before
    assert result.queries == 6 * 2 * 8 * 16
    reprogrammer.frozen.assert_unchanged()


def test_bar_trainer_options_step_along_the_estimate_not_its_signs():
    """Regression (issue 18): BAR trained with Adam moved every program coordinate by ≈ lr whatever the RGF
    estimate's size (noise amplified to full steps: accuracy fell to chance). BAR's update is W ← W − α ĝ."""
    reprogrammer, inputs, targets = _problem()
    options = bar.trainer_options(num_directions=4, smoothing=0.05, seed=5, learning_rate=1e-3)
    assert options["optimizer"] == "sgd" and options["momentum"] == 0.0
    program = reprogrammer.inputs[0].program
    start = program.detach().clone()
    fresh = bar.make_estimator(num_directions=4, smoothing=0.05, seed=5)
    fresh.estimate(reprogrammer, inputs, targets, torch.nn.functional.cross_entropy)
    estimate = program.grad.detach().clone()
    program.grad = None
    trainer = Trainer(reprogrammer, epochs=1, batch_size=16, progress=False, device="cpu", **options)
    trainer.fit((inputs, targets))
    step = program.detach() - start
    # the same directions and data (the trainer shuffles the batch: float sums differ in the last bits)
    assert torch.allclose(step, -1e-3 * estimate, rtol=2e-2, atol=3e-7)  # atol: float32 spacing near |W| ≈ 1
    assert step.abs().max() > 10 * step.abs()[step != 0].min()  # sizes follow ĝ (Adam's first step: all ≈ lr)
    with pytest.raises(ValueError, match="learning_rate"):
        bar.trainer_options(learning_rate=0.0)
