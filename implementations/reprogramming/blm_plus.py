"""BLM+ (Cai, Ye, Feng, Qi, Liu, "Bayesian-guided Label Mapping for Visual Reprogramming", NeurIPS 2024,
arXiv:2410.24018).

    x' = N(pad(r(x)) + M ⊙ σ(W)),   ŷ = f(x') ω_BLM+,
    d[s, t] = Σ_{i: y_i = t} softmax(f(x'_i))_s · 1[s ∈ top-k(f(x'_i))],  then BLM's Bayes reweighting

BLM with each sample's top-k source probabilities (k = max(1, ⌊0.15·C_t⌋)) instead of its argmax.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import as_frozen, make_config, seeded_example, tiny_image_example
from .blm import BLMConfig
from .ilm_vp import num_source_classes, padding_program
from .label_mapping import BayesianLabelMappingPlus

__all__ = ["BLMPlusConfig", "build"]


class BLMPlusConfig(BLMConfig):
    top_k: Optional[int] = Field(None, ge=1, description="k source classes aggregated per sample; default ⌊0.15·C_t⌋")


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "blm-plus",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    modality="vision",
    config=BLMPlusConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """BLM+: padding program with a top-k probability-aggregated Bayesian label mapping."""
    cfg = make_config(BLMPlusConfig, config, overrides)
    frozen = as_frozen(model)
    mapping = BayesianLabelMappingPlus(num_source_classes(frozen, cfg), cfg.num_classes, cfg.top_k, cfg.laplace)
    return Reprogrammer(
        frozen, padding_program(cfg), mapping, paradigm="model-reprogramming", modality="vision", name="blm-plus"
    )
