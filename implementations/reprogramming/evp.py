"""EVP (Wu, Wang, Fu, Chen, Chen, Chang, Luo, "Unleashing the Power of Visual Prompting At the Pixel Level",
arXiv:2212.10556, 2022).

    x' = pad(N(r_{H−2p}(x))) + M_p ⊙ θ,   ŷ = f(x')_S

The image is shrunk so the learned border of width p surrounds it rather than covering it; the model's own
outputs are the prediction (CLIP's text classifier, or a classifier's scores restricted to the target
classes S). The paper's input diversity and gradient normalisation are training choices (augmentation and
``gradient_clip`` in the trainer), not part of the reprogrammer.
"""

from __future__ import annotations

from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import CLIP_MEAN, CLIP_STD, VisualConfig, as_frozen, make_config, seeded_example, tiny_image_example
from .ilm_vp import num_source_classes
from .programs import ShrinkPadPrompt

__all__ = ["EVPConfig", "build", "restriction"]


class EVPConfig(VisualConfig):
    pad: int = Field(30, ge=1, description="p, the width of the learned border")
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD


def restriction(num_source: int, num_classes: int) -> IdentityAlignment:
    """ŷ = z when the model already scores the target classes, else the restriction to the first C_t outputs."""
    if num_classes > num_source:
        raise ValueError(f"num_classes: {num_classes} target classes exceed the model's {num_source} outputs")
    return IdentityAlignment() if num_classes == num_source else IdentityAlignment(list(range(num_classes)))


@seeded_example
def _example():
    return tiny_image_example(build, pad=4)


@register_method(
    "evp",
    "model-reprogramming",
    "λ=learnable τ=additive ℓ=input ω=identity",
    modality="vision",
    config=EVPConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """EVP: a learned border around the shrunk image, the model's own outputs as prediction."""
    cfg = make_config(EVPConfig, config, overrides)
    frozen = as_frozen(model)
    program = ShrinkPadPrompt(cfg.canvas_size, cfg.pad, cfg.mean, cfg.std, cfg.channels)
    alignment = restriction(num_source_classes(frozen, cfg), cfg.num_classes)
    return Reprogrammer(frozen, program, alignment, paradigm="model-reprogramming", modality="vision", name="evp")
