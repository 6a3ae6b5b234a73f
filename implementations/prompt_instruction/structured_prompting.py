"""Structured prompting (Hao, Sun, Dong, Han, Gu & Wei, "Structured Prompting: Scaling In-Context
Learning to 1,000 Examples", 2022, arXiv 2212.06713).

``ŷ_c = log p_f(w_c | KV(G_1) ⊕ ... ⊕ KV(G_M), x)``: M groups of k demonstrations, each encoded
on its own with right-aligned positions, concatenated as a key/value prefix (fixed,
concatenative, hidden) with the test input's attention to them rescaled by 1/M; label words
scored as in in-context learning (rule-based). Inputs are queries already written with the
template (``reprogrammer.template.format_input(text)``).
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import TINY_SENTIMENT, TINY_TEMPLATE, LabelWordConfig, resolve_config, tiny_lm
from .icl_builder import scorer_frozen, template_of
from .scoring import LabelWordScoring
from .selection import Pool
from .structured import StructuredPrefix

__all__ = ["StructuredPromptingConfig", "build", "example", "demonstration_groups"]


class StructuredPromptingConfig(LabelWordConfig):
    """M = ``num_groups`` groups of k demonstrations drawn (seeded) from ``pool``."""

    k: int = Field(4, ge=1)
    num_groups: int = Field(2, ge=1)
    rescale: bool = True
    groups: list[str] = Field(default_factory=list)
    """Explicit group texts (each ends with the separator), instead of drawing from the pool."""


def demonstration_groups(config: StructuredPromptingConfig) -> list[str]:
    if config.groups:
        return list(config.groups)
    if config.pool is None:
        raise ValueError("pool: give demonstrations (texts, labels) or explicit groups")
    pool = config.pool if isinstance(config.pool, Pool) else Pool(*config.pool)
    needed = config.k * config.num_groups
    if needed > len(pool):
        raise ValueError(
            f"pool: {config.num_groups} groups of k={config.k} need {needed} examples, the pool has {len(pool)}"
        )
    order = random.Random(config.seed).sample(range(len(pool)), needed)
    template = template_of(config)
    return [
        template.prefix(
            [
                template.demonstration(pool.texts[i], config.label_words[pool.labels[i]])
                for i in order[g * config.k : (g + 1) * config.k]
            ]
        )
        for g in range(config.num_groups)
    ]


def example():
    import torch

    model, tokenizer = tiny_lm("llama")
    texts, labels = zip(*TINY_SENTIMENT["train"])
    reprogrammer = build(model, tokenizer=tokenizer, pool=(texts, labels), k=2, num_groups=3, **TINY_TEMPLATE)
    test, test_labels = zip(*TINY_SENTIMENT["test"])
    return reprogrammer, [reprogrammer.template.format_input(t) for t in test], torch.tensor(test_labels)


@register_method(
    "structured-prompting",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=hidden ω=rule-based",
    modality="text",
    config=StructuredPromptingConfig,
    example=example,
)
def build(model, config: StructuredPromptingConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Structured prompting: independently encoded demonstration groups as a rescaled key/value prefix."""
    config = resolve_config(StructuredPromptingConfig, config, overrides)
    frozen, scorer = scorer_frozen(model, config)
    prefix = StructuredPrefix(frozen, demonstration_groups(config), rescale=config.rescale)
    scoring = LabelWordScoring.for_scorer(scorer, config.label_words, normalization=config.normalization)
    reprogrammer = Reprogrammer(
        frozen,
        input=prefix,
        output=scoring,
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        modality=Modality.TEXT,
        name="structured-prompting",
    )
    reprogrammer.template = template_of(config)
    return reprogrammer
