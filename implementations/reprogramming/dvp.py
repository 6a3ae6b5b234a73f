"""DVP (Cai, Ye, Feng, Qi, Liu, "Understanding Model Reprogramming for CLIP via Decoupling Visual Prompts",
ICML 2025, arXiv:2506.01000).

    x'_v = N(r(x)) + M_p ⊙ θ_v   (one prompt per description group v),
    s_d = s · cos(g(x'_{g(d)}), h(d)),   ŷ = s ω_PRM

Descriptions are split into groups (by cause/explanation or by clustering); each group gets its own visual
prompt, and a probabilistic reweighting matrix over descriptions (estimated like BLM+, restricted to each
class's own descriptions) integrates them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from pydantic import Field

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import CLIP_MEAN, CLIP_STD, VisualConfig, fitted_example, make_config, seeded_example
from .attrvr import description_example
from .vision_language import DecoupledPrompts, DecoupledReweighting, description_layout

__all__ = ["DVPConfig", "build"]


class DVPConfig(VisualConfig):
    pad: int = Field(30, ge=1)
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    top_k: int = Field(3, ge=1, description="descriptions aggregated per sample in the reweighting estimate")
    laplace: float = Field(1.0, ge=0)


@seeded_example
def _example():
    return fitted_example(*description_example(build))


@register_method(
    "dvp",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    modality="vision-language",
    config=DVPConfig,
    example=_example,
)
def build(
    model, config=None, *, descriptions: Sequence[Sequence[Sequence[str]]], tokenizer=None, **overrides
) -> Reprogrammer:
    """DVP: decoupled visual prompts per description group, integrated by a probabilistic reweighting matrix."""
    cfg = make_config(DVPConfig, config, overrides)
    prompts, groups = description_layout(descriptions)
    num_classes = groups[0].shape[0]
    if num_classes != cfg.num_classes:
        raise ValueError(f"descriptions: {num_classes} classes, but num_classes={cfg.num_classes}")
    membership = torch.zeros(len(prompts), num_classes)
    group_of = torch.zeros(len(prompts), dtype=torch.long)
    for g, index in enumerate(groups):
        for c in range(num_classes):
            membership[index[c], c] = 1.0
            group_of[index[c]] = g
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(model, class_prompts=prompts, tokenizer=tokenizer)
    program = DecoupledPrompts(len(groups), cfg.canvas_size, cfg.pad, cfg.mean, cfg.std, cfg.channels)
    alignment = DecoupledReweighting(membership, group_of, cfg.top_k, cfg.laplace)
    return Reprogrammer(
        frozen, program, alignment, paradigm="model-reprogramming", modality="vision-language", name="dvp"
    )
