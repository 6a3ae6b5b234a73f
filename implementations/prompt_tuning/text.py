"""Shared configuration fields and build steps of the text prompt-tuning methods, and their tiny examples."""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional, Union

import torch
from pydantic import Field, model_validator
from torch import Tensor

from reprogrammability.framework.frozen import FrozenModel

from .common import MethodConfig, find_tokenizer, input_embeddings, model_kind, text_frozen
from .soft_prompt import class_label_init, sampled_vocabulary_init, text_init, uniform_init
from .verbalizer import Verbalizer

__all__ = [
    "SoftPromptFields",
    "VerbalizerFields",
    "initial_prompt",
    "verbalizer_frozen",
    "score_readout",
    "feature_readout",
    "tiny_text_example",
    "text_example",
    "EXAMPLE_TEXTS",
]

Position = Union[int, Literal["start", "end"]]
LabelWords = list[Union[str, list[str]]]


class SoftPromptFields(MethodConfig):
    """How long the soft prompt is, where it goes and how it starts (Lester et al.'s initialisations)."""

    num_virtual_tokens: int = Field(20, ge=1, description="L_p, the number of prompt vectors")
    init: Literal["uniform", "sampled-vocabulary", "text", "class-label", "normal"] = "sampled-vocabulary"
    init_text: Optional[str] = Field(None, description="phrase for init='text' (repeated or cut to L_p tokens)")
    class_names: Optional[list[str]] = Field(None, description="class names for init='class-label'")
    uniform_scale: float = Field(0.5, gt=0, description="U[-s, s] for init='uniform'")
    sample_top_k: int = Field(5000, ge=1, description="sample init tokens among ids < top_k")
    position: Position = Field(0, description="insertion index in the embedded sequence (0: prepend)")
    seed: int = 0

    @model_validator(mode="after")
    def _init_inputs(self):
        if self.init == "text" and not self.init_text:
            raise ValueError("init_text: required for init='text'")
        if self.init == "class-label" and not self.class_names:
            raise ValueError("class_names: required for init='class-label'")
        return self


class VerbalizerFields(MethodConfig):
    """Label words per class, read at the last token (causal LMs) or the [MASK] token (masked LMs)."""

    label_words: LabelWords = Field(..., min_length=1, description="one word or a list of words per class")
    prefix_space: bool = Field(True, description="encode label words with a leading space (BPE word starts)")
    scoring: Literal["logits", "log_probs"] = "logits"
    readout: Literal["auto", "last", "mask"] = "auto"


def initial_prompt(model: Any, tokenizer: Any, config: SoftPromptFields, dim: int | None = None) -> Tensor:
    """P₀ (L_p, D) from ``config.init``."""
    generator = torch.Generator().manual_seed(config.seed)
    L = config.num_virtual_tokens
    if config.init == "uniform":
        D = dim if dim is not None else input_embeddings(model).weight.shape[1]
        return uniform_init(L, D, config.uniform_scale, generator)
    if config.init == "normal":
        D = dim if dim is not None else input_embeddings(model).weight.shape[1]
        return torch.randn(L, D, generator=generator)
    embedding = input_embeddings(model)
    if config.init == "sampled-vocabulary":
        return sampled_vocabulary_init(embedding, L, config.sample_top_k, generator)
    tokenizer = find_tokenizer(model, tokenizer, needed_for=f"init={config.init!r}")
    if config.init == "text":
        return text_init(embedding, tokenizer, config.init_text, L)
    return class_label_init(embedding, tokenizer, config.class_names, L, config.sample_top_k, generator)


def score_readout(model: Any, readout: str) -> str:
    """``auto``: ``last`` for causal LMs, ``mask`` for masked LMs."""
    if readout != "auto":
        return readout
    kind = model_kind(model)
    if kind == "causal":
        return "last"
    if kind == "masked":
        return "mask"
    raise ValueError(f"readout: no token scores to verbalise for a {kind} model; use a causal or masked LM")


def feature_readout(model: Any, readout: str, masked: str = "mask_features") -> str:
    """``auto``: the LM head's features at the last token for causal LMs; ``masked`` (the [MASK] token's
    features by default) for masked LMs; the first token's final state (``cls``) otherwise."""
    if readout != "auto":
        return readout
    kind = model_kind(model)
    return {"causal": "last_features", "masked": masked}.get(kind, "cls")


def verbalizer_frozen(model: Any, tokenizer: Any, config: VerbalizerFields) -> tuple[FrozenModel, Verbalizer, Any]:
    """The frozen LM with the score readout, the verbalizer over ``config.label_words``, and the tokenizer."""
    tokenizer = find_tokenizer(model, tokenizer, needed_for="label words")
    frozen = text_frozen(model, tokenizer=tokenizer, readout=score_readout(model, config.readout))
    verbalizer = Verbalizer.from_words(
        tokenizer, config.label_words, prefix_space=config.prefix_space, scoring=config.scoring
    )
    return frozen, verbalizer, tokenizer


EXAMPLE_TEXTS = (
    ("the movie was very good", 1),
    ("this film was terrible", 0),
    ("great food and good service", 1),
    ("bad service and bad food", 0),
)


def tiny_text_example(kind: str = "llama", masked: bool = False) -> tuple[Any, Any, list[str], Tensor]:
    """A tiny random LM with its word-level tokenizer, four sentiment strings and their labels."""
    from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_masked_lm, tiny_tokenizer

    if masked:
        model, tokenizer = tiny_masked_lm(), tiny_tokenizer(style="bert")
        texts = [f"{text} . it was [MASK] ." for text, _ in EXAMPLE_TEXTS]
    else:
        model, tokenizer = tiny_causal_lm(kind), tiny_tokenizer(style="causal")
        texts = [f"{text} . it was" for text, _ in EXAMPLE_TEXTS]
    labels = torch.tensor([label for _, label in EXAMPLE_TEXTS])
    return model, tokenizer, texts, labels


def text_example(build: Callable[..., Any], kind: str = "llama", masked: bool = False, **options: Any) -> tuple:
    """A registry example: ``build(model, tokenizer=..., **options)`` on :func:`tiny_text_example`'s tiny LM,
    with its four sentiment strings and labels."""
    model, tokenizer, texts, labels = tiny_text_example(kind, masked)
    return build(model, tokenizer=tokenizer, **options), texts, labels
