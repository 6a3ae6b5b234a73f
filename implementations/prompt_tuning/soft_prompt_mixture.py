"""Mixtures of soft prompts (Qin & Eisner, "Learning How to Ask: Querying LMs with Mixtures of Soft
Prompts", NAACL 2021, arXiv 2104.06599).

    p(y | x) = Σ_k π_k p(y | [P_k; E(x)]),   π = softmax(w)

K soft prompts, each initialised from a (mined or paraphrased) template's token embeddings, are
tuned together with the mixture weights π. Each input runs once per prompt (the batch becomes K
copies, carrying log π); the frozen model's readout marginalises the prompt,
``z_w = log Σ_k π_k p(w | t_k, x)`` (:class:`MixtureTextAdapter`), and the answer is that prediction
itself (identity ω; with ``label_words``, restricted to one answer word per class). The paper's
optional deep perturbation of every layer is not included.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import sympy as sp
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import (
    D_ATTENTION,
    L_QUERY,
    N_LAYERS,
    ROWS,
    W_HEAD,
    W_POSITION,
    InferenceOverhead,
    OverheadContext,
)
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x
from reprogrammability.implementations.registry import register_method

from .common import find_tokenizer, input_embeddings, resolve_config, text_frozen
from .soft_prompt import resolve_position, sampled_vocabulary_init, text_init
from .text import LabelWords, SoftPromptFields, score_readout, tiny_text_example
from .verbalizer import label_word_ids

__all__ = ["MixturePrompts", "MixtureTextAdapter", "SoftPromptMixtureConfig", "build"]

MIXTURE_KEY = "mixture_log_weights"


class MixtureTextAdapter(TextAdapter):
    """A :class:`TextAdapter` whose readout marginalises a mixture of prompts.

    When the embedded state carries ``extra["mixture_log_weights"]`` = log π (K,) and B·K rows (row
    ``b·K + k`` = input b under prompt k), the readout is ``log Σ_k π_k softmax(s_{b,k})`` (B, V): the
    model's predictive distribution with the prompt marginalised. Without it, as TextAdapter.
    """

    name = "transformers-text-mixture"

    def forward_embedded(self, model: nn.Module, state: EmbeddingState, key_values=None):
        scores = super().forward_embedded(model, state, key_values)
        log_pi = state.extra.get(MIXTURE_KEY)
        if log_pi is None:
            return scores
        K = log_pi.numel()
        if scores.dim() != 2 or scores.shape[0] % K:
            raise ShapeError(f"scores: expected (B·{K}, V) scores of K prompted copies, got {tuple(scores.shape)}")
        log_probs = torch.log_softmax(scores.float(), dim=-1).view(-1, K, scores.shape[-1])
        return torch.logsumexp(log_pi.float().view(1, K, 1) + log_probs, dim=1)


def mixture_frozen(model: nn.Module, tokenizer: Any, readout: str) -> FrozenModel:
    """``model`` behind a :class:`MixtureTextAdapter` with the given readout (tokenizer and max_length kept)."""
    frozen = text_frozen(model, tokenizer=tokenizer, readout=readout)
    adapter = frozen.adapter
    if isinstance(adapter, MixtureTextAdapter):
        return frozen
    return FrozenModel(
        frozen.model,
        adapter=MixtureTextAdapter(adapter.tokenizer, readout=adapter.readout_mode, max_length=adapter.max_length),
    )


class MixturePrompts(InputManipulation):
    """K soft prompts (K, L_p, D) and mixture weights w (K,): the batch (B, T, D) becomes (B·K, L_p + T, D),
    row ``b·K + k`` holding ``[P_k; E(x_b)]``, and carries log π = log softmax(w) for the readout.
    Trainable parameters: K·L_p·D + K."""

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, init: Tensor, position: int | str = 0):
        super().__init__()
        if init.dim() != 3:
            raise ShapeError(f"init: expected shape (K, L_p, D), got {tuple(init.shape)}")
        self.prompt = nn.Parameter(init.detach().clone().float())
        self.mixture_logits = nn.Parameter(torch.zeros(init.shape[0]))
        self.position = position

    @property
    def num_prompts(self) -> int:
        return self.prompt.shape[0]

    def log_weights(self) -> Tensor:
        """log π (K,)."""
        return torch.log_softmax(self.mixture_logits, dim=0)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        K = self.num_prompts
        expanded = EmbeddingState(
            embeds=state.embeds.repeat_interleave(K, dim=0),
            attention_mask=None if state.attention_mask is None else state.attention_mask.repeat_interleave(K, dim=0),
            token_positions=state.token_positions,
            extra={
                k: v.repeat_interleave(K, dim=0)
                if isinstance(v, Tensor) and v.dim() >= 1 and v.shape[0] == state.batch_size
                else v
                for k, v in state.extra.items()
            },
        )
        expanded.extra[MIXTURE_KEY] = self.log_weights()
        prompts = self.prompt.to(state.embeds.dtype).repeat(state.batch_size, 1, 1)  # row b·K + k holds P_k
        return expanded.insert(prompts, resolve_position(self.position, state.length))

    def symbolic(self) -> SymbolicForm:
        K, L, D = symbols("K L_p D")
        return SymbolicForm(
            concat(sp.Symbol("P_k"), x),
            K * L * D + K,
            {K: self.num_prompts, L: self.prompt.shape[1], D: self.prompt.shape[2]},
            description="K soft prompts with mixture weights",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Each query runs K times, each row ``ℓ + L_p`` positions long instead of bare f's one row of ℓ = L/R:
        ``K(ℓ + L_p) − ℓ`` more positions per row through every layer (``2·W_f`` each) and attention
        ``4·n_f·d_a·(K(ℓ + L_p)² − ℓ²)``; f's head scores K read positions instead of one: ``(K − 1)·2·W_h``."""
        k, length = symbols("K L_p")
        row = L_QUERY / ROWS
        positions = k * (row + length) - row
        attention = 4 * N_LAYERS * D_ATTENTION * (k * (row + length) ** 2 - row**2)
        return InferenceOverhead(
            tokens=ROWS * positions,
            flops=ROWS * (2 * W_POSITION * positions + attention + (k - 1) * 2 * W_HEAD),
            shapes={**context.shapes, k: self.num_prompts, length: int(self.prompt.shape[1])},
            description=f"{self.num_prompts} prompted copies of each query",
        )


