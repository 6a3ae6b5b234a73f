"""DART: differentiable prompts (Zhang, Li, Chen, Deng, Bi, Tan, Huang, Chen, "Differentiable Prompt Makes
Pre-trained Language Models Better Few-shot Learners", ICLR 2022, arXiv 2108.13161).

    ŷ_c = θ_c · h_[MASK](f([T; E(x)]))  with template tokens T and label tokens θ_c both learned,
    L = L_C(ŷ, y) + λ L_F  (fluency: masked-language-model loss on the input's own tokens)

The template is made of pseudo tokens whose embeddings are optimised (initialised from real tokens),
and each class's label token is a learned embedding scored by the LM head's features at the
prediction slot (initialised from the label word's output embedding; the head's bias stays fixed).
Because the label embeddings are trained parameters of the output mapping, ω is linear here (the
catalog's starting point said rule-based). :func:`fluency_loss` is the fluency constraint.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import find_tokenizer, resolve_config, text_frozen
from .soft_prompt import SoftPrompt
from .text import LabelWords, SoftPromptFields, feature_readout, initial_prompt, text_example
from .verbalizer import LabelEmbeddingAlignment, label_word_ids

__all__ = ["DARTConfig", "build", "fluency_loss"]


class DARTConfig(SoftPromptFields):
    """Template length and initialisation; label words initialising the label embeddings."""

    num_virtual_tokens: int = Field(4, ge=1)
    label_words: LabelWords = Field(..., min_length=1)
    prefix_space: bool = True
    readout: Literal["auto", "mask_features", "last_features"] = "auto"


def _with_readout(frozen: FrozenModel, readout: str) -> FrozenModel:
    """The same frozen model (shared modules and checks) read out differently."""
    adapter = frozen.adapter
    clone = copy.copy(frozen)
    clone.adapter = TextAdapter(tokenizer=adapter.tokenizer, readout=readout, max_length=adapter.max_length)
    return clone


def fluency_loss(
    reprogrammer: Reprogrammer,
    inputs: Any,
    *,
    rate: float = 0.15,
    generator: torch.Generator | None = None,
    keep_ids: Sequence[int] = (),
) -> Tensor:
    """L_F: mask a fraction ``rate`` of the input's ordinary tokens and score their recovery (cross-entropy)
    by the frozen masked LM with the learned template in place. ``keep_ids`` are never masked
    (special tokens; the tokenizer's special ids are added automatically)."""
    if not 0 < rate < 1:
        raise ValueError(f"rate: expected a fraction in (0, 1), got {rate}")
    frozen = reprogrammer.frozen
    tokenizer = frozen.adapter.tokenizer
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise InterfaceError("fluency_loss: the tokenizer has no mask token (the constraint needs a masked LM)")
    batch = frozen.adapter.prepare(frozen.model, inputs)
    ids, attention = batch["input_ids"], batch["attention_mask"]
    protected = torch.tensor(sorted({*keep_ids, *tokenizer.all_special_ids}), device=ids.device)
    candidates = attention.bool() & ~torch.isin(ids, protected)
    draw = torch.rand(ids.shape, generator=generator).to(ids.device)
    picked = candidates & (draw < rate)
    if not bool(picked.any()):
        first = candidates.float().argmax()
        picked.view(-1)[first] = bool(candidates.view(-1)[first])
    masked = ids.masked_fill(picked, mask_id)
    scores = _with_readout(frozen, "sequence")(
        {"input_ids": masked, "attention_mask": attention}, list(reprogrammer.inputs)
    )
    return F.cross_entropy(scores[picked].float(), ids[picked])


def _example():
    return text_example(build, masked=True, label_words=["bad", "good"], num_virtual_tokens=3, position=1)


@register_method(
    "dart",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=linear",
    modality="text",
    config=DARTConfig,
    example=_example,
)
def build(
    model: Any, config: DARTConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """DART: differentiable template tokens and differentiable label tokens."""
    config = resolve_config(DARTConfig, config, overrides)
    tokenizer = find_tokenizer(model, tokenizer, needed_for="label words")
    frozen = text_frozen(model, tokenizer=tokenizer, readout=feature_readout(model, config.readout))
    template = SoftPrompt(initial_prompt(frozen, tokenizer, config), position=config.position, name="T")
    ids = label_word_ids(tokenizer, config.label_words, prefix_space=config.prefix_space)
    labels = LabelEmbeddingAlignment.from_label_words(frozen, ids, train_bias=False)
    return Reprogrammer(frozen, template, labels, paradigm="prompt-tuning", modality="text", name="dart")
