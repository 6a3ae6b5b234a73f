"""Reprogramming with similarity-based label mapping (Hung, Yang, Chen, Siniscalchi, Lee et al., "Neural
Model Reprogramming with Similarity Based Mapping for Low-Resource Spoken Command Recognition", arXiv:2110.03894,
Interspeech 2023).

    x' = pad(x) + M ⊙ δ           (additive waveform program)
    S[s, t] = mean_{i: y_i = t} softmax(f(x'_i))_s,   ŷ_t = mean_{s ∈ S_t} f(x')_s,  S_t greedy top-k of S[:, t]

The target commands are mapped to the source classes whose average predicted probability on them is highest,
re-estimated every epoch.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import (
    MethodConfig,
    as_frozen,
    fitted_example,
    make_config,
    seeded_example,
    source_classes,
    tiny_audio_classifier,
)
from .cross_modal import SeriesProgram
from .label_mapping import SimilarityLabelMapping

__all__ = ["SimilarityMappingConfig", "build"]


class SimilarityMappingConfig(MethodConfig):
    input_length: int = Field(16000, ge=1, description="length of the target waveforms")
    target_length: int = Field(16000, ge=1, description="T, the acoustic model's input length")
    channels: int = Field(1, ge=1)
    placement: Literal["pad", "repeat"] = "pad"
    labels_per_class: int = Field(1, ge=1, description="k source classes per target class")


@seeded_example
def _example():
    model = tiny_audio_classifier(num_classes=30)
    reprogrammer = build(model, num_classes=4, input_length=192, target_length=256)
    generator = torch.Generator().manual_seed(0)
    return fitted_example(reprogrammer, torch.randn(8, 192, generator=generator), torch.arange(8) % 4)


@register_method(
    "similarity-label-mapping",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    modality="audio",
    config=SimilarityMappingConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Additive waveform program with a similarity-based (average-probability) label mapping."""
    cfg = make_config(SimilarityMappingConfig, config, overrides)
    frozen = as_frozen(model)
    program = SeriesProgram(cfg.input_length, cfg.target_length, cfg.channels, cfg.placement)
    num_source = source_classes(frozen, torch.zeros(1, cfg.channels, cfg.target_length))
    mapping = SimilarityLabelMapping(num_source, cfg.num_classes, cfg.labels_per_class)
    return Reprogrammer(
        frozen, program, mapping, paradigm="model-reprogramming", modality="audio", name="similarity-label-mapping"
    )
