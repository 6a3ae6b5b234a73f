"""Classification by description (Menon & Vondrick, "Visual Classification via Description from
Large Language Models", ICLR 2023, arXiv 2210.07183).

Each class c has descriptors D(c) (from an LM, e.g. "has a long tail"); prompts are
``"{c}, which {d}"``. The class score is the mean of the image's similarity to its descriptor
prompts, ``ŷ_c = (1/|D(c)|) Σ_{d∈D(c)} φ(x, d)``: a fixed rule over the per-prompt scores
(rule-based), unlike the embedding average of an ensemble.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip_builder import CLIPPromptConfig, build_clip_method, clip_example
from .common import resolve_config
from .vision_language import ClassPromptTemplate, DescriptorMean, descriptor_prompt

__all__ = ["DCLIPConfig", "build", "example"]


class DCLIPConfig(CLIPPromptConfig):
    """``descriptors``: class name → descriptor phrases."""

    descriptors: dict[str, list[str]] = Field(default_factory=dict)


def example():
    descriptors = {
        "cat": ["has pointed ears", "has whiskers"],
        "dog": ["has a wet nose", "has floppy ears", "wags its tail"],
        "bird": ["has feathers"],
    }
    return clip_example(build, descriptors=descriptors)


@register_method(
    "dclip",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    modality="vision-language",
    config=DCLIPConfig,
    example=example,
)
def build(model, config: DCLIPConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Classification by description: mean similarity over each class's descriptor prompts."""
    config = resolve_config(DCLIPConfig, config, overrides)
    missing = [c for c in config.class_names if not config.descriptors.get(c)]
    if missing:
        raise ValueError(f"descriptors: none for classes {missing}")
    prompts = {c: [descriptor_prompt(c, d) for d in config.descriptors[c]] for c in config.class_names}
    prompt = ClassPromptTemplate(config.class_names, None, prompts) if config.class_names else None
    return build_clip_method(model, config, [prompt] if prompt else [], "per-prompt", "dclip", output=DescriptorMean())
