"""Adversarial reprogramming (Elsayed, Goodfellow, Sohl-Dickstein, "Adversarial Reprogramming of Neural
Networks", ICLR 2019, arXiv:1806.11146).

    P = tanh(W ⊙ M),   X_adv = pad(x) + P   (pixels in [-1, 1]),   ŷ = h_first-k(f(X_adv))

W (C, H, W) is a full-canvas program, M masks out the centred target image, and the hard-coded output
map h reads the first C_t ImageNet labels (or k labels per class, averaged). Trained with cross-entropy
plus λ‖W‖² (use the trainer's ``weight_decay``).
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IndexMapping
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, tiny_image_example
from .programs import FullCanvasProgram

__all__ = ["AdversarialReprogrammingConfig", "build"]


class AdversarialReprogrammingConfig(VisualConfig):
    """Canvas 224 (ImageNet), target images 28×28 (MNIST-sized) by default; ``labels_per_class`` first labels each."""

    image_size: int = Field(28, ge=1)
    labels_per_class: int = Field(1, ge=1, description="k: target class t reads source labels t·k .. t·k+k-1")


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "adversarial-reprogramming",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=rule-based",
    modality="vision",
    config=AdversarialReprogrammingConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Adversarial reprogramming: a tanh full-canvas program around the image and a hard-coded first-k label map."""
    cfg = make_config(AdversarialReprogrammingConfig, config, overrides)
    program = FullCanvasProgram(cfg.canvas_size, cfg.image_size, cfg.mean, cfg.std, cfg.channels, resize_input=True)
    k = cfg.labels_per_class
    indices = torch.arange(cfg.num_classes * k).view(cfg.num_classes, k)
    return Reprogrammer(
        as_frozen(model),
        program,
        IndexMapping(indices),
        paradigm="model-reprogramming",
        modality="vision",
        name="adversarial-reprogramming",
    )
