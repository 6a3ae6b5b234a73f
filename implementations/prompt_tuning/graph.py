"""Graph prompt features (Fang et al., "Universal Prompt Tuning for Graph Neural Networks", NeurIPS 2023,
arXiv 2209.15240), and a tiny frozen GCN to apply them to.

* GPF: one learned vector p (F,) added to every node's features, ``x_i' = x_i + p``;
* GPF-plus: k basis prompts p_j (F,) combined per node by attention on the node's own features,
  ``x_i' = x_i + Σ_j α_ij p_j``, ``α_ij = softmax_j(a_j · x_i)``.

A graph batch is a dict: ``x`` (B, N, F) node features, ``adj`` (B, N, N) 0/1 adjacency, ``mask``
(B, N) 1 for real nodes (graphs padded to N nodes). Prompts touch real nodes only.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, op, symbols, x

__all__ = ["TinyGCN", "GraphPromptFeature", "GraphPromptFeaturePlus", "random_graphs", "check_graph"]

_softmax = op("softmax", r"\mathrm{softmax}")


def check_graph(graph: Any) -> tuple[Tensor, Tensor, Tensor]:
    """(x, adj, mask) of a graph batch, with shapes checked; a missing mask means all nodes are real."""
    if not isinstance(graph, dict) or "x" not in graph or "adj" not in graph:
        raise ShapeError(f"graph: expected a dict with 'x' (B, N, F) and 'adj' (B, N, N), got {type(graph).__name__}")
    x, adj = graph["x"], graph["adj"]
    if x.dim() != 3 or adj.shape != (x.shape[0], x.shape[1], x.shape[1]):
        raise ShapeError(f"graph: expected x (B, N, F) and adj (B, N, N), got {tuple(x.shape)} and {tuple(adj.shape)}")
    mask = graph.get("mask")
    mask = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device) if mask is None else mask.to(x.dtype)
    return x, adj, mask


class TinyGCN(nn.Module):
    """A dense graph convolutional network (Kipf & Welling, ICLR 2017) with mean pooling.

    ``H_{l+1} = ReLU(Â H_l W_l)``, ``Â = D^{-1/2}(A + I)D^{-1/2}``; output: the mean of the last H over
    real nodes, (B, hidden).
    """

    def __init__(self, in_features: int, hidden: int = 32, layers: int = 2):
        super().__init__()
        dims = [in_features] + [hidden] * layers
        self.convs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def node_embeddings(self, graph: dict[str, Tensor]) -> Tensor:
        """The last layer's node states H (B, N, hidden)."""
        x, adj, mask = check_graph(graph)
        a = adj.to(x.dtype) + torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        a = a * mask.unsqueeze(1) * mask.unsqueeze(2)
        degree = a.sum(-1).clamp_min(1.0)
        norm = degree.rsqrt()
        a_hat = norm.unsqueeze(2) * a * norm.unsqueeze(1)
        h = x
        for conv in self.convs:
            h = torch.relu(a_hat @ conv(h))
        return h

    def forward(self, graph: dict[str, Tensor]) -> Tensor:
        h = self.node_embeddings(graph)
        weights = check_graph(graph)[2].unsqueeze(-1)
        return (h * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def random_graphs(
    count: int, nodes: int, features: int, *, classes: int = 2, generator: torch.Generator | None = None
) -> tuple[dict[str, Tensor], Tensor]:
    """A toy graph-classification set: class c graphs have edge density 0.15 + 0.2c and feature mean c."""
    labels = torch.randint(0, classes, (count,), generator=generator)
    density = 0.15 + 0.2 * labels.float()
    upper = (torch.rand(count, nodes, nodes, generator=generator) < density.view(-1, 1, 1)).float().triu(1)
    adj = upper + upper.transpose(1, 2)
    x = torch.randn(count, nodes, features, generator=generator) + labels.float().view(-1, 1, 1) * 0.5
    return {"x": x, "adj": adj, "mask": torch.ones(count, nodes)}, labels


class GraphPromptFeature(InputManipulation):
    """GPF: ``x_i' = x_i + p`` for every real node i; p (F,) learned. Trainable parameters: F."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self, features: int, init_std: float = 0.0):
        super().__init__()
        self.prompt = nn.Parameter(torch.randn(features) * init_std if init_std else torch.zeros(features))

    def delta(self, x: Tensor) -> Tensor:
        return self.prompt.to(x.dtype).expand_as(x)

    def forward(self, graph: dict[str, Tensor]) -> dict[str, Tensor]:
        x, _, mask = check_graph(graph)
        if x.shape[-1] != self.prompt.numel():
            raise ShapeError(f"x: expected {self.prompt.numel()} node features, got {x.shape[-1]}")
        return {**graph, "x": x + self.delta(x) * mask.unsqueeze(-1)}

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """p added to the N nodes' F features: ``N·F`` element-wise additions, no FLOPs."""
        N, Fs = symbols("N F")
        nodes = context.input_shape[0] if context.input_shape else 0
        return InferenceOverhead(
            elementwise=N * Fs, shapes={N: nodes, Fs: self.prompt.numel()}, description="node prompt"
        )

    def symbolic(self) -> SymbolicForm:
        (Fs,) = symbols("F")
        return SymbolicForm(
            x + sp.Symbol("p"), Fs, {Fs: self.prompt.numel()}, description="GPF: one shared node prompt"
        )


class GraphPromptFeaturePlus(GraphPromptFeature):
    """GPF-plus: ``x_i' = x_i + Σ_j α_ij p_j``, ``α_i = softmax(A x_i)`` over k basis prompts.

    Declared additive (a sum with x) and parametric (the weights are a learned function of x_i).
    Trainable parameters: k·F (basis P) + k·F (attention A).
    """

    operator = (Operator.ADDITIVE, Operator.PARAMETRIC)

    def __init__(self, features: int, basis: int = 10, init_std: float = 0.01):
        InputManipulation.__init__(self)
        if basis <= 0:
            raise ValueError(f"basis: expected a positive number of basis prompts, got {basis}")
        self.basis = nn.Parameter(torch.randn(basis, features) * init_std)
        self.attention = nn.Linear(features, basis, bias=False)

    @property
    def prompt(self) -> Tensor:  # for shape checks in forward
        return self.basis[0]

    def delta(self, x: Tensor) -> Tensor:
        alpha = torch.softmax(self.attention(x), dim=-1)  # (B, N, k)
        return alpha @ self.basis.to(x.dtype)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Per node: the scores A x_i (``2·F·k``) and the mix α_i P (``2·k·F``): ``4·N·F·k`` FLOPs for N nodes."""
        N, Fs, k = symbols("N F k")
        nodes = context.input_shape[0] if context.input_shape else 0
        shapes = {N: nodes, Fs: self.basis.shape[1], k: self.basis.shape[0]}
        return InferenceOverhead(flops=4 * N * Fs * k, elementwise=N * Fs, shapes=shapes, description="basis prompts")

    def symbolic(self) -> SymbolicForm:
        k, Fs = symbols("k F")
        expression = x + _softmax(sp.Symbol("A") * x) * sp.Symbol("P")
        return SymbolicForm(
            expression,
            2 * k * Fs,
            {k: self.basis.shape[0], Fs: self.basis.shape[1]},
            description="GPF-plus: node-wise attention over k basis prompts",
        )
