"""GPF-plus (Fang, Zhang, Yang, Wang, Chen, "Universal Prompt Tuning for Graph Neural Networks",
NeurIPS 2023, arXiv 2209.15240).

    x_i' = x_i + Σ_j α_ij p_j,   α_ij = exp(a_j·x_i) / Σ_l exp(a_l·x_i),   ŷ = W f({x_i'}, A) + b

k basis prompts combined per node with attention weights computed from the node's own features:
an additive prompt that is a learned function of the input (additive and parametric).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .gpf import GPFConfig, graph_parts, tiny_graph_example
from .graph import GraphPromptFeaturePlus

__all__ = ["GPFPlusConfig", "build"]


class GPFPlusConfig(GPFConfig):
    """GPF's settings plus the number k of basis prompts."""

    basis: int = Field(10, ge=1, description="k basis prompts")
    init_std: float = Field(0.01, ge=0)


def _example():
    gnn, graphs, labels = tiny_graph_example()
    return build(gnn, num_classes=2, features=6, basis=3), graphs, labels


@register_method(
    "gpf-plus",
    "prompt-tuning",
    "λ=learnable τ=additive+parametric ℓ=input ω=linear",
    modality="graph",
    config=GPFPlusConfig,
    example=_example,
)
def build(model: Any, config: GPFPlusConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """GPF-plus: node-wise attention over k basis prompts added to the node features."""
    config = resolve_config(GPFPlusConfig, config, overrides)
    frozen, head = graph_parts(model, config)
    with seeded(config.seed):
        prompt = GraphPromptFeaturePlus(config.features, config.basis, config.init_std)
    return Reprogrammer(frozen, prompt, head, paradigm="prompt-tuning", modality="graph", name="gpf-plus")
