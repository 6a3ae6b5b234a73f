"""UPT: unified prompt tuning (Zang, Li, Zhou, Huang, Loy, "Unified Vision and Language Prompt Learning",
arXiv 2210.07225, 2022).

    p(y = c | x) ∝ exp(s · cos(g([E_v(x); W_v U''_v + b_v]), h([SOS; U''_t; CLASS_c; EOT])))
    U'' = Transformer([U_t; U_v])  (one shared block)

CoOp's text context and VPT's visual prompts, but generated from one unified prompt refined by a
shared lightweight transformer block (:class:`~.unified_prompt.UnifiedContext`), so the two modalities'
prompts are optimised jointly; CLIP's own similarity logits are the prediction (identity).
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

from .common import resolve_config
from .coop import ContextConfig, context_setup, tiny_clip_example
from .deep import CoupledPrompt
from .unified_prompt import UnifiedContext

__all__ = ["UPTConfig", "build"]


class UPTConfig(ContextConfig):
    """Class names; text context length n_t and initialisation; visual prompts n_v; the shared block."""

    context_init: Optional[str] = "a photo of a"
    visual_length: int = Field(4, ge=1, description="n_v, visual prompt tokens")
    heads: int = Field(1, ge=1, description="attention heads of the shared block")
    ffn_dim: Optional[int] = Field(None, ge=1, description="F, the block's feed-forward size (default 4·D_t)")


def _example():
    model, tokenizer, names, images, labels = tiny_clip_example()
    return build(model, tokenizer=tokenizer, class_names=names, visual_length=2, ffn_dim=16), images, labels


@register_method(
    "upt",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=identity",
    modality="vision-language",
    config=UPTConfig,
    example=_example,
)
def build(
    model: Any, config: UPTConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """UPT: text and visual prompts from one unified prompt refined by a shared transformer block."""
    config = resolve_config(UPTConfig, config, overrides)
    frozen, init, _, tokenizer = context_setup(model, tokenizer, config)
    if is_dual_encoder(frozen.model):
        raise InterfaceError(f"model: UPT's visual prompt tokens cannot be placed: {NO_IMAGE_TOKENS}")
    vision_dim = frozen.model.vision_model.config.hidden_size
    generator = torch.Generator().manual_seed(config.seed)
    with seeded(config.seed):
        text = UnifiedContext(
            init,
            config.visual_length,
            heads=config.heads,
            ffn_dim=config.ffn_dim,
            init_std=config.init_std,
            generator=generator,
        )
        visual = CoupledPrompt(text.visual_source(), vision_dim, position="end", tower="vision")
    return Reprogrammer(
        frozen, [text, visual], IdentityAlignment(), paradigm="prompt-tuning", modality="vision-language", name="upt"
    )
