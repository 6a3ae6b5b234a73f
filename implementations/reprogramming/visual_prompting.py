"""Visual prompting (Bahng, Jahanian, Sankaranarayanan, Isola, "Exploring Visual Prompts for Adapting
Large-Scale Models", arXiv:2203.17274, 2022).

    x' = N(r(x)) + M ⊙ θ,   ŷ = f(x')     (f: CLIP with the class prompts' text embeddings, or a classifier)

The prompt is added to the *normalised* image: a border of width p (``prompt="padding"``, the paper's
default, p = 30 on 224), a p × p patch at the top-left corner (``"fixed_patch"``) or at a random location
(``"random_patch"``). The model's outputs are the prediction (identity), restricted to the first C_t
classes when it has more.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import CLIP_MEAN, CLIP_STD, VisualConfig, as_frozen, make_config, seeded_example, source_classes
from .evp import restriction
from .programs import FixedPatchPrompt, RandomPatchPrompt, WatermarkPrompt

__all__ = ["VisualPromptingConfig", "build", "visual_prompt"]


class VisualPromptingConfig(VisualConfig):
    prompt: Literal["padding", "fixed_patch", "random_patch"] = "padding"
    pad: int = Field(30, ge=1, description="p: border width, or patch side for the patch prompts")
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD


def visual_prompt(cfg: VisualPromptingConfig):
    """The prompt of a config: border, fixed patch or random patch."""
    if cfg.prompt == "padding":
        return WatermarkPrompt(cfg.canvas_size, cfg.pad, cfg.mean, cfg.std, cfg.channels)
    cls = FixedPatchPrompt if cfg.prompt == "fixed_patch" else RandomPatchPrompt
    return cls(cfg.canvas_size, cfg.pad, cfg.mean, cfg.std, cfg.channels)


CLASS_NAMES = ("cat", "dog", "bird", "fish")


def tiny_clip_classifier(class_names=CLASS_NAMES, template: str = "a photo of a {}", **clip_options):
    """A tiny random CLIP as a zero-shot classifier over ``template.format(name)`` prompts (FrozenModel)."""
    from reprogrammability.framework.frozen import FrozenModel
    from reprogrammability.implementations.models.tiny import tiny_clip, tiny_tokenizer

    tokenizer = tiny_tokenizer(style="clip")
    prompts = [template.format(name) for name in class_names]
    return FrozenModel(tiny_clip(**clip_options), class_prompts=prompts, tokenizer=tokenizer)


@seeded_example
def _example():
    frozen = tiny_clip_classifier()
    reprogrammer = build(frozen, num_classes=len(CLASS_NAMES), canvas_size=32, pad=4)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(8, 3, 24, 24, generator=generator)
    return reprogrammer, inputs, torch.arange(8) % len(CLASS_NAMES)


@register_method(
    "visual-prompting",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=identity",
    modality="vision",
    config=VisualPromptingConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Visual prompting: a padding/patch prompt added to the normalised image; the model's outputs as prediction."""
    cfg = make_config(VisualPromptingConfig, config, overrides)
    frozen = as_frozen(model)
    num_source = source_classes(frozen, torch.zeros(1, cfg.channels, cfg.canvas_size, cfg.canvas_size))
    return Reprogrammer(
        frozen,
        visual_prompt(cfg),
        restriction(num_source, cfg.num_classes),
        paradigm="model-reprogramming",
        modality="vision",
        name="visual-prompting",
    )
