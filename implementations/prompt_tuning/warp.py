"""WARP: word-level adversarial reprogramming (Hambardzumyan, Khachatrian, May, ACL 2021, arXiv 2101.00121).

    ŷ = Θ^V T(h_[MASK](f([P; E(x)]))) + b

Prompt embeddings P are inserted into the input of a frozen masked LM (blocks before, between or
after the sentences); the MLM head's transform T is applied at the [MASK] token without the
decoder, and the class scores come from class embeddings Θ^V (C, D) initialised with the
output embeddings of verbalizer words: a linear alignment. The paper frames itself as adversarial
reprogramming, so the catalog files it under model reprogramming (the paradigm declared here),
although its mechanism is that of soft prompts. Θ^P starts at the [MASK] token's
embedding (``init="mask-token"``), at a human-readable prompt (``init="text"``) or at sampled tokens.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, model_validator

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, embed_tokens, find_tokenizer, input_embeddings, resolve_config, text_frozen
from .soft_prompt import SoftPrompt
from .text import LabelWords, Position, SoftPromptFields, feature_readout, initial_prompt, text_example
from .verbalizer import LabelEmbeddingAlignment, label_word_ids

__all__ = ["WARPConfig", "build"]


class WARPConfig(MethodConfig):
    """Prompt blocks (position, length), their initialisation, and the verbalizer words."""

    blocks: list[tuple[Position, int]] = Field(
        default_factory=lambda: [(1, 8)],
        description="(insertion index, number of prompt tokens) per block, in the original sequence's indices",
    )
    init: Literal["mask-token", "sampled-vocabulary", "text", "uniform"] = "mask-token"
    init_text: Optional[str] = None
    label_words: LabelWords = Field(..., min_length=1)
    prefix_space: bool = True
    readout: Literal["auto", "mask_features", "last_features"] = "auto"
    seed: int = 0

    @model_validator(mode="after")
    def _blocks(self):
        if not self.blocks or any(length < 1 for _, length in self.blocks):
            raise ValueError("blocks: expected at least one (position, length) block with length ≥ 1")
        if self.init == "text" and not self.init_text:
            raise ValueError("init_text: required for init='text'")
        return self


def _example():
    return text_example(build, masked=True, label_words=["bad", "good"], blocks=[(1, 2), (1, 2)])


@register_method(
    "warp",
    "model-reprogramming",
    "λ=learnable τ=concatenative ℓ=embedding ω=linear",
    modality="text",
    config=WARPConfig,
    example=_example,
)
def build(
    model: Any, config: WARPConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """WARP: prompt tokens in the input and verbalizer-initialised class embeddings on the MLM head's features."""
    config = resolve_config(WARPConfig, config, overrides)
    tokenizer = find_tokenizer(model, tokenizer, needed_for="label words")
    frozen = text_frozen(model, tokenizer=tokenizer, readout=feature_readout(model, config.readout))
    embedding = input_embeddings(frozen)
    total = sum(length for _, length in config.blocks)
    init_kind = config.init
    if init_kind == "mask-token" and getattr(tokenizer, "mask_token_id", None) is None:
        init_kind = "sampled-vocabulary"  # causal LMs have no [MASK]
    if init_kind == "mask-token":
        init = embed_tokens(embedding, [tokenizer.mask_token_id] * total)
    else:
        fields = SoftPromptFields(
            num_virtual_tokens=total, init=init_kind, init_text=config.init_text, seed=config.seed
        )
        init = initial_prompt(frozen, tokenizer, fields)
    # later blocks are inserted first so every block's index refers to the original sequence
    prompts, start = [], 0
    for position, length in config.blocks:
        prompts.append(SoftPrompt(init[start : start + length], position=position, name=f"P_{len(prompts) + 1}"))
        start += length
    order = sorted(range(len(prompts)), key=lambda i: _sort_key(config.blocks[i][0]), reverse=True)
    ids = label_word_ids(tokenizer, config.label_words, prefix_space=config.prefix_space)
    classes = LabelEmbeddingAlignment.from_label_words(frozen, ids, train_bias=True)
    return Reprogrammer(
        frozen, [prompts[i] for i in order], classes, paradigm="model-reprogramming", modality="text", name="warp"
    )


def _sort_key(position: Union[int, str]) -> float:
    if position == "start":
        return 0.0
    if position == "end":
        return float("inf")
    return float(position) if position >= 0 else 1e9 + position
