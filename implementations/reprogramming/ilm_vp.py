"""ILM-VP (Chen, Yao, Chen, Zhang, Liu, "Understanding and Improving Visual Prompting: A Label-Mapping
Perspective", CVPR 2023, arXiv:2211.11635).

    x' = N(pad(r(x)) + M ⊙ σ(W)),   ŷ = f(x') ω_ILM,   ω_ILM re-estimated by FLM at every epoch

The target image is resized to ``image_size`` (128), zero-padded to the 224 canvas, the sigmoid
program fills the frame, normalisation comes last; the one-to-one map is re-fitted from the epoch's
own logits (the trainer does it with no extra pass).
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, source_classes, tiny_image_example
from .label_mapping import IterativeLabelMapping
from .programs import PaddingProgram

__all__ = ["ILMVPConfig", "build", "padding_program"]


class ILMVPConfig(VisualConfig):
    image_size: int = Field(128, ge=1, description="the target image is resized to this size, then padded")


def padding_program(cfg: VisualConfig) -> PaddingProgram:
    """The ILM-VP/BLM padding program for a config."""
    return PaddingProgram(cfg.canvas_size, cfg.image_size, cfg.mean, cfg.std, cfg.channels, resize_input=True)


def num_source_classes(frozen, cfg: VisualConfig) -> int:
    return source_classes(frozen, torch.zeros(1, cfg.channels, cfg.canvas_size, cfg.canvas_size))


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "ilm-vp",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    modality="vision",
    config=ILMVPConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """ILM-VP: padding program with an iterative (per-epoch) frequency label mapping."""
    cfg = make_config(ILMVPConfig, config, overrides)
    frozen = as_frozen(model)
    mapping = IterativeLabelMapping(num_source_classes(frozen, cfg), cfg.num_classes)
    return Reprogrammer(
        frozen, padding_program(cfg), mapping, paradigm="model-reprogramming", modality="vision", name="ilm-vp"
    )
