"""KATE: kNN-augmented in-context example selection (Liu, Shen, Zhang, Dolan, Carin & Chen, "What
Makes Good In-Context Examples for GPT-3?", DeeLIO 2022, arXiv 2101.06804).

For each query x the k pool examples nearest to it in a sentence-encoder space (cosine similarity)
become its demonstrations, ordered with the most similar one next to the query (the paper's
"reversed" order); then ``ŷ_c = log p_f(w_c | [T(d_1, y_1); ...; T(d_k, y_k); T(x)])`` as in
in-context learning. Each query has its own prefix; the prompt is still fixed (no parameters).
"""

from __future__ import annotations

from typing import Any, Literal

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import LabelWordConfig, few_shot_sentiment_example, resolve_config
from .icl_builder import build_label_word_method
from .selection import HashingEmbedder

__all__ = ["KATEConfig", "build", "example"]


class KATEConfig(LabelWordConfig):
    """KATE: nearest-neighbour demonstrations; ``embedder`` maps texts to (N, D) (e.g. ``EncoderEmbedder``
    over all-MiniLM-L6-v2); the default is the model-free :class:`~.selection.HashingEmbedder`."""

    k: int = 4
    selection: Literal["nearest"] = "nearest"
    ordering: Literal["given", "random", "similar-last", "similar-first"] = "similar-last"


def example():
    return few_shot_sentiment_example(build, k=3)


@register_method(
    "kate",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    modality="text",
    config=KATEConfig,
    example=example,
)
def build(model, config: KATEConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """KATE: the k nearest pool examples (by sentence embedding) as each query's demonstrations."""
    config = resolve_config(KATEConfig, config, overrides)
    if config.embedder is None:
        config = resolve_config(KATEConfig, config, {"embedder": HashingEmbedder()})
    return build_label_word_method(model, config, "kate")
