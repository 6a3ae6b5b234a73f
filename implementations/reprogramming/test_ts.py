"""TEST (Sun, Li, Li, Hong, "TEST: Text Prototype Aligned Embedding to Activate LLM's Ability for Time Series",
ICLR 2024, arXiv:2308.08241).

    e = g_θ(segment(x)),   Z = f([P; e]),   ŷ = W flatten(mean(Z_e)) + b

A causal conv encoder turns series segments into tokens in the LM's embedding space (kept near text
prototypes by :meth:`~.series_language_model.SeriesTokenEncoder.alignment_loss`), a learned soft prompt P is
prepended, and a linear classifier reads the frozen LM's pooled states. The paper's contrastive
pre-training of the encoder is a separate stage and is not part of the reprogrammer.
"""

from __future__ import annotations

from typing import Optional

import torch
from pydantic import Field

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, make_config, seeded_example
from .series_language_model import SeriesClassifierHead, SeriesLanguageModelAdapter, SeriesTokenEncoder, SoftPrefix

__all__ = ["TESTConfig", "build"]


class TESTConfig(MethodConfig):
    num_variables: int = Field(1, ge=1, description="N variables of the series")
    segment_length: int = Field(8, ge=1)
    stride: int = Field(8, ge=1)
    width: int = Field(16, ge=1, description="w, channels of the encoder")
    prompt_length: int = Field(4, ge=1, description="P soft-prompt vectors")
    prototype_ids: Optional[tuple[int, ...]] = Field(None, description="token ids of the text prototypes")


@seeded_example
def _example():
    from reprogrammability.implementations.models.tiny import tiny_causal_lm

    reprogrammer = build(tiny_causal_lm(), num_classes=2, segment_length=8, stride=8, width=8, prompt_length=2)
    generator = torch.Generator().manual_seed(0)
    targets = torch.arange(8) % 2
    t = torch.arange(32, dtype=torch.float32)
    series = torch.sin(t * (1 + targets[:, None]) / 4.0) + 0.1 * torch.randn(8, 32, generator=generator)
    return reprogrammer, series, targets


@register_method(
    "test-ts",
    "model-reprogramming",
    "λ=learnable τ=parametric+concatenative ℓ=embedding ω=linear",
    modality="text",
    config=TESTConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """TEST: series tokens aligned to text prototypes, a soft prompt, and a linear classifier on the frozen LM."""
    cfg = make_config(TESTConfig, config, overrides)
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(model, adapter=SeriesLanguageModelAdapter("mean"))
    if not isinstance(frozen.adapter, SeriesLanguageModelAdapter):
        raise TypeError("model: TEST needs FrozenModel(model, adapter=SeriesLanguageModelAdapter('mean'))")
    embedding = frozen.model.get_input_embeddings()
    encoder = SeriesTokenEncoder(embedding, cfg.segment_length, cfg.stride, cfg.width, cfg.prototype_ids)
    prompt = SoftPrefix(cfg.prompt_length, embedding.weight.shape[1])
    head = SeriesClassifierHead(cfg.num_variables, embedding.weight.shape[1], cfg.num_classes)
    return Reprogrammer(
        frozen,
        [encoder, prompt],
        head,
        paradigm="model-reprogramming",
        modality="text",
        task_modality="time-series",
        name="test-ts",
    )
