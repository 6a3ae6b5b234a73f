"""IDPG: instance-dependent prompt generation (Wu, Wang, Gu, Hou, Dong, Vydiswaran, Ma, "IDPG: An
Instance-Dependent Prompt Generation Method", NAACL 2022, arXiv 2204.04497).

    ŷ = W h(f([G(M(x)); E(x)])) + b,   G(m) = W₂ σ(W₁ m + b₁) + b₂

Unlike prompt tuning's one prompt for all inputs, a lightweight generator G maps the sentence
representation M(x) of each input (from the frozen model, :class:`~.instance_prompt.GeneratedPrompt`)
to its own L_p prompt vectors, prepended to the token embeddings (the paper's single-layer S-IDPG); a
linear head classifies the model's features as in the paper's GLUE setting. Trained: G and the head.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, hidden_size, resolve_config, text_frozen
from .instance_prompt import GeneratedPrompt, representing_frozen
from .text import feature_readout, text_example

__all__ = ["IDPGConfig", "build"]


class IDPGConfig(MethodConfig):
    """Prompt length L_p, generator bottleneck h and activation σ, classes of the linear head."""

    num_classes: int = Field(..., ge=2)
    num_virtual_tokens: int = Field(5, ge=1, description="L_p, prompt vectors per input")
    generator_hidden: int = Field(16, ge=1, description="h, the generator's bottleneck size")
    activation: Literal["relu", "tanh", "gelu"] = "relu"
    readout: Literal["auto", "cls", "last_features", "mask_features"] = "auto"
    seed: int = 0


def _example():
    return text_example(build, num_classes=2, num_virtual_tokens=2, generator_hidden=4)


@register_method(
    "idpg",
    "prompt-tuning",
    "λ=learnable τ=concatenative+parametric ℓ=embedding ω=linear",
    modality="text",
    config=IDPGConfig,
    example=_example,
)
def build(
    model: Any, config: IDPGConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """IDPG: a per-input soft prompt G(M(x)) from a bottleneck generator, and a linear head."""
    config = resolve_config(IDPGConfig, config, overrides)
    frozen = text_frozen(model, tokenizer=tokenizer, readout=feature_readout(model, config.readout, masked="cls"))
    frozen = representing_frozen(frozen)  # M(x): the same features, of the unprompted input
    D = hidden_size(frozen)

    with seeded(config.seed):
        prompt = GeneratedPrompt(D, config.num_virtual_tokens, config.generator_hidden, config.activation)
        head = LinearAlignment(D, config.num_classes)
    return Reprogrammer(frozen, prompt, head, paradigm="prompt-tuning", modality="text", name="idpg")
