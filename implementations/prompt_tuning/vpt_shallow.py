"""VPT-shallow (Jia, Tang, Chen, Cardie, Belongie, Hariharan, Lim, "Visual Prompt Tuning", ECCV 2022,
arXiv 2203.12119).

    [x_1, Z_1, E_1] = L_1([x_0, P, E_0]),  …,  ŷ = Head(LN(x_N))

p prompt tokens P (p, D) inserted after the class token x_0 of the patch embeddings E_0 (after
positions are added), a linear head trained on the final class token; the ViT is frozen. Prompts
start Xavier-uniform over a patch's fan-in.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, resolve_config, vision_frozen
from .soft_prompt import SoftPrompt
from .vision import tiny_vit_example, vit_config, xavier_prompt

__all__ = ["VPTConfig", "build"]


class VPTConfig(MethodConfig):
    """Number of prompt tokens and of target classes."""

    num_classes: int = Field(..., ge=2, description="C_t, outputs of the linear head")
    num_prompts: int = Field(10, ge=1, description="p prompt tokens (per layer for VPT-deep)")
    seed: int = 0


def _example():
    model, images, labels = tiny_vit_example()
    return build(model, num_classes=3, num_prompts=4), images, labels


def vpt_parts(model: Any, config: VPTConfig):
    """The frozen ViT (class-token readout), the first-layer prompt, the linear head and the ViT config."""
    frozen = vision_frozen(model, readout="cls")
    vc = vit_config(frozen)
    D = vc.hidden_size
    generator = torch.Generator().manual_seed(config.seed)
    prompt = SoftPrompt(xavier_prompt((config.num_prompts, D), vc.patch_size, D, generator), position=1)
    with seeded(config.seed):
        head = LinearAlignment(D, config.num_classes)
    return frozen, prompt, head, vc, generator


@register_method(
    "vpt-shallow",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=linear",
    modality="vision",
    config=VPTConfig,
    example=_example,
)
def build(model: Any, config: VPTConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """VPT-shallow: prompt tokens after the class token at the input of the first layer; a linear head."""
    config = resolve_config(VPTConfig, config, overrides)
    frozen, prompt, head, _, _ = vpt_parts(model, config)
    return Reprogrammer(frozen, prompt, head, paradigm="prompt-tuning", modality="vision", name="vpt-shallow")
