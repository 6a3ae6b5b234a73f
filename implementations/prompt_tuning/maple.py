"""MaPLe: multi-modal prompt learning (Khattak, Rasheed, Maaz, Khan, Khan, "MaPLe: Multi-modal Prompt
Learning", CVPR 2023, arXiv 2210.03117).

    text:   [SOS] P_0 rest [CLASS]. [EOT],      P_ℓ replacing the prompt slots at layers ℓ = 1 … J−1
    vision: [CLS] E F_0(P_0),                   F_ℓ(P_ℓ) replacing the last b slots at layers ℓ = 1 … J−1

Deep language prompts P_ℓ (b, D_t) in the first J layers of CLIP's text tower; the vision prompts
are linear couplings F_ℓ: D_t → D_v of them (appended after the image tokens), so both towers are
prompted by one set of language prompts. Defaults: b = 2 tokens initialised from "a photo" of
"a photo of a" (the rest, "of a", stays text), depth J = 9 (capped at the towers' depth).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from reprogrammability.framework.adapters.dual_encoder import NO_IMAGE_TOKENS, is_dual_encoder
from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .clip import ContextPrompt
from .common import resolve_config
from .coop import ContextConfig, context_setup, tiny_clip_example
from .deep import CoupledDeepPrompts, CoupledPrompt, DeepPrompts

__all__ = ["MaPLeConfig", "build"]


class MaPLeConfig(ContextConfig):
    """Class names, prompt length b and depth J, initialisation."""

    context_length: int = Field(2, ge=1, description="b, language prompt tokens per layer")
    context_init: Optional[str] = "a photo of a"
    depth: int = Field(9, ge=1, description="J: prompts in layers 0 … J−1 of both towers")
    init_std: float = Field(0.02, gt=0, description="std of the deep (and uninitialised) prompts")


def _example():
    model, tokenizer, names, images, labels = tiny_clip_example()
    return build(model, tokenizer=tokenizer, class_names=names), images, labels


@register_method(
    "maple",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding+hidden ω=identity",
    modality="vision-language",
    config=MaPLeConfig,
    example=_example,
)
def build(
    model: Any, config: MaPLeConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """MaPLe: deep language prompts and vision prompts coupled to them by linear maps."""
    config = resolve_config(MaPLeConfig, config, overrides)
    frozen, init, _, tokenizer = context_setup(model, tokenizer, config)
    clip = frozen.model
    if is_dual_encoder(clip):
        raise InterfaceError(f"model: MaPLe's vision prompts cannot be placed: {NO_IMAGE_TOKENS}")
    text_dim = clip.text_model.config.hidden_size
    vision_dim = clip.vision_model.config.hidden_size
    depth = min(config.depth, clip.text_model.config.num_hidden_layers, clip.vision_model.config.num_hidden_layers)
    b = init.shape[0]
    parts = []
    with seeded(config.seed):
        text = ContextPrompt(init, tower="text")
        parts += [text, CoupledPrompt(text, vision_dim, position="end", tower="vision")]
        if depth > 1:
            layers = list(range(1, depth))
            deep_text = DeepPrompts(
                torch.randn(len(layers), b, text_dim) * config.init_std, layers, start=1, tower="text"
            )
            parts += [deep_text, CoupledDeepPrompts(deep_text, vision_dim, start="end", tower="vision")]
    return Reprogrammer(
        frozen, parts, IdentityAlignment(), paradigm="prompt-tuning", modality="vision-language", name="maple"
    )
