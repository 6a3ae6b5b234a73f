"""One set of prompts for both towers of CLIP, refined jointly (UPT; Zang, Li, Zhou, Huang, Loy, arXiv 2210.07225).

    U = [U_t; U_v] ∈ R^{(n_t + n_v) × D_t}                       the unified prompt
    U' = SA(LN(U)) + U,   U'' = FFN(LN(U')) + U'                  one transformer block shared by both
    text context: U''[:n_t]  (after [SOS] of every class prompt)
    visual prompts: W_v U''[n_t:] + b_v ∈ R^{n_v × D_v}           (appended to the image tokens)

:class:`UnifiedContext` (text tower) owns U and the block; the visual part is MaPLe's
:class:`~.deep.CoupledPrompt` reading :meth:`UnifiedContext.visual_source` and owning W_v, so both
towers' prompts come from one jointly optimised source.
"""

from __future__ import annotations

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols

from .soft_prompt import SoftPrompt

__all__ = ["UnifiedContext"]

_block = op("T", r"\mathrm{Transformer}")


class _VisualHalf:
    """The visual rows U''[n_t:] of a :class:`UnifiedContext`, as a prompt source for a coupling."""

    def __init__(self, owner: "UnifiedContext"):
        self.owner = owner

    def prompts(self) -> Tensor:
        return self.owner.refined()[self.owner.text_length :]


class UnifiedContext(SoftPrompt):
    """The text context U''[:n_t] of the unified prompt, inserted after the start token of the class prompts.

    Args:
        text_init: (n_t, D_t) initial text rows (e.g. the embeddings of "a photo of a").
        visual_length: n_v; heads, ffn_dim: the shared transformer block; init_std: std of the visual rows.
    Trainable parameters: (n_t + n_v)·D_t + 4D_t² + 2D_t·F + 9D_t + F (U and the block).
    """

    def __init__(
        self,
        text_init: Tensor,
        visual_length: int,
        *,
        heads: int = 1,
        ffn_dim: int | None = None,
        init_std: float = 0.02,
        generator: torch.Generator | None = None,
        tower: str = "text",
    ):
        if text_init.dim() != 2 or visual_length < 1:
            raise ValueError(
                f"text_init/visual_length: expected (n_t, D_t) and n_v ≥ 1, got {tuple(text_init.shape)}, {visual_length}"
            )
        D = text_init.shape[1]
        visual = torch.randn(visual_length, D, generator=generator) * init_std
        super().__init__(torch.cat([text_init.float(), visual]), position=1, tower=tower, name="U")
        self.text_length = text_init.shape[0]
        self.block = nn.TransformerEncoderLayer(
            D, heads, ffn_dim or 4 * D, dropout=0.0, batch_first=True, norm_first=True
        )

    @property
    def length(self) -> int:  # what is inserted into the text prompts
        return self.text_length

    def refined(self) -> Tensor:
        """U'' (n_t + n_v, D_t)."""
        return self.block(self.prompt.unsqueeze(0)).squeeze(0)

    def prompts(self) -> Tensor:
        return self.refined()[: self.text_length]

    def visual_source(self) -> _VisualHalf:
        return _VisualHalf(self)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """n_t more positions in the text tower, and the shared block over the n = n_t + n_v rows of U, run twice per
        batch (for the text half here and for the visual half its coupled prompt reads): each run
        ``2·n·D·3D + 2·n·D² + 4·n²·D + 4·n·D·F`` FLOPs (projections, attention, feed-forward)."""
        n_t, n, D, F_ = symbols("n_t n D_t F")
        shapes = {n_t: self.text_length, n: self.prompt.shape[0], D: self.prompt.shape[1]}
        shapes[F_] = self.block.linear1.out_features
        block = 2 * n * D * 3 * D + 2 * n * D * D + 4 * n * n * D + 4 * n * D * F_
        positions = context.extra_positions(n_t, shapes, "unified text context positions")
        return positions + once_per_batch(2 * block, shapes, context, "shared block, twice per batch")

    def symbolic(self) -> SymbolicForm:
        n, D, Fs = symbols("n D_t F")
        shapes = {n: self.prompt.shape[0], D: self.prompt.shape[1], Fs: self.block.linear1.out_features}
        count = n * D + 4 * D**2 + 2 * D * Fs + 9 * D + Fs
        expression = concat(sp.Symbol("SOS"), _block(sp.Symbol("U_t")), sp.Symbol("CLASS"), sp.Symbol("EOT"))
        return SymbolicForm(expression, count, shapes, description="text half of the unified prompt")
