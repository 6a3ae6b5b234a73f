"""Prompt ensembling for CLIP (Radford et al., ICML 2021, arXiv 2103.00020, Sec. 3.1.4).

Each class is written into M templates; its classifier weight is the mean of the M L2-normalised
text embeddings, renormalised: ``h̄_c = normalise((1/M) Σ_m normalise(h(T_m(c))))``, and
``ŷ_c = s · cos(g(x), h̄_c)``. Fixed, concatenative prompts at the text input; identity alignment.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip_builder import CLIPPromptConfig, build_clip_method, clip_example, template_parts
from .common import resolve_config
from .vision_language import IMAGENET_TEMPLATES_SHORT

__all__ = ["PromptEnsembleConfig", "build", "example"]


class PromptEnsembleConfig(CLIPPromptConfig):
    """M templates with ``{}`` for the class name."""

    templates: list[str] = Field(default_factory=lambda: list(IMAGENET_TEMPLATES_SHORT), min_length=1)


def example():
    return clip_example(build, templates=["a photo of a {}.", "a drawing of a {}.", "a blurry photo of a {}."])


@register_method(
    "prompt-ensemble",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=identity",
    modality="vision-language",
    config=PromptEnsembleConfig,
    example=example,
)
def build(model, config: PromptEnsembleConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Template ensemble: mean of normalised text embeddings per class (Radford et al.)."""
    config = resolve_config(PromptEnsembleConfig, config, overrides)
    return build_clip_method(model, config, template_parts(config), "mean-embedding", "prompt-ensemble")
