"""AttrVR (Cai, Ye, Feng, Qi, Liu, "Attribute-based Visual Reprogramming for Vision-Language Models",
ICLR 2025, arXiv:2501.13982).

    x' = N(r(x)) + M_p ⊙ θ,   z_d = s · cos(g(x'), h(d)) for every attribute description d,
    ŷ_c = λ · mean(top-k_{d ∈ Des(c)} z_d) + (1 − λ) · mean(top-k_{d ∈ Dist(c)} z_d)

A visual program on CLIP's input; the classes are read through k-nearest matching against each class's
descriptive and distinctive attribute descriptions (from an LLM, given by the user).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from pydantic import Field

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import CLIP_MEAN, CLIP_STD, VisualConfig, make_config, seeded_example
from .programs import WatermarkPrompt
from .vision_language import DescriptionAlignment, description_layout

__all__ = ["AttrVRConfig", "build", "EXAMPLE_DESCRIPTIONS"]


class AttrVRConfig(VisualConfig):
    pad: int = Field(30, ge=1, description="p, the width of the visual program's border")
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    top_k: int = Field(3, ge=1, description="k nearest attributes averaged per class and group")
    descriptive_weight: float = Field(0.5, ge=0, le=1, description="λ on the descriptive attributes")


EXAMPLE_DESCRIPTIONS = (
    (  # descriptive attributes
        ("a cat with fur", "a cat with a tail"),
        ("a dog with fur", "a dog with a tail"),
        ("a bird with a red head", "a bird in a tree"),
        ("a fish with blue color", "a fish in water"),
    ),
    (  # distinctive attributes
        ("a small cat", "a black cat"),
        ("a big dog", "a white dog"),
        ("a small green bird", "a black bird"),
        ("a red fish", "a big fish"),
    ),
)


def description_example(build: Any, **options: Any) -> tuple[Reprogrammer, torch.Tensor, torch.Tensor]:
    """A description-based method's example: ``build`` on the tiny CLIP with :data:`EXAMPLE_DESCRIPTIONS`
    (4 classes, canvas 32, pad 4), eight random 24×24 images."""
    from reprogrammability.implementations.models.tiny import tiny_clip, tiny_tokenizer

    tokenizer = tiny_tokenizer(style="clip")
    reprogrammer = build(
        tiny_clip(),
        descriptions=EXAMPLE_DESCRIPTIONS,
        tokenizer=tokenizer,
        num_classes=4,
        canvas_size=32,
        pad=4,
        **options,
    )
    generator = torch.Generator().manual_seed(0)
    return reprogrammer, torch.rand(8, 3, 24, 24, generator=generator), torch.arange(8) % 4


@seeded_example
def _example():
    return description_example(build, top_k=1)


@register_method(
    "attrvr",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=rule-based",
    modality="vision-language",
    config=AttrVRConfig,
    example=_example,
)
def build(
    model, config=None, *, descriptions: Sequence[Sequence[Sequence[str]]], tokenizer=None, **overrides
) -> Reprogrammer:
    """AttrVR: a visual program on CLIP with k-nearest attribute-description matching as the output map.

    ``descriptions[group][class]`` lists the texts of each class; group 0 descriptive, group 1 distinctive.
    ``model`` is a ``CLIPModel`` (wrapped with the descriptions as prompts) or a ready ``FrozenModel``.
    """
    cfg = make_config(AttrVRConfig, config, overrides)
    prompts, groups = description_layout(descriptions)
    if groups[0].shape[0] != cfg.num_classes:
        raise ValueError(f"descriptions: {groups[0].shape[0]} classes, but num_classes={cfg.num_classes}")
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(model, class_prompts=prompts, tokenizer=tokenizer)
    weights: Optional[list[float]] = None
    if len(groups) == 2:
        weights = [cfg.descriptive_weight, 1.0 - cfg.descriptive_weight]
    program = WatermarkPrompt(cfg.canvas_size, cfg.pad, cfg.mean, cfg.std, cfg.channels, init_std=0.0)
    return Reprogrammer(
        frozen,
        program,
        DescriptionAlignment(groups, cfg.top_k, weights),
        paradigm="model-reprogramming",
        modality="vision-language",
        name="attrvr",
    )
