"""P-tuning's prompt encoder (Liu et al., "GPT Understands, Too", AI Open 2023, arXiv 2103.10385).

Pseudo-token embeddings h (L_p, D) are mapped to the prompt by a small network before they are
inserted into the input, ``[g_θ(h); E(x)]``:

* ``lstm``: the paper's encoder, a bidirectional LSTM followed by a two-layer ReLU MLP,
  ``g(h)_i = MLP([→LSTM(h)_i ; ←LSTM(h)_i])``, MLP: 2H → 2H → D;
* ``mlp``: a three-layer ReLU MLP D → H → H → D (the variant recommended by later P-tuning releases).

The encoder acts on the prompt parameters only; after training its output can be frozen into a
plain soft prompt (:meth:`EncodedPrompt.to_soft_prompt`).
"""

from __future__ import annotations

from typing import Literal

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols, x

from .soft_prompt import SoftPrompt, resolve_position

__all__ = ["PromptEncoder", "EncodedPrompt", "ENCODERS"]

ENCODERS = ("mlp", "lstm")
_g = op("g", r"g_{\theta}")


class PromptEncoder(nn.Module):
    """g_θ: (L_p, D) → (L_p, D), an MLP or a bi-LSTM + MLP with hidden size H."""

    def __init__(
        self, dim: int, hidden: int, kind: Literal["mlp", "lstm"] = "lstm", lstm_layers: int = 2, dropout: float = 0.0
    ):
        super().__init__()
        if kind not in ENCODERS:
            raise ValueError(f"kind: {kind!r} is not one of {list(ENCODERS)}")
        if dim <= 0 or hidden <= 0 or lstm_layers <= 0:
            raise ValueError(f"dim/hidden/lstm_layers: expected positive sizes, got {dim}, {hidden}, {lstm_layers}")
        self.kind, self.dim, self.hidden, self.lstm_layers = kind, dim, hidden, lstm_layers
        if kind == "lstm":
            self.lstm = nn.LSTM(
                dim, hidden, num_layers=lstm_layers, dropout=dropout, bidirectional=True, batch_first=True
            )
            self.mlp = nn.Sequential(nn.Linear(2 * hidden, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, dim))
        else:
            self.mlp = nn.Sequential(
                nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, dim)
            )

    def forward(self, h: Tensor) -> Tensor:
        if h.dim() != 2 or h.shape[1] != self.dim:
            raise ShapeError(f"h: expected shape (L_p, {self.dim}), got {tuple(h.shape)}")
        if self.kind == "lstm":
            return self.mlp(self.lstm(h.unsqueeze(0))[0]).squeeze(0)
        return self.mlp(h)

    def parameter_count(self) -> tuple[sp.Expr, dict]:
        """Trainable parameters as an expression in D, H (and the LSTM depth n)."""
        D, H = symbols("D H")
        shapes = {D: self.dim, H: self.hidden}
        if self.kind == "mlp":
            return D * H + H + H * H + H + H * D + D, shapes
        (n,) = symbols("n")
        shapes[n] = self.lstm_layers
        # per direction: first layer 4H(D + H) + 8H, later layers 4H(2H + H) + 8H; two directions; head 2H->2H->D
        lstm = 2 * (4 * H * (D + H) + 8 * H + (n - 1) * (4 * H * (2 * H + H) + 8 * H))
        return lstm + 2 * H * 2 * H + 2 * H + 2 * H * D + D, shapes


class EncodedPrompt(InputManipulation):
    """``[g_θ(h); E(x)]``: pseudo-token embeddings h (L_p, D) through the prompt encoder g_θ, then inserted.

    The encoder re-parameterises the prompt but never reads x, so the operator is concatenative.
    Trainable parameters: L_p·D + |g_θ|.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, init: Tensor, encoder: PromptEncoder, position: int | str = 0, tower: str | None = None):
        super().__init__()
        if init.dim() != 2 or init.shape[1] != encoder.dim:
            raise ShapeError(f"init: expected shape (L_p, {encoder.dim}), got {tuple(init.shape)}")
        self.pseudo_tokens = nn.Parameter(init.detach().clone().float())
        self.encoder = encoder
        if not (isinstance(position, int) or position in ("start", "end")):
            raise ValueError(f"position: expected an int, 'start' or 'end', got {position!r}")
        self.position, self.tower = position, tower

    @property
    def length(self) -> int:
        return self.pseudo_tokens.shape[0]

    def prompts(self) -> Tensor:
        """g_θ(h): (L_p, D)."""
        return self.encoder(self.pseudo_tokens)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        prompt = self.prompts().to(state.embeds.dtype)
        return state.insert(prompt, resolve_position(self.position, state.length))

    @torch.no_grad()
    def to_soft_prompt(self) -> SoftPrompt:
        """The encoder's current output as a plain soft prompt (the encoder is dropped after training)."""
        return SoftPrompt(self.prompts().detach(), position=self.position, tower=self.tower)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p more positions, and g_θ once per batch (it never reads x): its MLP's matmuls
        (``2·L_p·(4H² + 2H·D)`` after a bi-LSTM, ``2·L_p·(2D·H + H²)`` alone); the LSTM's recurrent products
        are not counted by the counter (listed as element-wise, ``8·n·L_p·H·(D + H)`` per direction pair)."""
        length, D, H, n = symbols("L_p D H n")
        encoder = self.encoder
        shapes = {length: self.length, D: encoder.dim, H: encoder.hidden, n: encoder.lstm_layers}
        if encoder.kind == "lstm":
            mlp, recurrent = 2 * length * (4 * H * H + 2 * H * D), 8 * n * length * H * (D + H)
        else:
            mlp, recurrent = 2 * length * (2 * D * H + H * H), sp.Integer(0)
        positions = context.extra_positions(length, shapes, f"{self.length} encoded prompt positions")
        return (
            positions
            + once_per_batch(mlp, shapes, context, "prompt encoder, once per batch")
            + InferenceOverhead(elementwise=recurrent, shapes=shapes)
        )

    def symbolic(self) -> SymbolicForm:
        count, shapes = self.encoder.parameter_count()
        L, D = symbols("L_p D")
        shapes = {**shapes, L: self.length, D: self.encoder.dim}
        return SymbolicForm(
            concat(_g(sp.Symbol("h")), x),
            L * D + count,
            shapes,
            description=f"P-tuning: {self.encoder.kind} prompt encoder over {self.length} pseudo tokens",
        )
