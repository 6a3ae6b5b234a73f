"""BBT: black-box tuning (Sun, Shao, Qian, Huang, Qiu, "Black-Box Tuning for Language-Model-as-a-Service",
ICML 2022, arXiv 2201.03514).

    ŷ = v(f([A z + P₀; E(x)])),   z* = CMA-ES argmin_z L(ŷ, y)   (model outputs only)

Only the low-dimensional z is optimised, without gradients through f: :func:`~.black_box.fit_black_box`
runs CMA-ES and counts queries (the reprogrammer's ``gradient_estimator``, an evolution-strategy
gradient, serves the generic trainer). A is a fixed random projection with entries N(0, σ²),
σ = σ̂_E / (√d σ_z); P₀ zeros or sampled-vocabulary embeddings.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .black_box import EvolutionStrategyEstimator, ProjectedPrompt, fit_black_box, projection_std
from .common import input_embeddings, resolve_config
from .soft_prompt import sampled_vocabulary_init
from .text import VerbalizerFields, text_example, verbalizer_frozen

__all__ = ["BBTConfig", "build", "fit_black_box", "EvolutionStrategyEstimator"]


class BBTConfig(VerbalizerFields):
    """Prompt length L_p, subspace dimension d, CMA-ES step size σ_z, initial prompt P₀."""

    num_virtual_tokens: int = Field(50, ge=1)
    subspace_dim: int = Field(500, ge=1, description="d, the dimension of z")
    sigma: float = Field(1.0, gt=0, description="σ_z, CMA-ES's initial step size (also scales A)")
    initial_prompt: Literal["zeros", "sampled-vocabulary"] = "zeros"
    sample_top_k: int = Field(5000, ge=1)
    es_samples: int = Field(10, ge=1, description="directions of the trainer's evolution-strategy gradient")
    es_sigma: float = Field(0.1, gt=0, description="smoothing σ of the evolution-strategy gradient")
    seed: int = 0


def _example():
    return text_example(build, label_words=["bad", "good"], num_virtual_tokens=3, subspace_dim=8)


@register_method(
    "bbt",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    access="zeroth-order",
    modality="text",
    config=BBTConfig,
    example=_example,
)
def build(
    model: Any, config: BBTConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """BBT: a prompt A z + P₀ in a random low-dimensional subspace, tuned by CMA-ES on outputs only."""
    config = resolve_config(BBTConfig, config, overrides)
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    embedding = input_embeddings(frozen)
    D = embedding.weight.shape[1]
    generator = torch.Generator().manual_seed(config.seed)
    initial = None
    if config.initial_prompt == "sampled-vocabulary":
        initial = sampled_vocabulary_init(embedding, config.num_virtual_tokens, config.sample_top_k, generator)
    std = projection_std(float(embedding.weight.detach().float().std()), config.subspace_dim, config.sigma)
    prompt = ProjectedPrompt(
        config.num_virtual_tokens,
        D,
        config.subspace_dim,
        projection_std=std,
        initial_prompt=initial,
        generator=generator,
    )
    reprogrammer = Reprogrammer(
        frozen, prompt, verbalizer, paradigm="prompt-tuning", access="zeroth-order", modality="text", name="bbt"
    )
    # the generic trainer's zeroth-order update (the paper's optimiser, CMA-ES, is fit_black_box)
    reprogrammer.gradient_estimator = EvolutionStrategyEstimator(config.es_samples, config.es_sigma, seed=config.seed)
    return reprogrammer
