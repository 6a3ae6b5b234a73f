"""CLIP zero-shot classification with a prompt template (Radford et al., "Learning Transferable
Visual Models From Natural Language Supervision", ICML 2021, arXiv 2103.00020).

``ŷ_c = s · cos(g(x), h(T(c)))`` with ``T(c) = "a photo of a {c}."``: the template is fixed text
concatenated with each class name at the text input (fixed, concatenative, input); the model's
own image-text similarities are the prediction (identity).
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip_builder import CLIPPromptConfig, build_clip_method, clip_example
from .common import resolve_config
from .vision_language import ClassPromptTemplate

__all__ = ["CLIPZeroShotConfig", "build", "example"]


class CLIPZeroShotConfig(CLIPPromptConfig):
    """One template with ``{}`` for the class name."""

    template: str = "a photo of a {}."


def example():
    return clip_example(build)


@register_method(
    "clip-zero-shot",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=identity",
    modality="vision-language",
    config=CLIPZeroShotConfig,
    example=example,
)
def build(model, config: CLIPZeroShotConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """CLIP zero-shot: class names in one template, image-text cosine similarities as logits."""
    config = resolve_config(CLIPZeroShotConfig, config, overrides)
    prompt = ClassPromptTemplate(config.class_names, [config.template]) if config.class_names else None
    return build_clip_method(model, config, [prompt] if prompt else [], "mean-embedding", "clip-zero-shot")
