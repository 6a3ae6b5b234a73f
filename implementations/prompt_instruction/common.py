"""Shared builders and tiny examples for the prompt-instruction methods."""

from __future__ import annotations

import functools
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from reprogrammability.framework.frozen import FrozenModel

__all__ = [
    "PromptConfig",
    "LabelWordConfig",
    "resolve_config",
    "unwrap",
    "tiny_lm",
    "tiny_clip_model",
    "TINY_SENTIMENT",
    "TINY_TEMPLATE",
]


class PromptConfig(BaseModel):
    """Base of every method config: validated, unknown names rejected, objects (tokenizer, pool) allowed."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def resolve_config(cls: type[PromptConfig], config: Any, overrides: dict[str, Any]) -> Any:
    """``config`` (None, dict or ``cls``) updated with ``overrides``, validated as ``cls``."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, dict):
        base = dict(config)
    elif isinstance(config, cls):
        base = {name: getattr(config, name) for name in cls.model_fields}
    else:
        raise TypeError(f"config: expected {cls.__name__}, a dict or None, got {type(config).__name__}")
    return cls.model_validate({**base, **overrides})


def unwrap(model: nn.Module, tokenizer: Any = None, field: str = "tokenizer") -> tuple[nn.Module, Any]:
    """The raw transformers model and its tokenizer (from ``tokenizer`` or a FrozenModel's adapter)."""
    if isinstance(model, FrozenModel):
        tokenizer = tokenizer or getattr(model.adapter, "tokenizer", None)
        model = model.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if tokenizer is None:
        raise ValueError(f"{field}: this method works on text; pass tokenizer=... (or a FrozenModel with one)")
    return model, tokenizer


class LabelWordConfig(PromptConfig):
    """Prompt and label-word scoring options shared by the classification prompts."""

    tokenizer: Any = None
    label_words: list[str] = Field(default_factory=lambda: ["negative", "positive"], min_length=1)
    instruction: str = ""
    input_template: str = "Review: {text}\nSentiment:"
    output_template: str = " {label}"
    separator: str = "\n\n"
    k: int = Field(0, ge=0)
    pool: Any = None
    """Labelled examples ``(texts, labels)`` (or a :class:`~.selection.Pool`) demonstrations come from."""
    selection: Literal["fixed", "random", "random-per-query", "nearest"] = "random"
    ordering: Literal["given", "random", "similar-last", "similar-first"] = "given"
    indices: Optional[list[int]] = None
    embedder: Any = None
    balanced: bool = False
    seed: int = 0
    continuation: Literal["first", "full"] = "full"
    normalization: Literal["none", "token", "char"] = "none"
    use_cache: bool = True
    batch_size: int = Field(32, ge=1)


# --------------------------------------------------------------------------------------------
# tiny examples (validator and tests): a handful of sentences, a tiny random LM

TINY_SENTIMENT: dict[str, list] = {
    "train": [
        ("a great film", 1),
        ("a terrible film", 0),
        ("very good food", 1),
        ("bad service", 0),
        ("a good game", 1),
        ("a bad product", 0),
        ("great team", 1),
        ("terrible match", 0),
    ],
    "test": [("good movie", 1), ("bad movie", 0), ("great service", 1), ("terrible food", 0)],
}
TINY_TEMPLATE = {"input_template": "review : {text} sentiment :", "output_template": " {label}"}


@functools.lru_cache(maxsize=4)
def _tokenizer(style: str):
    from reprogrammability.implementations.models.tiny import tiny_tokenizer

    return tiny_tokenizer(style=style)


def tiny_lm(kind: str = "llama", seed: int = 0, **options: Any) -> tuple[nn.Module, Any]:
    """A tiny random causal LM and its word-level tokenizer (cached)."""
    from reprogrammability.implementations.models.tiny import tiny_causal_lm

    return tiny_causal_lm(kind, seed=seed, **options), _tokenizer("causal")


def few_shot_sentiment_example(build: Any, k: int) -> tuple[Any, list[str], Any]:
    """The shared validator example of the k-shot text methods: ``build`` on a tiny LM with the tiny
    sentiment pool as demonstrations, scored on the tiny test sentences."""
    import torch

    model, tokenizer = tiny_lm("llama")
    texts, labels = zip(*TINY_SENTIMENT["train"])
    reprogrammer = build(model, tokenizer=tokenizer, pool=(texts, labels), k=k, **TINY_TEMPLATE)
    test_texts, test_labels = zip(*TINY_SENTIMENT["test"])
    return reprogrammer, list(test_texts), torch.tensor(test_labels)


def tiny_clip_model(seed: int = 0) -> tuple[nn.Module, Any]:
    """A tiny random CLIPModel and its tokenizer (``[BOS] x [EOS]``)."""
    from reprogrammability.implementations.models.tiny import tiny_clip

    return tiny_clip(seed=seed), _tokenizer("clip")
