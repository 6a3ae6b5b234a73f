"""Vectors read from the frozen model's own activations and written back into its hidden states.

No training: every vector is computed from forward passes of the frozen LM on given prompts.

* :class:`ActivationAddition` (Turner et al. 2023): ``h_ℓ[:, :P] += c (h_ℓ(p₊) − h_ℓ(p₋))``, the
  difference of the activations of a contrast pair of prompts, added at the front positions.
* :class:`TaskVectorPatch` (Hendel, Geva & Globerson 2023): ``θ = mean h_ℓ(S, x', →)[last]`` from
  demonstration prompts with dummy queries; at inference the hidden state of the last query
  token at layer ℓ is *replaced* by θ.
* :class:`FunctionVector` (Todd et al. 2024): ``v = Σ_{(l,j) ∈ top heads} ā_{l,j}``, mean outputs of
  the attention heads with the largest average indirect effect on in-context prompts, added to
  ``h_ℓ`` at the last query token.

Hidden states are the inputs of the decoder blocks (the framework's hidden interface); positions
come from :class:`~.scoring.CausalLMScorer` (``query_end_positions``), which right-pads rows.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any, Iterator, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, odot

from .scoring import CausalLMScorer, encode_segment

__all__ = [
    "capture_hidden",
    "output_projection",
    "ActivationAddition",
    "TaskVectorPatch",
    "FunctionVector",
    "head_activations",
    "average_indirect_effect",
    "function_vector",
]

_h = sp.Symbol("h")


def _layers(frozen: Any) -> list[nn.Module]:
    return list(frozen.adapter.layers(frozen.model))


def _hidden_of(args: tuple, kwargs: dict) -> Tensor:
    return args[0] if args else kwargs["hidden_states"]


@torch.no_grad()
def capture_hidden(frozen: Any, prompts: Any, layer: int, positions: str = "query-end") -> Tensor:
    """Hidden states entering block ``layer``: (B, D) at each row's last query token
    (``positions="query-end"``) or (B, T, D) for every position (``"all"``, right-padded)."""
    scorer = frozen.adapter
    if not isinstance(scorer, CausalLMScorer):
        raise InterfaceError("frozen: capture_hidden needs a FrozenModel with a CausalLMScorer adapter")
    layers = _layers(frozen)
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer: {layer} is outside 0..{len(layers) - 1}")
    kept: list[Tensor] = []

    def keep(module, args, kwargs):
        hidden = _hidden_of(args, kwargs)
        if positions == "all":
            kept.append(hidden.detach().clone())
        else:
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            kept.append(hidden[rows, scorer.query_end_positions].detach().clone())

    handle = layers[layer].register_forward_pre_hook(keep, with_kwargs=True)
    previous = scorer.use_cache
    scorer.use_cache = False  # whole prompts, so positions are those of the full sequence
    try:
        frozen(prompts)
    finally:
        scorer.use_cache = previous
        handle.remove()
    if positions == "all":
        width = max(t.shape[1] for t in kept)
        return torch.cat([torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1])) for t in kept])
    return torch.cat(kept)


class _LastTokenEdit(HiddenManipulation):
    """A hidden edit at each row's last query token, positions read from the scorer adapter."""

    configuration = Configuration.FIXED

    def __init__(self, scorer: CausalLMScorer, layer: int):
        super().__init__()
        object.__setattr__(self, "scorer", scorer)  # not a submodule
        self.layers = (int(layer),)

    def _positions(self, hidden: Tensor) -> Tensor:
        positions = self.scorer.query_end_positions
        if positions is None or positions.shape[0] != hidden.shape[0]:
            return torch.full((hidden.shape[0],), hidden.shape[1] - 1, device=hidden.device)
        return positions.to(hidden.device)


