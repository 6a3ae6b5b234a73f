"""LLaMA-Adapter (Zhang, Han, Liu, Zhou, Lu, Qiao, Li, Gao, "LLaMA-Adapter: Efficient Fine-tuning of Large
Language Models with Zero-initialized Attention", ICLR 2024, arXiv 2303.16199).

    ŷ = f(x; {h_ℓ + W_o(tanh(g_ℓ) ⊙ softmax(Q_ℓ (W_k P_ℓ)ᵀ/√d) W_v P_ℓ)}_{ℓ ∈ top L})

Learned adaption prompts P_ℓ at the top L layers of a frozen LLaMA, attended to by each layer's own
projections in a separate softmax and scaled by zero-initialised gates g_ℓ
(:class:`~.adaption.GatedAdaptionPrompt`); the prediction is the LM's own next-token scores,
restricted to the answer tokens of the task (identity). Trained: P and g.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .adaption import GatedAdaptionPrompt
from .common import MethodConfig, find_tokenizer, resolve_config, text_frozen
from .text import text_example
from .verbalizer import label_word_ids

__all__ = ["LLaMAAdapterConfig", "build"]


class LLaMAAdapterConfig(MethodConfig):
    """Adapted layers (the top L), prompt length K, the answer words the next-token scores are restricted to."""

    answer_words: list[str] = Field(..., min_length=2, description="one answer word per class (its first token)")
    num_layers: Optional[int] = Field(None, ge=1, description="L, the top layers adapted (default: all but the first)")
    prompt_length: int = Field(10, ge=1, description="K, adaption prompt vectors per layer")
    init_std: float = Field(0.02, gt=0)
    prefix_space: bool = True
    seed: int = 0


def _example():
    return text_example(build, answer_words=["bad", "good"], prompt_length=3)


@register_method(
    "llama-adapter",
    "prompt-tuning",
    "λ=learnable τ=additive+parametric ℓ=hidden ω=identity",
    modality="text",
    config=LLaMAAdapterConfig,
    example=_example,
)
def build(
    model: Any, config: LLaMAAdapterConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """LLaMA-Adapter: zero-init gated adaption prompts at the top layers; the LM's own answer-token scores."""
    config = resolve_config(LLaMAAdapterConfig, config, overrides)
    tokenizer = find_tokenizer(model, tokenizer, needed_for="answer words")
    frozen = text_frozen(model, tokenizer=tokenizer, readout="last")
    raw = frozen.model
    blocks = frozen.adapter.layers(raw)
    settings = raw.config
    L = config.num_layers if config.num_layers is not None else max(1, len(blocks) - 1)
    if L > len(blocks):
        raise ValueError(f"num_layers: {L} exceeds the model's {len(blocks)} layers")
    heads = settings.num_attention_heads
    head_dim = getattr(settings, "head_dim", None) or settings.hidden_size // heads
    generator = torch.Generator().manual_seed(config.seed)
    prompt = GatedAdaptionPrompt(
        blocks,
        range(len(blocks) - L, len(blocks)),
        num_heads=heads,
        num_kv_heads=getattr(settings, "num_key_value_heads", None) or heads,
        head_dim=head_dim,
        dim=settings.hidden_size,
        length=config.prompt_length,
        rotary=getattr(getattr(raw, "model", None), "rotary_emb", None),
        init_std=config.init_std,
        generator=generator,
    )
    answers = [ids[0] for ids in label_word_ids(tokenizer, config.answer_words, prefix_space=config.prefix_space)]
    return Reprogrammer(
        frozen, prompt, IdentityAlignment(answers), paradigm="prompt-tuning", modality="text", name="llama-adapter"
    )
