"""Shared builder and tiny example of the CLIP prompting methods."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from pydantic import Field
from torch import nn

from reprogrammability.framework.adapters.dual_encoder import clip_like_adapter, is_dual_encoder
from reprogrammability.framework.alignment import IdentityAlignment, OutputAlignment
from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.reprogrammer import Reprogrammer

from .common import PromptConfig, tiny_clip_model
from .vision_language import ClassPromptTemplate, CLIPPromptAdapter

__all__ = ["CLIPPromptConfig", "clip_frozen", "build_clip_method", "clip_example", "TINY_CLASSES"]

TINY_CLASSES = ("cat", "dog", "bird")


class CLIPPromptConfig(PromptConfig):
    """Options shared by the CLIP prompting methods."""

    tokenizer: Any = None
    class_names: list[str] = Field(default_factory=list)


def clip_frozen(model: nn.Module, tokenizer: Any, combine: str) -> FrozenModel:
    if isinstance(model, FrozenModel):
        tokenizer = tokenizer or getattr(model.adapter, "tokenizer", None)
        model = model.model
    dual = is_dual_encoder(model)
    if type(model).__name__ != "CLIPModel" and not hasattr(model, "get_text_features") and not dual:
        raise TypeError(f"model: expected a transformers CLIPModel or a DualEncoder, got {type(model).__name__}")
    if tokenizer is None:
        raise ValueError("tokenizer: pass the CLIP tokenizer (tokenizer=...)")
    return FrozenModel(model, adapter=clip_like_adapter(model, CLIPPromptAdapter, tokenizer, combine=combine))


def build_clip_method(
    model: nn.Module,
    config: CLIPPromptConfig,
    inputs: Sequence[InputManipulation],
    combine: str,
    name: str,
    output: Optional[OutputAlignment] = None,
) -> Reprogrammer:
    if not config.class_names:
        raise ValueError("class_names: give the target class names")
    return Reprogrammer(
        clip_frozen(model, config.tokenizer, combine),
        input=list(inputs),
        output=output or IdentityAlignment(),
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        modality=Modality.VISION_LANGUAGE,
        name=name,
    )


def template_parts(config: Any) -> list[InputManipulation]:
    """A template ensemble's input part: the class prompts T_k(c) of ``config.templates`` for
    ``config.class_names`` (none while the class names are not given yet)."""
    return [ClassPromptTemplate(config.class_names, config.templates)] if config.class_names else []


def clip_example(build, batch: int = 2, **overrides: Any):
    """A tiny random CLIP, two random 32x32 images, three classes."""
    import torch

    model, tokenizer = tiny_clip_model()
    reprogrammer = build(model, tokenizer=tokenizer, class_names=list(TINY_CLASSES), **overrides)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, 32, 32, generator=generator)
    return reprogrammer, images, torch.arange(batch) % len(TINY_CLASSES)
