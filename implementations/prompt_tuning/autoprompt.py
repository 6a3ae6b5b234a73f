"""AutoPrompt (Shin, Razeghi, Logan, Wallace, Singh, "AutoPrompt: Eliciting Knowledge from Language
Models with Automatically Generated Prompts", EMNLP 2020, arXiv 2010.15980).

    ŷ = v(f(x ⊕ [T]_1 … [T]_k ⊕ [P]))

k discrete trigger tokens, shared by all inputs, are inserted into the token ids and found by a
gradient-guided search (:class:`~.discrete.AutoPromptSearch`, attached as the reprogrammer's
``gradient_estimator`` so ``Trainer(rp, gradient_estimator=rp.gradient_estimator)`` runs the search);
v verbalises the prediction slot with fixed label words (the paper can also choose label tokens
automatically; here they are given). Special tokens are never triggers.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import model_kind, resolve_config, token_ids
from .discrete import AutoPromptSearch, TriggerTokens
from .text import VerbalizerFields, text_example, verbalizer_frozen

__all__ = ["AutoPromptConfig", "build", "AutoPromptSearch"]


class AutoPromptConfig(VerbalizerFields):
    """Number of triggers, where they go and their first token."""

    num_triggers: int = Field(3, ge=1)
    num_candidates: int = Field(10, ge=1, description="top-k candidate tokens per search step")
    position: Literal["auto", "end", "before_mask", "start"] = Field(
        "auto", description="auto: before [MASK] for masked LMs, after the input for causal LMs"
    )
    init_token: Optional[str] = Field(None, description="initial trigger token (default: [MASK], else 'the')")


def _example():
    return text_example(build, label_words=["bad", "good"], num_triggers=2)


@register_method(
    "autoprompt",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=input ω=rule-based",
    modality="text",
    config=AutoPromptConfig,
    example=_example,
)
def build(
    model: Any, config: AutoPromptConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """AutoPrompt: searched discrete trigger tokens in the input, label words out."""
    config = resolve_config(AutoPromptConfig, config, overrides)
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    masked = model_kind(frozen) == "masked"
    position = config.position if config.position != "auto" else ("before_mask" if masked else "end")
    mask_id = getattr(tokenizer, "mask_token_id", None)
    if config.init_token is not None:
        first = token_ids(tokenizer, config.init_token, prefix_space=True)[0]
    elif mask_id is not None and masked:
        first = mask_id
    else:
        first = token_ids(tokenizer, "the", prefix_space=True)[0]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    triggers = TriggerTokens(
        [first] * config.num_triggers, position=position, pad_id=pad_id, mask_id=mask_id, tokenizer=tokenizer
    )
    reprogrammer = Reprogrammer(
        frozen, triggers, verbalizer, paradigm="prompt-tuning", modality="text", name="autoprompt"
    )
    # the triggers are learned by search, not by gradient descent: the trainer uses this update rule
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    allowed = torch.ones(frozen.model.get_input_embeddings().weight.shape[0], dtype=torch.bool)
    allowed[[i for i in special if i < allowed.numel()]] = False
    reprogrammer.gradient_estimator = AutoPromptSearch(config.num_candidates, allowed=allowed)
    return reprogrammer