class SoftPromptMixtureConfig(SoftPromptFields):
    """K prompts from ``templates`` (one per prompt) or ``num_prompts`` sampled-vocabulary prompts; optional
    answer words (one per class) restricting the output."""

    templates: Optional[list[str]] = Field(None, description="one initialising template per prompt")
    num_prompts: int = Field(4, ge=1, description="K when no templates are given")
    label_words: Optional[LabelWords] = Field(None, description="one answer word per class (default: every word)")
    prefix_space: bool = True
    readout: Literal["auto", "last", "mask"] = "auto"

    @model_validator(mode="after")
    def _templates(self):
        if self.templates is not None and not self.templates:
            raise ValueError("templates: expected at least one template (or leave it unset)")
        return self


def _example():
    model, tokenizer, texts, labels = tiny_text_example("llama")
    reprogrammer = build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=3,
        templates=["the review was", "this sentiment is"],
    )
    return reprogrammer, texts, labels


@register_method(
    "soft-prompt-mixture",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=identity",
    modality="text",
    config=SoftPromptMixtureConfig,
    example=_example,
)
def build(
    model: Any, config: SoftPromptMixtureConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """Mixture of soft prompts: ``p(y|x) = Σ_k π_k p(y | [P_k; E(x)])``."""
    config = resolve_config(SoftPromptMixtureConfig, config, overrides)
    frozen = mixture_frozen(model, tokenizer, score_readout(model, config.readout))
    embedding = input_embeddings(frozen)
    L = config.num_virtual_tokens
    if config.templates:
        tokenizer = find_tokenizer(frozen, tokenizer, needed_for="template initialisation")
        init = torch.stack([text_init(embedding, tokenizer, t, L) for t in config.templates])
    else:
        generator = torch.Generator().manual_seed(config.seed)
        init = torch.stack(
            [sampled_vocabulary_init(embedding, L, config.sample_top_k, generator) for _ in range(config.num_prompts)]
        )
    prompts = MixturePrompts(init, position=config.position)
    indices = None
    if config.label_words is not None:
        tokenizer = find_tokenizer(frozen, tokenizer, needed_for="label words")
        ids = label_word_ids(tokenizer, config.label_words, prefix_space=config.prefix_space)
        if any(len(group) != 1 for group in ids):
            raise ValueError("label_words: the mixture's identity output takes exactly one answer word per class")
        indices = [group[0] for group in ids]
    output = IdentityAlignment(indices)
    return Reprogrammer(frozen, prompts, output, paradigm="prompt-tuning", modality="text", name="soft-prompt-mixture")
