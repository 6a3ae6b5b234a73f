"""Voice2Series (Yang, Tsai, Chen, "Voice2Series: Reprogramming Acoustic Models for Time Series
Classification", ICML 2021, arXiv:2106.09296).

    x' = pad(x) + M ⊙ δ        (the series at the start of a waveform of the acoustic model's length T)
    ŷ_t = mean_{s ∈ S_t} f(x')_s   (many-to-one label mapping, fixed)

No pretrained acoustic model ships in any registry here, so the method is generic over any frozen
f: (B, c, T) → (B, C_s); the example and tests use a tiny random 1-D conv classifier.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, as_frozen, make_config, seeded_example, source_classes, tiny_audio_classifier
from .cross_modal import SeriesProgram
from .label_mapping import RandomLabelMapping

__all__ = ["Voice2SeriesConfig", "build"]


class Voice2SeriesConfig(MethodConfig):
    series_length: int = Field(150, ge=1, description="L, the length of the target series")
    target_length: int = Field(16000, ge=1, description="T, the acoustic model's input length (1 s at 16 kHz)")
    channels: int = Field(1, ge=1, description="c, variables of the series = input channels of f")
    placement: Literal["pad", "repeat"] = "pad"
    labels_per_class: int = Field(3, ge=1, description="m source labels averaged per target class")
    seed: int = 0


@seeded_example
def _example():
    model = tiny_audio_classifier(num_classes=30)
    reprogrammer = build(model, num_classes=2, series_length=50, target_length=256)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(8, 50, generator=generator)
    return reprogrammer, inputs, torch.arange(8) % 2


@register_method(
    "voice2series",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=rule-based",
    modality="audio",
    config=Voice2SeriesConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """Voice2Series: a time series padded into a waveform with a learned additive program, many-to-one labels."""
    cfg = make_config(Voice2SeriesConfig, config, overrides)
    frozen = as_frozen(model)
    program = SeriesProgram(cfg.series_length, cfg.target_length, cfg.channels, cfg.placement)
    num_source = source_classes(frozen, torch.zeros(1, cfg.channels, cfg.target_length))
    mapping = RandomLabelMapping(num_source, cfg.num_classes, cfg.labels_per_class, seed=cfg.seed)
    return Reprogrammer(
        frozen,
        program,
        mapping,
        paradigm="model-reprogramming",
        modality="audio",
        task_modality="time-series",
        name="voice2series",
    )