class ActivationAddition(HiddenManipulation):
    """Turner et al., "Activation Addition: Steering Language Models Without Optimization" (2023,
    arXiv 2308.10248): ``h_ℓ[:, :P] ← h_ℓ[:, :P] + c · (h_ℓ(p₊) − h_ℓ(p₋))``.

    ``steering`` (P, D) is a buffer computed once by :meth:`from_prompts`; fixed and additive.
    """

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE

    def __init__(self, steering: Tensor, layer: int, coefficient: float = 1.0):
        super().__init__()
        if steering.dim() != 2:
            raise ValueError(f"steering: expected (P, D), got {tuple(steering.shape)}")
        self.register_buffer("steering", steering.detach().clone())
        self.layers = (int(layer),)
        self.coefficient = float(coefficient)

    @classmethod
    @torch.no_grad()
    def from_prompts(
        cls, frozen: Any, positive: str, negative: str, layer: int, coefficient: float = 1.0, pad_text: str = " "
    ) -> "ActivationAddition":
        """Steering vector from a contrast pair; the shorter prompt is padded with ``pad_text`` tokens (Turner et al. pad with spaces)."""
        scorer: CausalLMScorer = frozen.adapter
        tokenizer = scorer.tokenizer
        ids = [encode_segment(tokenizer, p) for p in (positive, negative)]
        pad = encode_segment(tokenizer, pad_text) or [tokenizer.pad_token_id or 0]
        width = max(map(len, ids))
        ids = [r + pad[:1] * (width - len(r)) for r in ids]
        bos = [tokenizer.bos_token_id] if scorer.add_bos else []
        from .scoring import ScoringInput

        batch = ScoringInput([tuple(bos)] * 2, ids)
        hidden = capture_hidden(frozen, batch, layer, positions="all")  # (2, P, D)
        return cls(hidden[0] - hidden[1], layer, coefficient)

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        length = min(self.steering.shape[0], hidden.shape[1])
        delta = torch.zeros_like(hidden)
        delta[:, :length] = self.coefficient * self.steering[:length].to(hidden)
        return hidden + delta

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Adds a steering vector to hidden states: element-wise, no FLOPs, no extra positions."""
        return InferenceOverhead(description="hidden-state addition")

    def symbolic(self) -> SymbolicForm:
        c = sp.Symbol("c")
        return SymbolicForm(
            expression=_h + c * (sp.Symbol("h_{+}") - sp.Symbol("h_{-}")),
            description="activation addition at the front positions (fixed, from a prompt pair)",
        )


class TaskVectorPatch(_LastTokenEdit):
    """Hendel, Geva & Globerson, "In-Context Learning Creates Task Vectors" (EMNLP Findings 2023,
    arXiv 2310.15916): ``h_ℓ[last] ← θ``, θ the mean layer-ℓ state at the last token of
    demonstration prompts ending in a dummy query. A patch (replacement): parametric, fixed."""

    operator = Operator.PARAMETRIC

    def __init__(self, scorer: CausalLMScorer, theta: Tensor, layer: int):
        super().__init__(scorer, layer)
        self.register_buffer("theta", theta.detach().clone().flatten())

    @classmethod
    @torch.no_grad()
    def from_demonstrations(cls, frozen: Any, prompts: Sequence[str] | Any, layer: int) -> "TaskVectorPatch":
        """θ = mean over ``prompts`` (demonstrations + dummy query, each) of the layer-ℓ state at the last token."""
        theta = capture_hidden(frozen, prompts, layer).mean(0)
        return cls(frozen.adapter, theta, layer)

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        mask = torch.zeros(hidden.shape[:2] + (1,), dtype=hidden.dtype, device=hidden.device)
        mask[rows, self._positions(hidden)] = 1.0
        return hidden + mask * (self.theta.to(hidden) - hidden)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Overwrites one hidden state with the task vector: no FLOPs, no extra positions."""
        return InferenceOverhead(description="hidden-state patch")

    def symbolic(self) -> SymbolicForm:
        M = sp.Symbol("M_{last}")
        return SymbolicForm(
            expression=odot(1 - M, _h) + odot(M, sp.Symbol(r"\theta")),
            description="task vector patched at the last token (fixed, from demonstrations)",
        )


