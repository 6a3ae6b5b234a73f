"""Soft prompts ``[P; E(x)]`` (Lester et al., EMNLP 2021, arXiv 2104.08691) and their initialisations.

Lester et al. compare three initialisations of the prompt P (L_p, D):

* ``uniform``: entries drawn from U[-0.5, 0.5];
* ``sampled vocabulary``: embeddings of tokens drawn from the 5,000 most frequent ones (token ids
  below ``top_k``, which assumes a vocabulary ordered by frequency, as SentencePiece and BPE
  vocabularies roughly are);
* ``class label``: embeddings of the class names (multi-token names averaged), the remaining slots
  from the sampled vocabulary.

``text`` initialisation (the tokens of a phrase, repeated or cut to L_p, as in peft) is a common
fourth choice.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x

from .common import embed_tokens, token_ids

__all__ = [
    "SoftPrompt",
    "uniform_init",
    "sampled_vocabulary_init",
    "text_init",
    "class_label_init",
    "resolve_position",
    "INITS",
]

INITS = ("uniform", "sampled-vocabulary", "text", "class-label", "normal", "zeros")


def uniform_init(length: int, dim: int, scale: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """(L_p, D) with entries from U[-scale, scale] (Lester et al.: scale 0.5)."""
    return (torch.rand(length, dim, generator=generator) * 2 - 1) * scale


def sampled_vocabulary_init(
    embedding: nn.Module, length: int, top_k: int = 5000, generator: torch.Generator | None = None
) -> Tensor:
    """(L_p, D): embeddings of ``length`` token ids drawn uniformly from ``[0, min(top_k, V))``."""
    vocab = embedding.weight.shape[0]
    ids = torch.randint(0, min(top_k, vocab), (length,), generator=generator)
    return embed_tokens(embedding, ids)


def text_init(embedding: nn.Module, tokenizer: Any, text: str, length: int | None = None) -> Tensor:
    """(L_p, D): embeddings of the tokens of ``text``, repeated or cut to ``length`` (default: all tokens)."""
    ids = token_ids(tokenizer, text)
    if length is not None:
        ids = (ids * math.ceil(length / len(ids)))[:length]
    return embed_tokens(embedding, ids)


def class_label_init(
    embedding: nn.Module,
    tokenizer: Any,
    class_names: Sequence[str],
    length: int,
    top_k: int = 5000,
    generator: torch.Generator | None = None,
) -> Tensor:
    """(L_p, D): slot i < C holds the mean embedding of class name i's tokens; the rest sampled vocabulary."""
    rows = [embed_tokens(embedding, token_ids(tokenizer, name, prefix_space=True)).mean(0) for name in class_names]
    rows = rows[:length]
    prompt = sampled_vocabulary_init(embedding, length, top_k, generator)
    if rows:
        prompt[: len(rows)] = torch.stack(rows)
    return prompt


def resolve_position(position: int | str, length: int) -> int:
    """Insertion index in a sequence of ``length``: ints follow ``list.insert`` (negative counts from the end),
    ``"start"`` is 0 and ``"end"`` is ``length``."""
    if position == "start":
        return 0
    if position == "end":
        return length
    if not isinstance(position, int):
        raise ValueError(f"position: expected an int, 'start' or 'end', got {position!r}")
    index = position if position >= 0 else length + position
    if not 0 <= index <= length:
        raise ValueError(f"position: {position} is outside a sequence of length {length}")
    return index


class SoftPrompt(InputManipulation):
    """``[e_<k; P; e_≥k]``: L_p learned vectors inserted at index k of the embedded sequence (k = 0: ``[P; E(x)]``).

    ``prompt`` is (L_p, D), or (C, L_p, D) for one prompt per row of the embedded batch (CoOp's
    class-specific context, where the rows are the C class prompts). Trainable parameters: L_p·D
    (times C). ``tower`` picks the tower of a multi-tower model (CLIP: ``"text"`` or ``"vision"``).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, init: Tensor, position: int | str = 0, tower: str | None = None, name: str = "P"):
        super().__init__()
        if not isinstance(init, Tensor) or init.dim() not in (2, 3) or 0 in init.shape:
            shape = tuple(init.shape) if isinstance(init, Tensor) else type(init).__name__
            raise ShapeError(f"init: expected a tensor of shape (L_p, D) or (C, L_p, D), got {shape}")
        self.prompt = nn.Parameter(init.detach().clone().float())
        if not (isinstance(position, int) or position in ("start", "end")):
            raise ValueError(f"position: expected an int, 'start' or 'end', got {position!r}")
        self.position = position
        self.tower = tower
        self.symbol = name

    @property
    def length(self) -> int:
        return self.prompt.shape[-2]

    @property
    def dim(self) -> int:
        return self.prompt.shape[-1]

    def prompts(self) -> Tensor:
        """The prompt vectors as inserted: (L_p, D) or (C, L_p, D)."""
        return self.prompt

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        prompt = self.prompts()
        if prompt.shape[-1] != state.embeds.shape[-1]:
            raise ShapeError(
                f"prompt: dimension {prompt.shape[-1]} does not match the embeddings' {state.embeds.shape[-1]}"
            )
        if prompt.dim() == 3 and prompt.shape[0] != state.batch_size:
            raise ShapeError(
                f"prompt: {prompt.shape[0]} class-specific prompts for a batch of {state.batch_size} sequences"
            )
        return state.insert(prompt.to(state.embeds.dtype), resolve_position(self.position, state.length))

    def symbolic(self) -> SymbolicForm:
        L, D = symbols("L_p D")
        P = sp.Symbol(self.symbol)
        shapes = {L: self.length, D: self.dim}
        count = L * D
        if self.prompt.dim() == 3:
            (Cs,) = symbols("C")
            shapes[Cs] = self.prompt.shape[0]
            count = Cs * count
        if self.position in (0, "start"):
            expression = concat(P, x)
        elif self.position == "end":
            expression = concat(x, P)
        else:
            k = self.position
            expression = concat(sp.Symbol(f"x_{{<{k}}}"), P, sp.Symbol(f"x_{{\\geq {k}}}"))
        return SymbolicForm(
            expression, count, shapes, description=f"{self.length} soft prompt vectors at {self.position}"
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p more positions through every layer of f (and attention over them)."""
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: self.length}, f"{self.length} soft prompt positions")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={tuple(self.prompt.shape)}, position={self.position!r}"
