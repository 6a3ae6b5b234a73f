"""Shared builder and tiny example for the visual-marker methods: a marker on the image, CLIP as the classifier."""

from __future__ import annotations

from typing import Any, Optional

from reprogrammability.framework.adapters.dual_encoder import clip_like_adapter
from reprogrammability.framework.adapters.transformers import CLIPAdapter
from reprogrammability.framework.alignment import IdentityAlignment, OutputAlignment
from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.reprogrammer import Reprogrammer

from .clip_builder import TINY_CLASSES, CLIPPromptConfig
from .common import tiny_clip_model

__all__ = ["MarkerConfig", "build_marker_method", "marker_example"]


class MarkerConfig(CLIPPromptConfig):
    """The marker's regions come with the inputs (``{"images", "boxes"}``) or are fixed here."""

    template: str = "a photo of a {}."
    """f is CLIP's zero-shot classifier over ``template.format(c)`` (fixed class prompts, part of f)."""
    boxes: Any = None
    normalize: bool = True
    """Apply CLIP's mean/std after drawing (inputs in [0, 1])."""


def build_marker_method(
    model, config: MarkerConfig, marker: InputManipulation, name: str, output: Optional[OutputAlignment] = None
) -> Reprogrammer:
    """``ŷ = O(f(marker(x)))`` with f = CLIP classifying against the fixed class prompts (:class:`CLIPAdapter`)."""
    if not config.class_names:
        raise ValueError("class_names: give the target class names")
    if "{}" not in config.template:
        raise ValueError(f"template: {config.template!r} has no '{{}}' placeholder for the class name")
    tokenizer = config.tokenizer
    if isinstance(model, FrozenModel):
        tokenizer, model = tokenizer or getattr(model.adapter, "tokenizer", None), model.model
    if tokenizer is None:
        raise ValueError("tokenizer: pass the CLIP tokenizer (tokenizer=...)")
    prompts = [config.template.format(c) for c in config.class_names]
    frozen = FrozenModel(
        model, adapter=clip_like_adapter(model, CLIPAdapter, class_prompts=prompts, tokenizer=tokenizer)
    )
    return Reprogrammer(
        frozen,
        input=marker,
        output=output or IdentityAlignment(),
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        modality=Modality.VISION_LANGUAGE,
        name=name,
    )


def marker_example(build, regions: int = 1, class_names=TINY_CLASSES, **overrides: Any):
    import torch

    model, tokenizer = tiny_clip_model()
    reprogrammer = build(model, tokenizer=tokenizer, class_names=list(class_names), **overrides)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 32, 32, generator=generator)
    if regions == 1:
        boxes = torch.tensor([[4.0, 4.0, 20.0, 20.0], [10.0, 8.0, 30.0, 28.0]])
    else:
        boxes = torch.tensor([[[2.0, 2.0, 14.0, 14.0], [16.0, 16.0, 30.0, 30.0]]] * 2)
    return reprogrammer, {"images": images, "boxes": boxes}, torch.tensor([0, 1])
