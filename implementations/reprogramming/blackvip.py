"""BlackVIP (Oh, Hwang, Park, Jang, Kim, Kim, Yun, "BlackVIP: Black-Box Visual Prompting for Robust
Transfer Learning", CVPR 2023, arXiv:2303.14773).

    x' = N(clip(r(x) + ε · g_dec([g_enc(r(x)); φ]), 0, 1)),   ŷ = f(x')
    ĝ = (1/q) Σ_j [L(θ' + cΔ_j) − L(θ' − cΔ_j)] / (2c) · Δ_j,   θ' = θ + β m      (SPSA-GC)

A coordinator (frozen encoder, trainable decoder and prompt trigger φ) writes an input-dependent prompt;
only output queries of f are used to train it. Train with ``Trainer(..., optimizer="sgd",
gradient_estimator=reprogrammer.gradient_estimator)`` (SPSA-GC from
:func:`make_estimator`).
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import (
    CLIP_MEAN,
    CLIP_STD,
    VisualConfig,
    as_frozen,
    make_config,
    seeded_example,
    source_classes,
    tiny_image_example,
)
from .evp import restriction
from .generated_programs import CoordinatorPrompt
from .zeroth_order import SPSAEstimator

__all__ = ["BlackVIPConfig", "build", "make_estimator"]


class BlackVIPConfig(VisualConfig):
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    epsilon: float = Field(1.0, gt=0, description="ε, the prompt strength")
    feature_channels: int = Field(16, ge=1)
    trigger_size: int = Field(8, ge=1, description="T, the length of the prompt trigger φ")
    decoder_widths: tuple[int, ...] = Field((16, 8), description="channels of the decoder's up-sampling stages")
    seed: int = Field(0, description="seed of the stand-in encoder and of the SPSA perturbations")
    num_directions: int = Field(1, ge=1, description="q SPSA perturbations per step")
    perturbation: float = Field(0.01, gt=0, description="c₀")
    decay: float = Field(0.0, ge=0, description="γ in c_t = c₀ / (t + 1)^γ")
    correction: float = Field(0.9, ge=0, lt=1, description="β of the gradient-correction look-ahead")


def make_estimator(config=None, **overrides) -> SPSAEstimator:
    """SPSA-GC for :class:`~reprogrammability.framework.training.Trainer`."""
    cfg = make_config(BlackVIPConfig, config, overrides)
    return SPSAEstimator(cfg.num_directions, cfg.perturbation, cfg.decay, cfg.correction, seed=cfg.seed)


@seeded_example
def _example():
    return tiny_image_example(build, decoder_widths=(8,), feature_channels=8, trigger_size=4)


@register_method(
    "blackvip",
    "model-reprogramming",
    "λ=learnable τ=additive+parametric ℓ=input ω=identity",
    access="zeroth-order",
    modality="vision",
    config=BlackVIPConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """BlackVIP: an input-dependent prompt from a coordinator network, trained by SPSA-GC from output queries."""
    cfg = make_config(BlackVIPConfig, config, overrides)
    frozen = as_frozen(model)
    program = CoordinatorPrompt(
        cfg.canvas_size,
        cfg.mean,
        cfg.std,
        cfg.channels,
        epsilon=cfg.epsilon,
        feature_channels=cfg.feature_channels,
        trigger_size=cfg.trigger_size,
        decoder_widths=cfg.decoder_widths,
        seed=cfg.seed,
    )
    num_source = source_classes(frozen, torch.zeros(1, cfg.channels, cfg.canvas_size, cfg.canvas_size))
    reprogrammer = Reprogrammer(
        frozen,
        program,
        restriction(num_source, cfg.num_classes),
        paradigm="model-reprogramming",
        access="zeroth-order",
        modality="vision",
        name="blackvip",
    )
    reprogrammer.gradient_estimator = make_estimator(cfg)  # SPSA-GC, for Trainer(..., gradient_estimator=...)
    return reprogrammer
