"""R2DL (Vinod, Chen, Das, "Reprogramming Language Models for Molecular Representation Learning",
arXiv:2012.03460, 2020).

    e'_i = θ[x_i] E          (target tokens as linear, sparse combinations of the source embeddings E)
    ŷ = W f(e') + b

The target vocabulary (e.g. SMILES tokens) is embedded through a learned dictionary over the frozen English
model's embeddings (sparsity: add ``weight · remap.regularization()`` to the loss); a linear head maps the
frozen encoder's pooled output to the target classes.
"""

from __future__ import annotations

import torch
from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
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
    from reprogrammability.implementations.models.tiny import tiny_masked_lm

    encoder = tiny_masked_lm().bert  # a bare encoder: mean-pooled last hidden state
    reprogrammer = build(encoder, num_classes=3, target_vocab_size=30)
    return reprogrammer, random_tokens(8, 12, 30, low=1), torch.arange(8) % 3


@register_method(
    "r2dl",
    paradigm="model-reprogramming",
    configuration="learnable",
    operator="parametric",
    location="embedding",
    alignment="linear",
    modality="text",
    config=R2DLConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """R2DL: target tokens as learned linear combinations of the source embeddings, a linear head."""
    cfg = make_config(R2DLConfig, config, overrides)
    frozen = as_frozen(model)
    remap = VocabularyRemap(
        frozen.model.get_input_embeddings(),
        cfg.target_vocab_size,
        mode="linear",
        passthrough=cfg.passthrough,
        seed=cfg.seed,
    )
    width = source_classes(frozen, torch.ones(1, 2, dtype=torch.long))
    return Reprogrammer(
        frozen,
        remap,
        LinearAlignment(width, cfg.num_classes),
        paradigm="model-reprogramming",
        modality="text",
        task_modality=cfg.task_modality,
        name="r2dl",
    )
