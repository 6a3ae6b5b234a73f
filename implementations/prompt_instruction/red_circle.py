"""Red-circle visual prompting (Shtedritski, Rupprecht & Vedaldi, "What does CLIP know about a red
circle? Visual prompt engineering for VLMs", ICCV 2023, arXiv 2304.06712).

A red ellipse is drawn around the region of interest, ``x' = N(x + M ⊙ (red − x))`` (fixed,
additive, at the input), then CLIP scores x' against the class (or referring-expression) prompts;
its similarities are the prediction (identity).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .marker_builder import MarkerConfig, build_marker_method, marker_example
from .markers import CLIP_MEAN, CLIP_STD, VisualMarker

__all__ = ["RedCircleConfig", "build", "example"]


class RedCircleConfig(MarkerConfig):
    """Marker shape, colour, stroke width (pixels) and opacity."""

    shape: Literal["circle", "box"] = "circle"
    color: tuple[float, float, float] = (1.0, 0.0, 0.0)
    thickness: float = Field(2.0, gt=0)
    alpha: float = Field(0.8, gt=0, le=1)
    """Stroke opacity; the paper's opaque stroke is 1.0 (then the edit overwrites pixels, see VisualMarker)."""


def example():
    return marker_example(build)


@register_method(
    "red-circle",
    "prompt-instruction",
    "λ=fixed τ=additive ℓ=input ω=identity",
    modality="vision-language",
    config=RedCircleConfig,
    example=example,
)
def build(model, config: RedCircleConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Red circle: draw a red ellipse around the region, then CLIP zero-shot."""
    config = resolve_config(RedCircleConfig, config, overrides)
    marker = VisualMarker(
        config.shape,
        config.color,
        config.thickness,
        config.alpha,
        config.boxes,
        CLIP_MEAN if config.normalize else None,
        CLIP_STD if config.normalize else None,
    )
    return build_marker_method(model, config, marker, "red-circle")
