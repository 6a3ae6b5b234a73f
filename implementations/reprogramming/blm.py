"""BLM (Cai, Ye, Feng, Qi, Liu, "Bayesian-guided Label Mapping for Visual Reprogramming", NeurIPS 2024,
arXiv:2410.24018).

    x' = N(pad(r(x)) + M ⊙ σ(W)),   ŷ = f(x') ω_BLM,
    ω_BLM[s, t] ∝_s d[s, t] / (Σ_t' d[s, t'] + λ)      (d: frequency of (argmax f(x'), y)), per epoch

The same padding program as ILM-VP; the probabilistic many-to-many ω is re-estimated from each epoch's logits.
"""

from __future__ import annotations

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import as_frozen, make_config, seeded_example, tiny_image_example
from .ilm_vp import ILMVPConfig, num_source_classes, padding_program
from .label_mapping import BayesianLabelMapping

__all__ = ["BLMConfig", "build"]


class BLMConfig(ILMVPConfig):
    laplace: float = Field(1.0, ge=0, description="λ, the Laplace smoothing of the conditional probabilities")


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "blm",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=statistical",
    modality="vision",
    config=BLMConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """BLM: padding program with a Bayesian-guided probabilistic label mapping."""
    cfg = make_config(BLMConfig, config, overrides)
    frozen = as_frozen(model)
    mapping = BayesianLabelMapping(num_source_classes(frozen, cfg), cfg.num_classes, laplace=cfg.laplace)
    return Reprogrammer(
        frozen, padding_program(cfg), mapping, paradigm="model-reprogramming", modality="vision", name="blm"
    )
