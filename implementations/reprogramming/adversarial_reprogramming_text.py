"""Adversarial reprogramming of text classifiers (Neekhara, Hussain, Dubnov, Koushanfar, "Adversarial
Reprogramming of Text Classification Neural Networks", EMNLP-IJCNLP 2019, arXiv:1809.01829).

    e'_i = softmax(θ[x_i] / τ) E,   ŷ = f(e')_{first C_t}

A context-free vocabulary remapping θ (V_t × V_s): each target token becomes a (Gumbel-)softmax mixture of
the frozen classifier's token embeddings (the white-box relaxation of a discrete token-to-token map); the
classifier's first C_t labels are the target labels.
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IndexMapping
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, as_frozen, make_config, random_tokens, seeded_example, tiny_text_classifier
from .cross_modal import VocabularyRemap

__all__ = ["TextReprogrammingConfig", "build"]


class TextReprogrammingConfig(MethodConfig):
    target_vocab_size: int = Field(..., ge=1, description="V_t, the target task's vocabulary size (≤ V_s)")
    temperature: float = Field(1.0, gt=0, description="τ of the softmax")
    gumbel: bool = Field(False, description="sample Gumbel noise in training (the paper's discrete relaxation)")
    passthrough: tuple[int, ...] = Field((0,), description="target ids that keep their own embedding (padding)")
    seed: int = 0


@seeded_example
def _example():
    model = tiny_text_classifier(num_labels=6)
    reprogrammer = build(model, num_classes=3, target_vocab_size=40)
    return reprogrammer, random_tokens(8, 12, 40, low=1), torch.arange(8) % 3


@register_method(
    "adversarial-reprogramming-text",
    "model-reprogramming",
    "λ=learnable τ=parametric ℓ=embedding ω=rule-based",
    modality="text",
    config=TextReprogrammingConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Text adversarial reprogramming: a learned target-to-source vocabulary remapping, first-k labels."""
    cfg = make_config(TextReprogrammingConfig, config, overrides)
    frozen = as_frozen(model)
    remap = VocabularyRemap.of_model(frozen, cfg, "softmax", temperature=cfg.temperature, gumbel=cfg.gumbel)
    return Reprogrammer(
        frozen,
        remap,
        IndexMapping.first_k(cfg.num_classes),
        paradigm="model-reprogramming",
        modality="text",
        name="adversarial-reprogramming-text",
    )
