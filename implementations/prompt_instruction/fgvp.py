"""FGVP: fine-grained visual prompting (Yang, Wang, Zhou, Zhao, Wang & Xu, "Fine-Grained Visual
Prompting", NeurIPS 2023, arXiv 2306.04356).

The region of interest (a segmentation mask, or a box) stays sharp and everything outside is
Gaussian-blurred, ``x' = N(M ⊙ x + (1 − M) ⊙ G_σ(x))`` (FGVP's "blur reverse mask"): a fixed,
parametric edit at the input; CLIP's similarities to the prompts are the prediction (identity).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .marker_builder import MarkerConfig, build_marker_method, marker_example
from .markers import CLIP_MEAN, CLIP_STD, BlurOutside

__all__ = ["FGVPConfig", "build", "example"]


class FGVPConfig(MarkerConfig):
    """Blur strength σ (pixels); regions as boxes or masks (``{"images", "masks"}``)."""

    sigma: float = Field(3.0, ge=0)
    masks: Any = None


def example():
    return marker_example(build, sigma=1.5)


@register_method(
    "fgvp",
    "prompt-instruction",
    "λ=fixed τ=parametric ℓ=input ω=identity",
    modality="vision-language",
    config=FGVPConfig,
    example=example,
)
def build(model, config: FGVPConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """FGVP: blur outside the region mask, then CLIP zero-shot."""
    config = resolve_config(FGVPConfig, config, overrides)
    marker = BlurOutside(
        config.sigma,
        config.boxes,
        config.masks,
        CLIP_MEAN if config.normalize else None,
        CLIP_STD if config.normalize else None,
    )
    return build_marker_method(model, config, marker, "fgvp")
