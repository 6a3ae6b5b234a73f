"""Cross-modal adversarial reprogramming (Neekhara, Hussain, Du, Dubnov, Koushanfar, McAuley, "Cross-modal
Adversarial Reprogramming", WACV 2022, arXiv:2102.07325).

    x' = N(½(tanh(grid(Θ[x])) + 1)),   ŷ = f(x')_{first C_t}

Token sequences (text, DNA, protein) become images: each token looks up a learned patch, the patches
tile the canvas in reading order; the frozen image classifier's first C_t labels are the target labels.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IndexMapping
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import IMAGENET_MEAN, IMAGENET_STD, MethodConfig, as_frozen, make_config, random_tokens, seeded_example
from .cross_modal import TokenImageProgram

__all__ = ["CrossModalConfig", "build"]


class CrossModalConfig(MethodConfig):
    vocab_size: int = Field(..., ge=1, description="V, the target task's vocabulary (token ids 0..V-1)")
    patch_size: int = Field(16, ge=1, description="p, the side of each token's patch")
    grid: int = Field(14, ge=1, description="the canvas holds grid × grid tokens (224 = 14 × 16)")
    channels: int = Field(3, ge=1)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    pad_token_id: int = Field(0, ge=0)
    task_modality: Literal["text", "dna", "protein", "molecule"] = "text"


@seeded_example
def _example():
    from reprogrammability.implementations.models.tiny import tiny_cnn

    model = tiny_cnn(num_classes=20, width=8)
    reprogrammer = build(model, num_classes=4, vocab_size=30, patch_size=4, grid=8)
    return reprogrammer, random_tokens(8, 40, 30, low=1), torch.arange(8) % 4


@register_method(
    "cross-modal-reprogramming",
    "model-reprogramming",
    "λ=learnable τ=parametric ℓ=input ω=rule-based",
    modality="vision",
    config=CrossModalConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Cross-modal reprogramming: token sequences as images of learned per-token patches, first-k labels."""
    cfg = make_config(CrossModalConfig, config, overrides)
    program = TokenImageProgram(
        cfg.vocab_size, cfg.patch_size, cfg.grid, cfg.channels, cfg.mean, cfg.std, cfg.pad_token_id
    )
    return Reprogrammer(
        as_frozen(model),
        program,
        IndexMapping.first_k(cfg.num_classes),
        paradigm="model-reprogramming",
        modality="vision",
        task_modality=cfg.task_modality,
        name="cross-modal-reprogramming",
    )
