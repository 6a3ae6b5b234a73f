"""CuPL: customized prompts via language models (Pratt, Covert, Liu & Farhadi, "What does a
platypus look like? Generating customized prompts for zero-shot image classification", ICCV 2023,
arXiv 2209.03320).

A large LM is asked, offline, questions such as "What does a {c} look like?"; its answers are the
class's prompts, ensembled like templates: ``h̄_c = normalise(mean_j normalise(h(d_{c,j})))`` and
``ŷ_c = s · cos(g(x), h̄_c)`` (identity). The descriptions are fixed text (given here, or produced
by ``describe(class_name) -> list[str]``, e.g. a generator over any LM); optional templates join them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip_builder import CLIPPromptConfig, build_clip_method, clip_example
from .common import resolve_config
from .vision_language import ClassPromptTemplate

__all__ = ["CuPLConfig", "build", "example", "CUPL_QUESTIONS"]

CUPL_QUESTIONS = ("What does a {} look like?", "Describe a photo of a {}.", "How can you identify a {}?")
"""Questions of the kind Pratt et al. put to the LM (one answer per question and class)."""


class CuPLConfig(CLIPPromptConfig):
    """``descriptions``: class name → generated sentences; ``describe`` generates them when missing."""

    descriptions: dict[str, list[str]] = Field(default_factory=dict)
    describe: Any = None
    templates: list[str] = Field(default_factory=list)


def example():
    descriptions = {
        "cat": ["a cat is a small furry animal with a tail.", "a photo of a cat with green eyes."],
        "dog": ["a dog has four legs and a wet nose.", "a dog is a loyal animal."],
        "bird": ["a bird has feathers and a beak.", "a small bird on a tree."],
    }
    return clip_example(build, descriptions=descriptions)


@register_method(
    "cupl",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=identity",
    modality="vision-language",
    config=CuPLConfig,
    example=example,
)
def build(model, config: CuPLConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """CuPL: LM-generated class descriptions as an ensemble of CLIP prompts."""
    config = resolve_config(CuPLConfig, config, overrides)
    descriptions = dict(config.descriptions)
    missing = [c for c in config.class_names if c not in descriptions]
    if missing:
        if config.describe is None:
            raise ValueError(f"descriptions: none for classes {missing}; give them or a describe(class_name) callable")
        for c in missing:
            descriptions[c] = list(config.describe(c))
    prompt = (
        ClassPromptTemplate(config.class_names, config.templates or None, descriptions) if config.class_names else None
    )
    return build_clip_method(model, config, [prompt] if prompt else [], "mean-embedding", "cupl")
