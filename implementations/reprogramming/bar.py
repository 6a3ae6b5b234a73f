"""BAR, black-box adversarial reprogramming (Tsai, Chen, Ho, "Transfer Learning without Knowing:
Reprogramming Black-box Machine Learning Models with Scarce Data and Limited Resources", ICML 2020,
arXiv:2007.08714).

    X' = pad(x) + tanh(W ⊙ M),   ŷ_t = mean_{s ∈ S_t} f(X')_s,
    ∇_W L ≈ (b / q) Σ_j [L(W + β U_j) − L(W)] / β · U_j           (random gradient-free estimate, RGF)

The program is Elsayed et al.'s; the model is only queried for its outputs; the many-to-one map S_t
gives every target label the m source labels the frozen model predicts most often on its training
images (frequency label mapping, fitted from queried outputs before training: statistical). The
official code ranks source labels by their mean output probability per target class and keeps the
top m; here the ranking counts arg-max predictions (the shared FLM estimator). Train it with
``Trainer(reprogrammer, **trainer_options())``: the RGF estimator (:func:`make_estimator`) and the paper's update,
plain zeroth-order SGD ``W ← W − α ĝ``; the trainer reports the query count.

Why not the trainer's default Adam: Adam divides every coordinate of ĝ by its running RMS, so its first steps
move *every* coordinate by ≈ the learning rate whatever ĝ's size, and with q ≪ d the estimate is mostly noise
(cos(ĝ, ∇L) ≈ √(q/d), 0.02 for q = 4, d = 6,912). Measured (``nnr compare --setting vision-digits-long``, rows
``bar`` and ``bar-adam``): with Adam the program drifts at random and accuracy falls from the label map's start to
chance or below within ~10³ queries (the 4.8 % / 9.0 % of the earlier benchmark); ZO-SGD keeps the start.
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, source_classes, tiny_image_example
from .label_mapping import ManyToOneLabelMapping
from .programs import FullCanvasProgram
from .zeroth_order import RandomGradientEstimator

__all__ = ["BARConfig", "build", "make_estimator", "trainer_options", "ZO_SGD_LEARNING_RATE"]

ZO_SGD_LEARNING_RATE = 1e-4
"""α of the ZO-SGD step for programs of a few thousand parameters (the RGF estimate's norm is ≈ √(d/q)·|∇L|)."""


class BARConfig(VisualConfig):
    """Program and label map of BAR, and its RGF estimator (q directions, smoothing β)."""

    image_size: int = Field(112, ge=1)
    labels_per_class: int = Field(1, ge=1, description="m source labels per target label (many-to-one)")
    seed: int = Field(0, description="seed of the query directions")
    num_directions: int = Field(10, ge=1, description="q random directions per step")
    smoothing: float = Field(0.01, gt=0, description="β, the finite-difference step")
    distribution: str = Field("sphere", pattern="^(sphere|gaussian)$")


def make_estimator(config=None, **overrides) -> RandomGradientEstimator:
    """The RGF estimator of BAR for :class:`~reprogrammability.framework.training.Trainer`."""
    cfg = make_config(BARConfig, config, overrides)
    return RandomGradientEstimator(cfg.num_directions, cfg.smoothing, cfg.distribution, seed=cfg.seed)


def trainer_options(config=None, *, learning_rate: float = ZO_SGD_LEARNING_RATE, **overrides) -> dict:
    """Keyword options of :class:`~reprogrammability.framework.training.Trainer` for BAR's update: the RGF estimator
    and plain SGD without momentum, ``W ← W − α ĝ`` (see the module docstring for why not Adam)."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate: expected α > 0, got {learning_rate}")
    return {
        "gradient_estimator": make_estimator(config, **overrides),
        "optimizer": "sgd",
        "momentum": 0.0,
        "learning_rate": float(learning_rate),
    }


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "bar",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    access="zeroth-order",
    modality="vision",
    config=BARConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """BAR: Elsayed's program trained from output queries only (RGF), with a many-to-one frequency label map."""
    cfg = make_config(BARConfig, config, overrides)
    frozen = as_frozen(model)
    program = FullCanvasProgram(cfg.canvas_size, cfg.image_size, cfg.mean, cfg.std, cfg.channels, resize_input=True)
    num_source = source_classes(frozen, torch.zeros(1, cfg.channels, cfg.canvas_size, cfg.canvas_size))
    mapping = ManyToOneLabelMapping(num_source, cfg.num_classes, cfg.labels_per_class)
    reprogrammer = Reprogrammer(
        frozen, program, mapping, paradigm="model-reprogramming", access="zeroth-order", modality="vision", name="bar"
    )
    reprogrammer.gradient_estimator = make_estimator(cfg)  # the trainer's default for this method (RGF)
    return reprogrammer
