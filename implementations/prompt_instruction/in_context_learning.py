"""In-context learning (Brown et al., "Language Models are Few-Shot Learners", NeurIPS 2020, arXiv 2005.14165).

``ŷ_c = Σ_j log p_f(w_c[j] | [I; T(d_1, y_1); ...; T(d_k, y_k); T(x)], w_c[<j])``: k labelled
demonstrations written with the template are concatenated before the query (fixed, concatenative,
at the input); the class is the label word w_c the frozen LM finds most likely (rule-based).
Demonstrations are selected at random (``random``: one draw for all queries; ``random-per-query``:
Brown et al.'s fresh draw per query), fixed, or nearest by embedding; the shared prefix is encoded
once and reused (:class:`~.scoring.CausalLMScorer`).
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import LabelWordConfig, few_shot_sentiment_example, resolve_config
from .icl_builder import build_label_word_method

__all__ = ["InContextLearningConfig", "build", "example"]


class InContextLearningConfig(LabelWordConfig):
    """k-shot prompting with label-word scoring (defaults: 4 random demonstrations, summed log-likelihood)."""

    k: int = 4


def example():
    return few_shot_sentiment_example(build, k=4)


@register_method(
    "in-context-learning",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    modality="text",
    config=InContextLearningConfig,
    example=example,
)
def build(model, config: InContextLearningConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """In-context learning: k demonstrations before the query, label words scored by the frozen LM."""
    config = resolve_config(InContextLearningConfig, config, overrides)
    return build_label_word_method(model, config, "in-context-learning")
