"""Activation addition (Turner, Thiergart, Leech, Udell, Vazquez, Mini & MacDiarmid, "Activation
Addition: Steering Language Models Without Optimization", 2023, arXiv 2308.10248).

``h_ℓ[:, :P] ← h_ℓ[:, :P] + c · (h_ℓ(p₊) − h_ℓ(p₋))``: the difference of the layer-ℓ activations of
a contrast pair of prompts (e.g. "Love" − "Hate"), computed once from the frozen model, is added to
the residual stream at the front positions of every input (fixed, additive, hidden); the model's
next-token distribution is the output (identity).
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import TINY_SENTIMENT, resolve_config, tiny_lm
from .steering import ActivationAddition
from .steering_builder import SteeringConfig, build_hidden_method, steering_setup

__all__ = ["ActivationAdditionConfig", "build", "example"]


class ActivationAdditionConfig(SteeringConfig):
    """Contrast pair, injection coefficient c and layer."""

    positive: str = "Love"
    negative: str = "Hate"
    coefficient: float = 5.0


def example():
    import torch

    model, tokenizer = tiny_lm("llama")
    reprogrammer = build(model, tokenizer=tokenizer, positive="great", negative="terrible", layer=1)
    texts, labels = zip(*TINY_SENTIMENT["test"])
    return reprogrammer, [f"review : {t} sentiment :" for t in texts], torch.tensor(labels)


@register_method(
    "activation-addition",
    "prompt-instruction",
    "λ=fixed τ=additive ℓ=hidden ω=identity",
    modality="text",
    config=ActivationAdditionConfig,
    example=example,
)
def build(model, config: ActivationAdditionConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Activation addition: a contrast-pair activation difference added at layer ℓ's front positions."""
    config = resolve_config(ActivationAdditionConfig, config, overrides)
    frozen, _, layer = steering_setup(model, config)
    steer = ActivationAddition.from_prompts(frozen, config.positive, config.negative, layer, config.coefficient)
    return build_hidden_method(frozen, config, steer, "activation-addition")