class FunctionVector(_LastTokenEdit):
    """Todd, Li, Sharma, Mueller, Wallace & Bau, "Function Vectors in Large Language Models" (ICLR
    2024, arXiv 2310.15213): ``h_ℓ[last] ← h_ℓ[last] + v``, ``v = Σ_{(l,j)∈A} ā_{l,j}``; fixed, additive."""

    operator = Operator.ADDITIVE

    def __init__(self, scorer: CausalLMScorer, vector: Tensor, layer: int, heads: Sequence[tuple[int, int]] = ()):
        super().__init__(scorer, layer)
        self.register_buffer("vector", vector.detach().clone().flatten())
        self.heads = [tuple(h) for h in heads]

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        delta = torch.zeros_like(hidden)
        delta[rows, self._positions(hidden)] = self.vector.to(hidden)
        return hidden + delta

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Adds the function vector to one hidden state: element-wise, no FLOPs, no extra positions."""
        return InferenceOverhead(description="hidden-state addition")

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(
            expression=_h + sp.Symbol(r"v_{FV}"),
            description=f"function vector of {len(self.heads)} heads at the last token (fixed)",
        )


# --------------------------------------------------------------------------------------------
# function vectors: head activations and their causal effect


def output_projection(layer: nn.Module) -> nn.Module:
    """The attention output projection of a decoder block (its input is the concatenated heads)."""
    for name in ("self_attn.o_proj", "attn.c_proj", "self_attn.out_proj", "attn.out_proj", "attention.dense"):
        try:
            return layer.get_submodule(name)
        except AttributeError:
            continue
    raise InterfaceError(f"layer: no attention output projection found in {type(layer).__name__}")


def _head_geometry(frozen: Any) -> tuple[int, int]:
    config = frozen.model.config
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return heads, head_dim


@torch.no_grad()
def head_activations(frozen: Any, prompts: Any) -> Tensor:
    """Mean over prompts of each head's input to the output projection at the last query token: (L, H, d)."""
    scorer: CausalLMScorer = frozen.adapter
    heads, head_dim = _head_geometry(frozen)
    layers = _layers(frozen)
    sums = [None] * len(layers)
    count = [0]
    handles = []
    for index, layer in enumerate(layers):

        def keep(module, args, index=index):
            a = args[0]
            rows = torch.arange(a.shape[0], device=a.device)
            picked = a[rows, scorer.query_end_positions].reshape(a.shape[0], heads, head_dim)
            sums[index] = picked.sum(0) if sums[index] is None else sums[index] + picked.sum(0)
            if index == 0:
                count[0] += a.shape[0]

        handles.append(output_projection(layer).register_forward_pre_hook(keep))
    previous, scorer.use_cache = scorer.use_cache, False
    try:
        frozen(prompts)
    finally:
        scorer.use_cache = previous
        for h in handles:
            h.remove()
    return torch.stack(sums) / count[0]


@contextlib.contextmanager
def _patch_head(frozen: Any, layer: int, head: int, value: Tensor) -> Iterator[None]:
    scorer: CausalLMScorer = frozen.adapter
    heads, head_dim = _head_geometry(frozen)

    def patch(module, args):
        a = args[0].clone()
        rows = torch.arange(a.shape[0], device=a.device)
        a[rows, scorer.query_end_positions, head * head_dim : (head + 1) * head_dim] = value.to(a)
        return (a,) + tuple(args[1:])

    handle = output_projection(_layers(frozen)[layer]).register_forward_pre_hook(patch)
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def average_indirect_effect(frozen: Any, mean_heads: Tensor, corrupted: Any, answer_ids: Sequence[int]) -> Tensor:
    """AIE (L, H): mean increase of p(answer) on corrupted (label-shuffled) prompts when one head's
    output at the last token is replaced by its mean over clean prompts."""
    scorer: CausalLMScorer = frozen.adapter
    previous, scorer.use_cache = scorer.use_cache, False
    try:
        answers = torch.tensor(list(answer_ids))
        base = torch.softmax(frozen(corrupted).float(), -1)[torch.arange(len(answers)), answers]
        effect = torch.zeros(mean_heads.shape[:2])
        for layer in range(mean_heads.shape[0]):
            for head in range(mean_heads.shape[1]):
                with _patch_head(frozen, layer, head, mean_heads[layer, head]):
                    p = torch.softmax(frozen(corrupted).float(), -1)[torch.arange(len(answers)), answers]
                effect[layer, head] = (p - base).mean()
    finally:
        scorer.use_cache = previous
    return effect


@torch.no_grad()
def function_vector(frozen: Any, mean_heads: Tensor, heads: Sequence[tuple[int, int]]) -> Tensor:
    """``v = Σ_{(l,j)} W_O^{(l)}[:, j] ā_{l,j}``: each chosen head's mean output mapped through its layer's
    output projection (the bias removed), summed; (D,)."""
    n_heads, head_dim = _head_geometry(frozen)
    layers = _layers(frozen)
    vector = None
    for layer, head in heads:
        projection = output_projection(layers[layer])
        full = torch.zeros(1, 1, n_heads * head_dim, dtype=mean_heads.dtype, device=mean_heads.device)
        full[..., head * head_dim : (head + 1) * head_dim] = mean_heads[layer, head]
        part = projection(full) - projection(torch.zeros_like(full))
        vector = part[0, 0] if vector is None else vector + part[0, 0]
    if vector is None:
        raise ValueError("heads: choose at least one head")
    return vector


def shuffled_labels(labels: Sequence[int], seed: int) -> list[int]:
    """A derangement-like shuffle used to corrupt demonstrations (labels no longer match inputs)."""
    rng = random.Random(seed)
    out = list(labels)
    for _ in range(10):
        rng.shuffle(out)
        if all(a != b for a, b in zip(out, labels)) or len(set(labels)) < 2:
            break
    return out
