"""ZPE: zero-shot prompt ensembling (Allingham, Ren, Dusenberry, Gu, Cui, Tran, Liu &
Lakshminarayanan, "A Simple Zero-shot Prompt Weighting Technique to Improve Prompt Ensembling in
Text-Image Models", ICML 2023, arXiv 2302.06235).

M templates per class; per-prompt logits ``z_{x,c,m}``; each template is scored on *unlabelled*
task images, ``s_m = mean_x max_c (z_{x,c,m} − z̄_{c,m})`` (per-class mean logit removed), and the
ensemble is weighted by ``w = softmax(s/τ)``: ``ŷ_c = Σ_m w_m z_{x,c,m}``. w is estimated from the
frozen model's outputs (statistical).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip_builder import CLIPPromptConfig, build_clip_method, clip_example, template_parts
from .common import resolve_config
from .vision_language import IMAGENET_TEMPLATES_SHORT, ZeroShotPromptWeights

__all__ = ["ZPEConfig", "build", "example", "fit_weights"]


class ZPEConfig(CLIPPromptConfig):
    """M templates; ``unlabelled_images`` (N, 3, H, W) fit the weights at build time when given."""

    templates: list[str] = Field(default_factory=lambda: list(IMAGENET_TEMPLATES_SHORT), min_length=1)
    temperature: float = Field(1.0, gt=0)
    unlabelled_images: Any = None


@torch.no_grad()
def fit_weights(reprogrammer: Reprogrammer, images: torch.Tensor) -> torch.Tensor:
    """Estimate the prompt weights from unlabelled images; returns w (M,)."""
    reprogrammer.output.fit(reprogrammer.source_outputs(images))
    return reprogrammer.output.weights.clone()


def example():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(4, 3, 32, 32, generator=generator)
    return clip_example(build, templates=["a photo of a {}.", "a drawing of a {}."], unlabelled_images=images)


@register_method(
    "zpe",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=statistical",
    modality="vision-language",
    config=ZPEConfig,
    example=example,
)
def build(model, config: ZPEConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """ZPE: template weights scored on unlabelled images, weighted ensemble of per-template logits."""
    config = resolve_config(ZPEConfig, config, overrides)
    reprogrammer = build_clip_method(
        model,
        config,
        template_parts(config),
        "per-prompt",
        "zpe",
        output=ZeroShotPromptWeights(len(config.templates), config.temperature),
    )
    if config.unlabelled_images is not None:
        fit_weights(reprogrammer, config.unlabelled_images)
    return reprogrammer
