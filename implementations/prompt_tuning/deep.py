"""Deep prompts: new prompt vectors at the prompt slots of every chosen layer (VPT-deep, MaPLe).

The first layer's prompts are inserted at the embedding interface (a :class:`SoftPrompt`); at each
later layer ℓ the hidden states at those slots are *replaced*, not accumulated:

    h_ℓ = [h_ℓ[:s]; P_ℓ; h_ℓ[s+L_p:]]

(Jia et al., "Visual Prompt Tuning", ECCV 2022, arXiv 2203.12119: slots right after the class
token, s = 1). MaPLe (Khattak et al., CVPR 2023, arXiv 2210.03117) couples the two CLIP towers:
the vision prompts are linear maps of the language prompts, ``P̃_ℓ = F_ℓ(P_ℓ)``, appended after the
image tokens (slots at the end).
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import HiddenManipulation, InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols, x

from .soft_prompt import resolve_position

__all__ = ["DeepPrompts", "CoupledDeepPrompts", "CoupledPrompt", "replace_slots"]

_F = op("F", r"F")


def replace_slots(hidden: Tensor, prompt: Tensor, start: int | str) -> Tensor:
    """``[h[:s]; P; h[s+L_p:]]`` for hidden (B, T, D) and prompt (L_p, D); ``start="end"`` means the last L_p slots."""
    length = prompt.shape[0]
    s = hidden.shape[1] - length if start == "end" else int(start)
    if s < 0 or s + length > hidden.shape[1]:
        raise ShapeError(f"start: slots {s}..{s + length} do not fit a sequence of length {hidden.shape[1]}")
    prompt = prompt.to(hidden.dtype).unsqueeze(0).expand(hidden.shape[0], -1, -1)
    return torch.cat([hidden[:, :s], prompt, hidden[:, s + length :]], dim=1)


class DeepPrompts(HiddenManipulation):
    """Layer-specific prompts P_ℓ (L_p, D) replacing the prompt slots entering each of ``layers``.

    ``prompt`` is (N', L_p, D) for the N' = len(layers) layers. Trainable parameters: N'·L_p·D.
    ``start``: index of the first slot (VPT: 1, after the class token; CoOp-style text prompts: 1,
    after the start token) or ``"end"`` (MaPLe's vision prompts).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE

    def __init__(self, init: Tensor, layers: Sequence[int], start: int | str = 1, tower: str | None = None):
        super().__init__()
        layers = tuple(int(layer) for layer in layers)
        if init.dim() != 3 or init.shape[0] != len(layers):
            raise ShapeError(
                f"init: expected shape ({len(layers)}, L_p, D) for layers {layers}, got {tuple(init.shape)}"
            )
        if len(set(layers)) != len(layers) or any(layer < 0 for layer in layers):
            raise ValueError(f"layers: expected distinct non-negative indices, got {layers}")
        if not (start == "end" or (isinstance(start, int) and start >= 0)):
            raise ValueError(f"start: expected a non-negative int or 'end', got {start!r}")
        self.prompt = nn.Parameter(init.detach().clone().float())
        self.layers, self.start, self.tower = layers, start, tower

    @property
    def length(self) -> int:
        return self.prompt.shape[1]

    def prompts(self) -> Tensor:
        """(N', L_p, D)."""
        return self.prompt

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        return replace_slots(hidden, self.prompts()[self.layers.index(layer)], self.start)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Replaces the prompt positions' hidden states in later layers: no position is added (the first layer's prompt adds them)."""
        return InferenceOverhead(description="deep prompts replace positions")

    def symbolic(self) -> SymbolicForm:
        N, L, D = symbols("N' L_p D")
        shapes = {N: len(self.layers), L: self.length, D: self.prompt.shape[2]}
        expression = concat(sp.Symbol("h_{<s}"), sp.Symbol("P_ell"), sp.Symbol("h_{>s+L_p}"))
        return SymbolicForm(expression, N * L * D, shapes, description=f"deep prompts at layers {self.layers}")


class CoupledDeepPrompts(HiddenManipulation):
    """MaPLe's deep vision prompts ``P̃_ℓ = F_ℓ(P_ℓ)``: linear maps (D_t → D_v) of another part's deep prompts.

    The source :class:`DeepPrompts` is referenced, not owned (its parameters are counted once, there);
    this part owns the N' couplings F_ℓ: N'·(D_t·D_v + D_v) parameters.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE

    def __init__(self, source: DeepPrompts, dim: int, start: int | str = "end", tower: str | None = None):
        super().__init__()
        object.__setattr__(self, "source", source)  # shared, not a submodule
        text_dim = source.prompt.shape[2]
        self.couplings = nn.ModuleList(nn.Linear(text_dim, dim) for _ in source.layers)
        self.layers, self.start, self.tower = source.layers, start, tower

    def prompts(self) -> Tensor:
        """(N', L_p, D_v)."""
        source = self.source.prompts()
        return torch.stack([coupling(source[i]) for i, coupling in enumerate(self.couplings)])

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        index = self.layers.index(layer)
        return replace_slots(hidden, self.couplings[index](self.source.prompts()[index]), self.start)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """No extra position (deep prompts replace the first layer's), and the N' couplings once per batch:
        ``2·N'·L_p·D_t·D_v`` FLOPs."""
        layers, length, text_dim, dim = symbols("N' L_p D_t D_v")
        shapes = {layers: len(self.couplings), length: self.source.length}
        shapes |= {text_dim: self.couplings[0].in_features, dim: self.couplings[0].out_features}
        return once_per_batch(2 * layers * length * text_dim * dim, shapes, context, "couplings, once per batch")

    def symbolic(self) -> SymbolicForm:
        N, Dt, Dv = symbols("N' D_t D_v")
        shapes = {N: len(self.layers), Dt: self.couplings[0].in_features, Dv: self.couplings[0].out_features}
        expression = concat(sp.Symbol("h_ell"), _F(sp.Symbol("P_ell")))
        return SymbolicForm(expression, N * (Dt * Dv + Dv), shapes, description="coupled deep prompts F_ℓ(P_ℓ)")


class CoupledPrompt(InputManipulation):
    """``[E(x); F(P)]`` (or at another position): a prompt that is a linear map F (D_s → D) of another part's prompt.

    MaPLe's first-layer vision prompt. The source part (a :class:`SoftPrompt`) is referenced, not
    owned; this part owns F: D_s·D + D parameters.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, source: InputManipulation, dim: int, position: int | str = "end", tower: str | None = None):
        super().__init__()
        object.__setattr__(self, "source", source)
        source_dim = source.prompts().shape[-1]
        self.coupling = nn.Linear(source_dim, dim)
        self.position, self.tower = position, tower

    def prompts(self) -> Tensor:
        return self.coupling(self.source.prompts())

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.insert(self.prompts().to(state.embeds.dtype), resolve_position(self.position, state.length))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p more positions in its tower, and F(P) once per batch: ``2·L_p·D_s·D`` FLOPs."""
        length, source_dim, dim = symbols("L_p D_s D")
        shapes = {length: self.source.prompts().shape[-2], source_dim: self.coupling.in_features}
        shapes[dim] = self.coupling.out_features
        positions = context.extra_positions(length, shapes, "coupled prompt positions")
        return positions + once_per_batch(2 * length * source_dim * dim, shapes, context, "coupling F, once per batch")

    def symbolic(self) -> SymbolicForm:
        Ds, D = symbols("D_t D_v")
        shapes = {Ds: self.coupling.in_features, D: self.coupling.out_features}
        return SymbolicForm(concat(x, _F(sp.Symbol("P"))), Ds * D + D, shapes, description="coupled prompt F(P)")
