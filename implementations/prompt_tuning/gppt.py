"""GPPT: graph pre-training and prompt tuning (Sun, Zhou, He, Wang, Wang, "GPPT: Graph Pre-training and Prompt
Tuning to Generalize Graph Neural Networks", KDD 2022, DOI 10.1145/3534678.3539249).

    ŷ_c(v) = ⟨s_v, e_c⟩,   s_v = Σ_{u ∈ N(v) ∪ {v}} softmax_u(a · h_u) h_u,   H = f_enc(G)

A GNN pre-trained by masked edge prediction stays frozen with its link head; the graph prompt
(:class:`~.graph_pretext.TokenPairPrompt`) rewrites the link head's input into the token pair
(structure token of v, task token of class c), so node classification is answered as "does v link to
class c" by the pretext head itself (identity alignment). Learned: the task tokens and the
structure-token attention. (The paper also clusters nodes and keeps task tokens per cluster; one
cluster here.)
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.interfaces import ModuleAdapter
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, resolve_config
from .graph_pretext import PretextLinkGNN, TokenPairPrompt, community_graphs

__all__ = ["GPPTConfig", "build", "tiny_pretext_example"]


class GPPTConfig(MethodConfig):
    """Number of classes (task tokens) and the seed of their initialisation."""

    num_classes: int = Field(..., ge=2, description="C, one task token per class")
    seed: int = 0


def tiny_pretext_example() -> tuple[PretextLinkGNN, dict, torch.Tensor]:
    """A tiny (untrained) pretext GNN and eight community graphs with one query node each."""
    generator = torch.Generator().manual_seed(0)
    with seeded(0):
        gnn = PretextLinkGNN(in_features=6, hidden=8).eval()
    graphs, labels = community_graphs(8, 7, 6, generator=generator)
    return gnn, graphs, labels


def _example():
    gnn, graphs, labels = tiny_pretext_example()
    return build(gnn, num_classes=2), graphs, labels


@register_method(
    "gppt",
    paradigm="prompt-tuning",
    configuration="learnable",
    operator="parametric",
    location="hidden",
    alignment="identity",
    modality="graph",
    config=GPPTConfig,
    example=_example,
)
def build(model: Any, config: GPPTConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """GPPT: node classification as the pretext link prediction between a structure token and task tokens."""
    config = resolve_config(GPPTConfig, config, overrides)
    raw = model.model if isinstance(model, FrozenModel) else model
    if not isinstance(raw, PretextLinkGNN):
        raise TypeError(f"model: expected a PretextLinkGNN (encoder + link head), got {type(raw).__name__}")
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(raw, adapter=ModuleAdapter(layers=["head"]))
    dim = raw.encoder.convs[-1].out_features
    prompt = TokenPairPrompt(config.num_classes, dim, generator=torch.Generator().manual_seed(config.seed))
    return Reprogrammer(frozen, prompt, IdentityAlignment(), paradigm="prompt-tuning", modality="graph", name="gppt")
