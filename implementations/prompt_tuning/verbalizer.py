"""Output alignments of prompt tuning: verbalizers (rule-based) and label embeddings (linear).

* :class:`Verbalizer`: each class c has label words V_c; its score is the mean of the LM's
  next-token (or [MASK]) scores over the words' token ids, ``ŷ_c = mean_{w ∈ V_c} z_w``. A word
  that is several tokens is represented by its first token (the readout scores one position).
* :class:`LabelEmbeddingAlignment`: ``ŷ_c = θ_c · h + b_c`` on the features h the LM head scores,
  with θ_c initialised from the output embedding of class c's label word (WARP: Hambardzumyan et
  al., ACL 2021, arXiv 2101.00121; DART's differentiable label tokens: Zhang et al., ICLR 2022,
  arXiv 2108.13161). A linear alignment.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.alignment import IndexMapping, OutputAlignment
from reprogrammability.framework.axes import Alignment
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.symbolic import SymbolicForm, op, symbols, z

from .common import token_ids

__all__ = ["Verbalizer", "LabelEmbeddingAlignment", "label_word_ids"]

_verbalize = op("v", r"\omega_{\mathrm{verb}}")


def label_word_ids(
    tokenizer: Any, words: Sequence[str | Sequence[str]], *, prefix_space: bool = True
) -> list[list[int]]:
    """For each class, the first token id of each of its label words (a word or a list of words per class)."""
    if not words:
        raise ValueError("words: expected at least one class of label words")
    result = []
    for index, entry in enumerate(words):
        group = [entry] if isinstance(entry, str) else list(entry)
        if not group:
            raise ValueError(f"words[{index}]: a class needs at least one label word")
        result.append([token_ids(tokenizer, word, prefix_space=prefix_space)[0] for word in group])
    return result


class Verbalizer(IndexMapping):
    """Rule-based: ``ŷ_c = mean_{w ∈ V_c} s_w`` with s the readout's scores (logits, or log-probabilities).

    Args:
        indices: token ids per class, a list of lists (classes may have different numbers of words).
        scoring: ``"logits"`` (raw scores) or ``"log_probs"`` (log-softmax over the vocabulary first).
    """

    def __init__(
        self, indices: Sequence[Sequence[int]] | Sequence[int], scoring: Literal["logits", "log_probs"] = "logits"
    ):
        if scoring not in ("logits", "log_probs"):
            raise ValueError(f"scoring: {scoring!r} is not one of ['logits', 'log_probs']")
        groups = [[int(i)] if isinstance(i, int) else [int(j) for j in i] for i in indices]
        if not groups or any(not g for g in groups):
            raise ValueError("indices: every class needs at least one token id")
        width = max(len(g) for g in groups)
        padded = [g + [g[0]] * (width - len(g)) for g in groups]
        super().__init__(padded)
        weights = torch.zeros(len(groups), width)
        for row, group in enumerate(groups):
            weights[row, : len(group)] = 1.0 / len(group)
        self.register_buffer("weights", weights)
        self.scoring = scoring

    @classmethod
    def from_words(
        cls,
        tokenizer: Any,
        words: Sequence[str | Sequence[str]],
        *,
        prefix_space: bool = True,
        scoring: Literal["logits", "log_probs"] = "logits",
    ) -> "Verbalizer":
        """From label words (one word or a list per class), via ``tokenizer``."""
        return cls(label_word_ids(tokenizer, words, prefix_space=prefix_space), scoring=scoring)

    def forward(self, z: Tensor) -> Tensor:
        if self.scoring == "log_probs":
            z = torch.log_softmax(z.float(), dim=-1)
        return (z[..., self.indices] * self.weights.to(z.dtype)).sum(dim=-1)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=_verbalize(z), description="verbalizer: mean score of each class's label words")


class LabelEmbeddingAlignment(OutputAlignment):
    """Linear: ``ŷ = Θ h + b`` with Θ (C, D) initialised from label-word output embeddings, b from the LM head's bias.

    ``train_bias=False`` keeps b fixed (a buffer): then only Θ is trained (DART's label tokens).
    Trainable parameters: C·D (+ C).
    """

    alignment = Alignment.LINEAR

    def __init__(self, weight: Tensor, bias: Tensor | None = None, *, train_bias: bool = True):
        super().__init__()
        if weight.dim() != 2:
            raise ShapeError(f"weight: expected shape (C, D), got {tuple(weight.shape)}")
        bias = torch.zeros(weight.shape[0]) if bias is None else bias
        if bias.shape != weight.shape[:1]:
            raise ShapeError(f"bias: expected shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        self.weight = nn.Parameter(weight.detach().clone().float())
        if train_bias:
            self.bias = nn.Parameter(bias.detach().clone().float())
        else:
            self.register_buffer("bias", bias.detach().clone().float())
        self.train_bias = train_bias

    @classmethod
    def from_label_words(
        cls, model: nn.Module, label_ids: Sequence[Sequence[int]] | Sequence[int], *, train_bias: bool = True
    ) -> "LabelEmbeddingAlignment":
        """Θ_c = mean output embedding of class c's label tokens; b_c likewise from the head's bias (0 if none)."""
        from reprogrammability.framework.frozen import FrozenModel

        raw = model.model if isinstance(model, FrozenModel) else model
        head = raw.get_output_embeddings()
        if head is None:
            raise ValueError(
                f"model: {type(raw).__name__} has no output embeddings to initialise label embeddings from"
            )
        groups = [[int(i)] if isinstance(i, int) else [int(j) for j in i] for i in label_ids]
        with torch.no_grad():
            weight = torch.stack([head.weight[g].float().mean(0) for g in groups])
            head_bias = getattr(head, "bias", None)
            bias = None if head_bias is None else torch.stack([head_bias[g].float().mean() for g in groups])
        return cls(weight, bias, train_bias=train_bias)

    def forward(self, h: Tensor) -> Tensor:
        return h @ self.weight.t().to(h.dtype) + self.bias.to(h.dtype)

    def symbolic(self) -> SymbolicForm:
        C, D = symbols("C_t D")
        theta, b = sp.Symbol("Theta"), sp.Symbol("b")
        count = C * D + (C if self.train_bias else 0)
        return SymbolicForm(
            theta * z + b,
            count,
            {C: self.weight.shape[0], D: self.weight.shape[1]},
            description="label embeddings initialised from the verbalizer's words",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """``Θ h``: ``2·C_t·D`` FLOPs per query (plus C_t bias additions)."""
        C, D = symbols("C_t D")
        shapes = {C: self.weight.shape[0], D: self.weight.shape[1]}
        return InferenceOverhead(flops=2 * C * D, elementwise=C, shapes=shapes, description="label-embedding head")
