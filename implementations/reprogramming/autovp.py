"""AutoVP (Tsao, Hsiung, Chen, Liu, Ho, "AutoVP: An Automated Visual Prompting Framework and Benchmark",
ICLR 2024, arXiv:2310.08381), with its fully connected output map (FullyLM).

    u = scale_s(x),   x' = N(u + M(s) ⊙ σ(W)),   ŷ = A f(x') + b

Two input parts: the learnable input scaling (parametric: s changes the image itself, gradients through
bilinear sampling) and the padding prompt on the frame it leaves free (additive); the output map is a
trainable linear layer C_s → C_t.
"""

from __future__ import annotations

from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, tiny_image_example
from .ilm_vp import num_source_classes
from .programs import LearnableScale, ScaledPaddingPrompt

__all__ = ["AutoVPConfig", "build"]


class AutoVPConfig(VisualConfig):
    image_size: int = Field(128, ge=1, description="initial size of the scaled image (s₀ = image_size / canvas)")


@seeded_example
def _example():
    return tiny_image_example(build)


@register_method(
    "autovp",
    "model-reprogramming",
    "λ=learnable τ=parametric+additive ℓ=input ω=linear",
    modality="vision",
    config=AutoVPConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """AutoVP: learnable input scaling with a padding prompt and a linear (FullyLM) output map."""
    cfg = make_config(AutoVPConfig, config, overrides)
    frozen = as_frozen(model)
    scale = LearnableScale(cfg.canvas_size, min(cfg.image_size, cfg.canvas_size), cfg.channels)
    prompt = ScaledPaddingPrompt(scale, cfg.mean, cfg.std)
    head = LinearAlignment(num_source_classes(frozen, cfg), cfg.num_classes)
    return Reprogrammer(frozen, [scale, prompt], head, paradigm="model-reprogramming", modality="vision", name="autovp")
