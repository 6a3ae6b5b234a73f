"""Prefix tuning (Li & Liang, "Prefix-Tuning: Optimizing Continuous Prompts for Generation", ACL 2021,
arXiv 2101.00190).

    h_ℓ = Attn(Q_ℓ, [P^K_ℓ; K_ℓ], [P^V_ℓ; V_ℓ])   at every layer ℓ,   P = MLP_θ(P')   (training only)

The frozen LM's own outputs are the prediction (identity ω): next-token scores at the last token,
at every token (``readout="sequence"``, for generation losses), or restricted to the label words'
tokens when ``label_words`` are given. After training, ``KeyValuePrompt.merged()`` keeps only P.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, find_tokenizer, hidden_size, resolve_config, text_frozen
from .prefix import KeyValuePrompt
from .text import LabelWords, score_readout, text_example
from .verbalizer import label_word_ids

__all__ = ["PrefixTuningConfig", "build"]


class PrefixTuningConfig(MethodConfig):
    """Prefix length and reparameterisation; optional label words restricting the output to the classes."""

    num_virtual_tokens: int = Field(10, ge=1, description="L_p")
    reparameterize: bool = Field(True, description="P = MLP(P') during training (Li & Liang)")
    reparameterize_dim: Optional[int] = Field(None, ge=1, description="D' of P'; default: the model's hidden size")
    encoder_hidden_size: int = Field(512, ge=1, description="the MLP's hidden size")
    init_std: float = Field(1.0, ge=0.0, description="std of the initial P (or P')")
    label_words: Optional[LabelWords] = Field(None, description="restrict the scores to one label word per class")
    prefix_space: bool = True
    readout: Literal["auto", "last", "mask", "sequence"] = "auto"
    seed: int = 0


def _example():
    return text_example(build, label_words=["bad", "good"], num_virtual_tokens=3, encoder_hidden_size=16)


@register_method(
    "prefix-tuning",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=hidden ω=identity",
    modality="text",
    config=PrefixTuningConfig,
    example=_example,
)
def build(
    model: Any, config: PrefixTuningConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """Prefix tuning: learned key/value prefixes at every layer, MLP-reparameterised; the LM's own scores out."""
    config = resolve_config(PrefixTuningConfig, config, overrides)
    frozen = text_frozen(model, tokenizer=tokenizer, readout=score_readout(model, config.readout))
    geometry = frozen.adapter.attention_geometry(frozen.model)
    generator = torch.Generator().manual_seed(config.seed)
    with seeded(config.seed):
        prefix = KeyValuePrompt(
            geometry,
            config.num_virtual_tokens,
            reparameterize_dim=(config.reparameterize_dim or hidden_size(frozen)) if config.reparameterize else None,
            hidden=config.encoder_hidden_size,
            init_std=config.init_std,
            generator=generator,
        )
    output = IdentityAlignment()
    if config.label_words is not None:
        tokenizer = find_tokenizer(frozen, tokenizer, needed_for="label words")
        ids = label_word_ids(tokenizer, config.label_words, prefix_space=config.prefix_space)
        if any(len(group) != 1 for group in ids):
            raise ValueError("label_words: prefix tuning's identity output takes exactly one label word per class")
        output = IdentityAlignment([group[0] for group in ids])
    return Reprogrammer(frozen, prefix, output, paradigm="prompt-tuning", modality="text", name="prefix-tuning")
