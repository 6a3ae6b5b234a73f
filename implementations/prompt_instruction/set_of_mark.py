"""Set-of-Mark prompting (Yang, Zhang, Li, Zou, Li & Gao, "Set-of-Mark Prompting Unleashes
Extraordinary Visual Grounding in GPT-4V", 2023, arXiv 2310.11441).

Regions (from a segmenter, or given) are overlaid with tinted masks, outlines and the numbers
1..K (fixed, additive, at the input); the model answers with mark numbers, mapped back to regions
by a rule (rule-based). With a CLIP model the "answer" is the score of each mark prompt
("a photo of mark {k}"), with a generative VLM the number in its text; both go through
:class:`~.markers.MarkAlignment`.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .marker_builder import MarkerConfig, build_marker_method, marker_example
from .markers import CLIP_MEAN, CLIP_STD, MarkAlignment, NumberedMarks

__all__ = ["SetOfMarkConfig", "build", "example"]


class SetOfMarkConfig(MarkerConfig):
    """K regions; the prompts name the marks (``class_names`` defaults to "1".."K")."""

    num_regions: int = Field(2, ge=1)
    template: str = "a photo of mark {}."
    tint: float = Field(0.3, ge=0, le=1)
    mark_alpha: float = Field(0.9, gt=0, le=1)
    """Opacity of outlines and number labels (1: opaque, a pixel overwrite rather than an overlay)."""
    masks: Any = None
    mark_to_region: Optional[list[int]] = None


def example():
    return marker_example(build, regions=2, class_names=("1", "2"))


@register_method(
    "set-of-mark",
    "prompt-instruction",
    "λ=fixed τ=additive ℓ=input ω=rule-based",
    modality="vision-language",
    config=SetOfMarkConfig,
    example=example,
)
def build(model, config: SetOfMarkConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Set-of-Mark: numbered region overlays; the chosen mark number is mapped back to its region."""
    config = resolve_config(SetOfMarkConfig, config, overrides)
    if not config.class_names:
        config = resolve_config(
            SetOfMarkConfig, config, {"class_names": [str(k + 1) for k in range(config.num_regions)]}
        )
    if len(config.class_names) != config.num_regions:
        raise ValueError(f"class_names: one mark name per region ({config.num_regions}), got {config.class_names}")
    marker = NumberedMarks(
        config.tint,
        1.0,
        config.boxes,
        config.masks,
        None,
        CLIP_MEAN if config.normalize else None,
        CLIP_STD if config.normalize else None,
        config.mark_alpha,
    )
    return build_marker_method(
        model, config, marker, "set-of-mark", output=MarkAlignment(config.num_regions, config.mark_to_region)
    )
