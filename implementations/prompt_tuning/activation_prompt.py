"""Activation prompts (Zhang, Li, Yao, Chen, Zhang, Chen, Wang, Liu, "Visual Prompting Reimagined: The Power
of Activation Prompts", AISTATS 2026, arXiv 2604.06440).

    ŷ = W f_{>ℓ}(f_{≤ℓ}(x) + δ) + b

A universal perturbation δ of the activation map entering layer ℓ (for a CNN, C×H×W; for a
ViT, the T×D token states) and a linear head on the frozen model's output; input-level visual
prompting is the special case ℓ = 0. δ starts at zero.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .activation import ActivationPrompt
from .common import MethodConfig, resolve_config
from .vision import tiny_vit_example

__all__ = ["ActivationPromptConfig", "build"]


class ActivationPromptConfig(MethodConfig):
    """Which layers get a prompt, the number of classes, and the input shape used to find activation shapes."""

    num_classes: int = Field(..., ge=2)
    layers: list[int] = Field(default_factory=lambda: [-1], description="block indices (negative: from the end)")
    input_shape: Optional[list[int]] = Field(None, description="one input's shape, e.g. [3, 224, 224]")
    modality: str = "vision"
    seed: int = 0


def _example():
    model, images, labels = tiny_vit_example()
    from reprogrammability.framework.frozen import FrozenModel

    return build(FrozenModel(model, readout="cls"), num_classes=3, layers=[1], input_shape=[3, 32, 32]), images, labels


@register_method(
    "activation-prompt",
    "prompt-tuning",
    "λ=learnable τ=additive ℓ=hidden ω=linear",
    modality="vision",
    config=ActivationPromptConfig,
    example=_example,
)
def build(
    model: Any, config: ActivationPromptConfig | dict | None = None, *, example_input: Any = None, **overrides: Any
) -> Reprogrammer:
    """Activation prompt: ``f_{>ℓ}(f_{≤ℓ}(x) + δ)`` and a linear head; shapes found by tracing one input.

    ``model``: a :class:`FrozenModel` whose adapter lists the blocks (a CNN needs
    ``FrozenModel(net, layers=[...])``), or a transformers vision model. Give ``example_input``
    (a batch) or ``config.input_shape``.
    """
    config = resolve_config(ActivationPromptConfig, config, overrides)
    frozen = model if isinstance(model, FrozenModel) else FrozenModel(model)
    blocks = frozen.adapter.layers(frozen.model)
    if not blocks:
        raise InterfaceError("layers: the model's adapter lists no blocks; use FrozenModel(model, layers=[...])")
    layers = [layer if layer >= 0 else len(blocks) + layer for layer in config.layers]
    bad = [layer for layer, index in zip(config.layers, layers) if not 0 <= index < len(blocks)]
    if bad:
        raise ValueError(f"layers: {bad} out of range for a model with {len(blocks)} blocks")
    if example_input is None:
        if config.input_shape is None:
            raise ValueError("input_shape: give config.input_shape or example_input to find the activation shapes")
        example_input = torch.zeros(1, *config.input_shape, device=frozen.device)
    record = frozen.trace(example_input)
    output = record.output
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        raise InterfaceError(f"model: expected a (B, d) output for the linear head, got {type(output).__name__}")
    shapes = [tuple(record.hidden[layer].shape[1:]) for layer in layers]
    with seeded(config.seed):
        head = LinearAlignment(output.shape[1], config.num_classes)
    return Reprogrammer(
        frozen,
        ActivationPrompt(sorted(set(layers)), [shapes[layers.index(l)] for l in sorted(set(layers))]),
        head,
        paradigm="prompt-tuning",
        modality=config.modality,
        name="activation-prompt",
    )
