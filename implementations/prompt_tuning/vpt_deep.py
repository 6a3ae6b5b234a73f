"""VPT-deep (Jia et al., "Visual Prompt Tuning", ECCV 2022, arXiv 2203.12119).

    [x_i, _, E_i] = L_i([x_{i−1}, P_{i−1}, E_{i−1}]),  i = 1 … N,   ŷ = Head(LN(x_N))

New prompts P_{i−1} (p, D) at the input of every layer: P_0 inserted after the class token at the
embedding interface, P_1 … P_{N−1} replacing the prompt slots' outputs of the previous layer.
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .deep import DeepPrompts
from .vision import tiny_vit_example, xavier_prompt
from .vpt_shallow import VPTConfig, vpt_parts

__all__ = ["VPTConfig", "build"]


def _example():
    model, images, labels = tiny_vit_example()
    return build(model, num_classes=3, num_prompts=4), images, labels


@register_method(
    "vpt-deep",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding+hidden ω=linear",
    modality="vision",
    config=VPTConfig,
    example=_example,
)
def build(model: Any, config: VPTConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """VPT-deep: new prompt tokens at the input of every transformer layer; a linear head."""
    config = resolve_config(VPTConfig, config, overrides)
    frozen, prompt, head, vc, generator = vpt_parts(model, config)
    layers = list(range(1, len(frozen.adapter.layers(frozen.model))))
    parts = [prompt]
    if layers:
        D = vc.hidden_size
        parts.append(
            DeepPrompts(
                xavier_prompt((len(layers), config.num_prompts, D), vc.patch_size, D, generator), layers, start=1
            )
        )
    return Reprogrammer(frozen, parts, head, paradigm="prompt-tuning", modality="vision", name="vpt-deep")
