"""R2DL (Vinod, Chen, Das, "Reprogramming Language Models for Molecular Representation Learning",
arXiv:2012.03460, 2020).

    e'_i = θ[x_i] E          (target tokens as linear, sparse combinations of the source embeddings E)
    ŷ_t = mean_{s ∈ S_t} f(e')_s   (a fixed many-to-one map of the source classifier's labels)

The target vocabulary (e.g. SMILES tokens) is embedded through a learned dictionary over the frozen English
model's embeddings (sparsity: add ``weight · remap.regularization()`` to the loss). The frozen model is a
source-task *classifier* (a sentiment model in the paper); its C_s labels are assigned to the C_t target labels
by a fixed rule: target t reads source classes t, t + C_t, t + 2 C_t, ... (rule-based alignment, as the paper
and the survey describe it). R2DL's k-SVD solver is replaced by gradient training of θ with an optional L1
penalty.
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IndexMapping
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, as_frozen, make_config, random_tokens, seeded_example, source_classes
from .cross_modal import VocabularyRemap

__all__ = ["R2DLConfig", "build"]


class R2DLConfig(MethodConfig):
    target_vocab_size: int = Field(..., ge=1, description="V_t, the target vocabulary size (≤ V_s)")
    passthrough: tuple[int, ...] = Field((0,), description="target ids that keep their own embedding")
    seed: int = 0
    task_modality: str = "molecule"


@seeded_example
def _example():
    import transformers

    from reprogrammability.implementations.models.tiny import tiny_masked_lm

    config = tiny_masked_lm().config
    config.num_labels = 6
    classifier = transformers.BertForSequenceClassification(config)  # the source-task classifier, C_s = 6
    reprogrammer = build(classifier, num_classes=3, target_vocab_size=30)
    return reprogrammer, random_tokens(8, 12, 30, low=1), torch.arange(8) % 3


@register_method(
    "r2dl",
    "model-reprogramming",
    "λ=learnable τ=parametric ℓ=embedding ω=rule-based",
    modality="text",
    config=R2DLConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """R2DL: target tokens as learned linear combinations of the source embeddings, a many-to-one label map."""
    cfg = make_config(R2DLConfig, config, overrides)
    frozen = as_frozen(model)
    remap = VocabularyRemap.of_model(frozen, cfg, "linear")
    num_source = source_classes(frozen, torch.ones(1, 2, dtype=torch.long))
    if num_source < cfg.num_classes:
        raise ValueError(
            f"num_classes: {cfg.num_classes} target classes exceed the {num_source} labels of the frozen classifier"
        )
    per_class = num_source // cfg.num_classes
    labels = IndexMapping([[t + j * cfg.num_classes for j in range(per_class)] for t in range(cfg.num_classes)])
    return Reprogrammer(
        frozen,
        remap,
        labels,
        paradigm="model-reprogramming",
        modality="text",
        task_modality=cfg.task_modality,
        name="r2dl",
    )
