"""CoCoOp: conditional context optimisation (Zhou, Yang, Loy, Liu, "Conditional Prompt Learning for
Vision-Language Models", CVPR 2022, arXiv 2203.05557).

    v_m(x) = v_m + π(x),   π = Linear–ReLU–Linear(g(x)/||g(x)||)  (hidden D_img/16)
    p(y = c | x) ∝ exp(s · cos(g(x), h([SOS] v_1(x) … v_M(x) [CLASS_c]. [EOT])))

Every image gets its own class prompts: the context (concatenative) is shifted by a meta-network
of the image features (parametric). Runs on :class:`~.clip.ConditionalCLIPAdapter`.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .clip import ConditionalCLIPAdapter, ContextPrompt, ImageConditionedContext, image_feature_dim
from .common import resolve_config
from .coop import ContextConfig, context_setup, tiny_clip_example

__all__ = ["CoCoOpConfig", "build"]


class CoCoOpConfig(ContextConfig):
    """Class names, context length/initialisation, the meta-network's reduction."""

    context_init: Optional[str] = "a photo of a"
    reduction: int = Field(16, ge=1, description="the meta-network's hidden size is D_img / reduction")


def _example():
    model, tokenizer, names, images, labels = tiny_clip_example()
    return build(model, tokenizer=tokenizer, class_names=names), images, labels


@register_method(
    "cocoop",
    "prompt-tuning",
    "λ=learnable τ=concatenative+parametric ℓ=embedding ω=identity",
    modality="vision-language",
    config=CoCoOpConfig,
    example=_example,
)
def build(
    model: Any, config: CoCoOpConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """CoCoOp: CoOp's context plus an image-conditioned shift from a meta-network."""
    config = resolve_config(CoCoOpConfig, config, overrides)
    frozen, init, _, tokenizer = context_setup(model, tokenizer, config, adapter_cls=ConditionalCLIPAdapter)
    context = ContextPrompt(init)
    image_dim = image_feature_dim(frozen)
    with seeded(config.seed):
        conditioned = ImageConditionedContext(context, image_dim, reduction=config.reduction)
    return Reprogrammer(
        frozen,
        [context, conditioned],
        IdentityAlignment(),
        paradigm="prompt-tuning",
        modality="vision-language",
        name="cocoop",
    )
