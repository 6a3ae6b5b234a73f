"""How the transformers adapters reach into a model: its configuration, attention geometry, blocks and
key/value cache, typed.

A transformers model is an ``nn.Module`` whose parts are attributes; torch types an attribute of a module
as ``Tensor | Module`` and a module call as ``Any``. The functions here name what the adapters expect
(a submodule at a dotted path, a module list of blocks, a tensor out of a call) so that
:mod:`.transformers` reads the model with real types.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Protocol, cast

from torch import Tensor, nn

from ..errors import InterfaceError
from ..interfaces import AttentionGeometry, KeyValuePrefix

if TYPE_CHECKING:  # transformers is imported only where a model of it runs
    from transformers import DynamicCache, PretrainedConfig

__all__ = [
    "TransformersModel",
    "attention_geometry_of",
    "call_module",
    "find_layers",
    "hf_model",
    "key_value_cache",
    "logit_scale",
    "module_list",
    "takes_logits_to_keep",
    "text_config",
    "text_model_kind",
]


def find_layers(model: nn.Module, count: int) -> nn.ModuleList | None:
    """The module list of ``count`` blocks in ``model`` (by name ``layers``, ``h`` or ``layer`` when several)."""
    best = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            if best is None or name.endswith(("layers", ".h", "layer")):
                best = module
    return best


class TransformersModel(Protocol):
    """What the adapters call on a transformers model (``PreTrainedModel``) beyond ``nn.Module``."""

    config: PretrainedConfig

    def get_input_embeddings(self) -> nn.Module: ...


def hf_model(model: nn.Module) -> TransformersModel:
    """``model`` as the transformers model the adapter was chosen for (a static view; nothing is checked)."""
    return cast(TransformersModel, model)


def call_module(module: nn.Module, *args: Any, **kwargs: Any) -> Tensor:
    """``module(*args, **kwargs)`` for a part of f that returns a tensor (torch types a module call as Any)."""
    out: Tensor = module(*args, **kwargs)
    return out


def module_list(model: nn.Module, path: str) -> list[nn.Module]:
    """The blocks of the ``nn.ModuleList`` at ``path`` (dotted) under ``model``."""
    return list(cast(nn.ModuleList, model.get_submodule(path)))


def text_model_kind(model: nn.Module) -> str:
    """``causal``, ``masked``, ``classifier`` or ``encoder``: the kind of a transformers text model, by class name."""
    name = type(model).__name__
    if name.endswith("ForCausalLM") or name.endswith("LMHeadModel"):
        return "causal"
    if name.endswith("ForMaskedLM"):
        return "masked"
    if "ForSequenceClassification" in name:
        return "classifier"
    return "encoder"


def text_config(model: nn.Module) -> PretrainedConfig:
    """The configuration of the text model (of the text part, for models that hold several)."""
    config = hf_model(model).config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def attention_geometry_of(config: PretrainedConfig) -> AttentionGeometry:
    """Blocks, key/value heads, head width and hidden size as ``config`` states them."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    hidden = config.hidden_size
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    return AttentionGeometry(
        num_layers=config.num_hidden_layers, num_kv_heads=kv_heads, head_dim=head_dim, hidden_size=hidden
    )


_LOGITS_TO_KEEP: dict[type, bool] = {}


def takes_logits_to_keep(model: nn.Module) -> bool:
    """Whether ``model.forward`` can limit its LM-head scores to given positions (transformers' ``logits_to_keep``)."""
    cls = type(model)
    if cls not in _LOGITS_TO_KEEP:
        try:
            _LOGITS_TO_KEEP[cls] = "logits_to_keep" in inspect.signature(cls.forward).parameters
        except (TypeError, ValueError):
            _LOGITS_TO_KEEP[cls] = False
    return _LOGITS_TO_KEEP[cls]


def key_value_cache(key_values: KeyValuePrefix, config: PretrainedConfig) -> DynamicCache:
    """A key/value prefix as the cache a transformers model takes as ``past_key_values``."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=[(k, v) for k, v in key_values], config=config)


def logit_scale(model: nn.Module) -> Tensor:
    """The learned log logit scale ``log s`` of a CLIP(-like) model (a parameter)."""
    scale = getattr(model, "logit_scale", None)
    if not isinstance(scale, Tensor):
        raise InterfaceError(f"model: {type(model).__name__} has no logit_scale tensor")
    return scale
