"""KgCoOp: knowledge-guided context optimisation (Yao, Zhang, Xu, "Visual-Language Prompt Tuning with
Knowledge-guided Context Optimization", CVPR 2023, arXiv 2303.13283).

    L = CE(ŷ, y) + λ · (1/C) Σ_c ||ŵ_c − ŵ_c^clip||²,   ŷ as in CoOp

CoOp's learned context, regularised towards the hand-crafted prompt's text features ŵ^clip
("a photo of a {class}."), λ = 8. The prediction is CoOp's; the regulariser is the loss
:class:`~.clip.KnowledgeGuidedLoss` (``knowledge_guided_loss(reprogrammer)`` builds it).
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip import ContextPrompt, KnowledgeGuidedLoss
from .common import resolve_config
from .coop import ContextConfig, context_setup, tiny_clip_example

__all__ = ["KgCoOpConfig", "build", "knowledge_guided_loss"]


class KgCoOpConfig(ContextConfig):
    """CoOp's context settings plus the hand-crafted template and the weight λ of the knowledge term."""

    context_init: Optional[str] = "a photo of a"
    template: str = Field("a photo of a {}.", description="the hand-crafted prompt giving ŵ^clip")
    weight: float = Field(8.0, ge=0, description="λ")


def knowledge_guided_loss(reprogrammer: Reprogrammer, config: KgCoOpConfig | dict | None = None, **overrides: Any):
    """The KgCoOp training loss for ``reprogrammer`` (pass it to ``Trainer(loss_fn=...)``)."""
    config = (
        getattr(reprogrammer, "kgcoop_config", None)
        if config is None and not overrides
        else resolve_config(KgCoOpConfig, config, overrides)
    )
    if config is None:
        raise ValueError("config: give the KgCoOp config (class_names, template, weight)")
    return KnowledgeGuidedLoss(reprogrammer, config.class_names, template=config.template, weight=config.weight)


def _example():
    model, tokenizer, names, images, labels = tiny_clip_example()
    return build(model, tokenizer=tokenizer, class_names=names), images, labels


@register_method(
    "kgcoop",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=identity",
    modality="vision-language",
    config=KgCoOpConfig,
    example=_example,
)
def build(
    model: Any, config: KgCoOpConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """KgCoOp: CoOp's context; train with ``knowledge_guided_loss(reprogrammer)``."""
    config = resolve_config(KgCoOpConfig, config, overrides)
    frozen, init, name_lengths, tokenizer = context_setup(model, tokenizer, config)
    reprogrammer = Reprogrammer(
        frozen,
        ContextPrompt(init),
        IdentityAlignment(),
        paradigm="prompt-tuning",
        modality="vision-language",
        name="kgcoop",
    )
    reprogrammer.kgcoop_config = config  # the loss's settings travel with the reprogrammer
    return reprogrammer
