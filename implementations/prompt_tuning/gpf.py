"""GPF: graph prompt feature (Fang, Zhang, Yang, Wang, Chen, "Universal Prompt Tuning for Graph Neural
Networks", NeurIPS 2023, arXiv 2209.15240).

    ŷ = W f({x_i + p}_i, A) + b

One learned vector p added to every node's features of the input graph, a frozen pre-trained GNN
f, and a trained linear projection head.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, resolve_config
from .graph import GraphPromptFeature, TinyGCN, random_graphs

__all__ = ["GPFConfig", "build", "graph_parts"]


class GPFConfig(MethodConfig):
    """Node-feature size F, number of classes, and the GNN's output size (found by a probe when unset)."""

    num_classes: int = Field(..., ge=2)
    features: int = Field(..., ge=1, description="F, node features")
    embedding_dim: Optional[int] = Field(None, ge=1, description="the GNN's graph-embedding size")
    seed: int = 0


def graph_parts(model: Any, config: Any) -> tuple[FrozenModel, LinearAlignment]:
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(model)
    dim = config.embedding_dim
    if dim is None:
        probe = {
            "x": torch.zeros(1, 1, config.features, device=frozen.device),
            "adj": torch.zeros(1, 1, 1, device=frozen.device),
        }
        with torch.no_grad():
            dim = int(frozen(probe).shape[-1])
    with seeded(config.seed):
        head = LinearAlignment(dim, config.num_classes)
    return frozen, head


def tiny_graph_example() -> tuple[TinyGCN, dict, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    with seeded(0):
        gnn = TinyGCN(in_features=6, hidden=16).eval()
    graphs, labels = random_graphs(8, 7, 6, generator=generator)
    return gnn, graphs, labels


def _example():
    gnn, graphs, labels = tiny_graph_example()
    return build(gnn, num_classes=2, features=6), graphs, labels


@register_method(
    "gpf",
    "prompt-tuning",
    "λ=learnable τ=additive ℓ=input ω=linear",
    modality="graph",
    config=GPFConfig,
    example=_example,
)
def build(model: Any, config: GPFConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """GPF: ``x_i' = x_i + p`` on every node, a frozen GNN, a linear head."""
    config = resolve_config(GPFConfig, config, overrides)
    frozen, head = graph_parts(model, config)
    return Reprogrammer(
        frozen, GraphPromptFeature(config.features), head, paradigm="prompt-tuning", modality="graph", name="gpf"
    )
