"""SMM (Cai, Ye, Feng, Qi, Liu, "Sample-specific Masks for Visual Reprogramming-based Prompting", ICML 2024,
arXiv:2406.03150).

    x' = N(r(x) + f_mask(r(x)) ⊙ δ),   ŷ = f(x') ω_ILM

r resizes the image to the whole canvas, f_mask is a small ConvNet whose C-channel output is expanded
to full size by patch-wise interpolation, δ is the shared pattern; the output map is ILM, as in the paper.
"""

from __future__ import annotations

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, tiny_image_example
from .generated_programs import SampleSpecificMaskProgram
from .ilm_vp import num_source_classes
from .label_mapping import IterativeLabelMapping

__all__ = ["SMMConfig", "build"]


class SMMConfig(VisualConfig):
    widths: tuple[int, ...] = Field((8, 16, 32, 64), description="channels of the mask network's hidden layers")
    pools: int = Field(3, ge=0, description="l max-poolings; the mask is interpolated patch-wise over 2^l × 2^l")


@seeded_example
def _example():
    return tiny_image_example(build, widths=(4, 8), pools=2)


@register_method(
    "smm",
    "model-reprogramming",
    "λ=learnable τ=additive+parametric ℓ=input ω=statistical",
    modality="vision",
    config=SMMConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """SMM: a shared pattern times a sample-specific multi-channel mask from a small ConvNet, with ILM."""
    cfg = make_config(SMMConfig, config, overrides)
    frozen = as_frozen(model)
    program = SampleSpecificMaskProgram(cfg.canvas_size, cfg.mean, cfg.std, cfg.channels, cfg.widths, cfg.pools)
    mapping = IterativeLabelMapping(num_source_classes(frozen, cfg), cfg.num_classes)
    return Reprogrammer(frozen, program, mapping, paradigm="model-reprogramming", modality="vision", name="smm")
