"""Helpers shared by the prompt-tuning methods: configs, frozen-model wrapping, tokens and embeddings."""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers_parts import text_model_kind
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.frozen import FrozenModel

__all__ = [
    "MethodConfig",
    "resolve_config",
    "text_frozen",
    "clip_frozen",
    "vision_frozen",
    "input_embeddings",
    "token_ids",
    "find_tokenizer",
    "model_kind",
    "hidden_size",
]

C = TypeVar("C", bound=BaseModel)


class MethodConfig(BaseModel):
    """Base of every method config: validated, unknown fields rejected (the error names them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def resolve_config(cls: type[C], config: C | dict | None, overrides: dict[str, Any]) -> C:
    """``cls`` from a config instance, a dict, or ``None``, with keyword ``overrides`` on top."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, cls):
        base = config.model_dump()
    elif isinstance(config, dict):
        base = dict(config)
    else:
        raise TypeError(f"config: expected {cls.__name__}, a dict or None, got {type(config).__name__}")
    return cls(**{**base, **overrides})


def _unwrap(model: nn.Module) -> tuple[nn.Module, Any]:
    if isinstance(model, FrozenModel):
        return model.model, model.adapter
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module or FrozenModel, got {type(model).__name__}")
    return model, None


def text_frozen(model: nn.Module, *, tokenizer: Any = None, readout: str = "auto") -> FrozenModel:
    """A :class:`FrozenModel` over a transformers text model with the given ``readout``.

    A ``FrozenModel`` whose adapter already has that readout (and tokenizer) is returned as is;
    otherwise the same underlying model is wrapped again with a fresh adapter that keeps the
    tokenizer and ``max_length`` of the old one.
    """
    from reprogrammability.framework.adapters.transformers import TextAdapter

    raw, adapter = _unwrap(model)
    if adapter is not None and not isinstance(adapter, TextAdapter):
        raise InterfaceError(f"model: expected a text model (TextAdapter), got {type(adapter).__name__}")
    old_tokenizer = getattr(adapter, "tokenizer", None)
    tokenizer = tokenizer if tokenizer is not None else old_tokenizer
    if adapter is not None and (readout == "auto" or adapter.readout_mode == readout) and tokenizer is old_tokenizer:
        return model  # type: ignore[return-value]
    max_length = getattr(adapter, "max_length", None)
    if readout == "auto" and adapter is not None:
        readout = adapter.readout_mode
    return FrozenModel(raw, adapter=TextAdapter(tokenizer=tokenizer, readout=readout, max_length=max_length))


def vision_frozen(model: nn.Module, *, readout: str = "auto") -> FrozenModel:
    """A :class:`FrozenModel` over a ViT / CLIP vision model with the given ``readout``."""
    from reprogrammability.framework.adapters.transformers import VisionTransformerAdapter

    raw, adapter = _unwrap(model)
    if adapter is not None and not isinstance(adapter, VisionTransformerAdapter):
        raise InterfaceError(f"model: expected a vision transformer, got adapter {type(adapter).__name__}")
    if adapter is not None and (readout == "auto" or adapter.readout_mode == readout):
        return model  # type: ignore[return-value]
    return FrozenModel(raw, adapter=VisionTransformerAdapter(readout=readout))


def clip_frozen(model: nn.Module, class_prompts: Sequence[str], *, tokenizer: Any = None, adapter_cls: Any = None):
    """A :class:`FrozenModel` over a ``CLIPModel`` classifying against ``class_prompts``."""
    from reprogrammability.framework.adapters.transformers import CLIPAdapter

    raw, adapter = _unwrap(model)
    dual = type(raw).__name__ == "DualEncoder"  # implementations.models.dual_encoder: CNN image tower, no tokens
    if type(raw).__name__ != "CLIPModel" and not dual:
        raise InterfaceError(f"model: expected a transformers CLIPModel or a DualEncoder, got {type(raw).__name__}")
    tokenizer = tokenizer if tokenizer is not None else getattr(adapter, "tokenizer", None)
    if tokenizer is None:
        raise InterfaceError("tokenizer: a CLIP prompt method needs the text tokenizer (tokenizer=...)")
    cls = adapter_cls or CLIPAdapter
    if dual:
        from reprogrammability.framework.adapters.dual_encoder import dual_encoder_variant

        cls = dual_encoder_variant(cls)
    if isinstance(adapter, cls) and type(adapter) is cls and list(adapter.class_prompts) == list(class_prompts):
        if adapter.tokenizer is tokenizer:
            return model
    return FrozenModel(raw, adapter=cls(class_prompts=list(class_prompts), tokenizer=tokenizer))


def find_tokenizer(model: nn.Module, tokenizer: Any = None, *, needed_for: str = "") -> Any:
    """The tokenizer given, else the one of ``model``'s adapter; a clear error when there is none."""
    if tokenizer is not None:
        return tokenizer
    adapter = model.adapter if isinstance(model, FrozenModel) else None
    found = getattr(adapter, "tokenizer", None)
    if found is None:
        reason = f" ({needed_for})" if needed_for else ""
        raise InterfaceError(f"tokenizer: required{reason}; pass tokenizer=... or FrozenModel(model, tokenizer=...)")
    return found


def model_kind(model: nn.Module) -> str:
    """``causal``, ``masked``, ``classifier`` or ``encoder`` for a transformers text model."""
    return text_model_kind(model.model if isinstance(model, FrozenModel) else model)


def input_embeddings(model: nn.Module) -> nn.Module:
    """The token-embedding module (V, D) of a transformers text model (CLIP: of its text tower)."""
    raw = model.model if isinstance(model, FrozenModel) else model
    if hasattr(raw, "text_model"):
        return raw.text_model.embeddings.token_embedding
    if hasattr(raw, "get_input_embeddings"):
        return raw.get_input_embeddings()
    raise InterfaceError(f"model: {type(raw).__name__} has no token embeddings")


def hidden_size(model: nn.Module) -> int:
    return int(input_embeddings(model).weight.shape[1])


def token_ids(tokenizer: Any, text: str, *, prefix_space: bool = False) -> list[int]:
    """Token ids of ``text`` without special tokens (``prefix_space`` prepends a space, for BPE word starts)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: expected a non-empty string, got {text!r}")
    encoded = tokenizer((" " + text) if prefix_space else text, add_special_tokens=False)
    ids = list(encoded["input_ids"])
    if not ids:
        raise ValueError(f"text: {text!r} gives no tokens")
    return ids


@torch.no_grad()
def embed_tokens(embedding: nn.Module, ids: Sequence[int] | Tensor) -> Tensor:
    """Rows of the embedding table for ``ids`` (a detached float32 copy, (len(ids), D))."""
    ids = torch.as_tensor(ids, dtype=torch.long, device=embedding.weight.device)
    return embedding(ids).detach().clone().float()
