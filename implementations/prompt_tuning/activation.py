"""Activation prompts (Zhang, Li, Yao, Chen, Zhang, Chen, Wang, Liu, "Visual Prompting Reimagined: The Power
of Activation Prompts", AISTATS 2026, arXiv 2604.06440; the catalog's earlier pointer is arXiv 2310.13720).

A universal perturbation of the activation map entering a chosen layer ℓ, ``h_ℓ' = h_ℓ + δ``, with
δ of that map's shape (C, H, W for a CNN, T, D for a transformer), shared by all inputs; a linear
head reads the output. Input-level visual prompting is the case ℓ = 0.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, symbols, x

__all__ = ["ActivationPrompt"]


class ActivationPrompt(HiddenManipulation):
    """``h_ℓ + δ_ℓ`` at each of ``layers``; δ_ℓ has the shape of one example's activation map there.

    ``shapes`` gives that shape per layer (find it with ``FrozenModel.trace``). Trainable parameters:
    Σ_ℓ |δ_ℓ|. δ starts at zero, so the reprogrammer starts as the frozen model.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE

    def __init__(self, layers: Sequence[int], shapes: Sequence[Sequence[int]], tower: str | None = None):
        super().__init__()
        layers = tuple(int(layer) for layer in layers)
        if not layers or len(shapes) != len(layers):
            raise ValueError(f"layers/shapes: expected one activation shape per layer, got {layers} and {list(shapes)}")
        self.layers, self.tower = layers, tower
        self.deltas = nn.ParameterList(nn.Parameter(torch.zeros(*shape)) for shape in shapes)

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        delta = self.deltas[self.layers.index(layer)]
        if tuple(hidden.shape[1:]) != tuple(delta.shape):
            raise ShapeError(
                f"hidden: expected (B, {', '.join(map(str, delta.shape))}) at layer {layer}, got {tuple(hidden.shape)}"
            )
        return hidden + delta.to(hidden.dtype)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Adds learned deltas to hidden states: element-wise, no FLOPs, no extra positions."""
        return InferenceOverhead(description="hidden-state addition")

    def symbolic(self) -> SymbolicForm:
        sizes = symbols(" ".join(f"n_{layer}" for layer in self.layers))
        shapes = {s: int(d.numel()) for s, d in zip(sizes, self.deltas)}
        return SymbolicForm(
            x + sp.Symbol("delta_ell"),
            sp.Add(*sizes),
            shapes,
            description=f"activation prompts at layers {self.layers}",
        )
