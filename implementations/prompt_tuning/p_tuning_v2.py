"""P-tuning v2 (Liu, Ji, Fu, Tam, Du, Yang, Tang, "P-Tuning v2: Prompt Tuning Can Be Comparable to
Fine-tuning Universally Across Scales and Tasks", ACL 2022, arXiv 2110.07602).

    ŷ = W h(x) + b,   h from f with learned key/value prompts [P^K_ℓ; K_ℓ], [P^V_ℓ; V_ℓ] at every layer

Deep prompts at every layer (reparameterisation optional, off by default) and a randomly
initialised linear classification head on the model's features instead of a verbalizer: the
final [CLS] state for encoders and masked LMs, the LM head's features at the last token for
causal LMs.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, hidden_size, resolve_config, text_frozen
from .prefix import KeyValuePrompt
from .text import feature_readout, text_example

__all__ = ["PTuningV2Config", "build"]


class PTuningV2Config(MethodConfig):
    """Prompt length, optional reparameterisation, number of classes of the linear head."""

    num_classes: int = Field(..., ge=2, description="C_t, outputs of the linear head")
    num_virtual_tokens: int = Field(20, ge=1, description="L_p at every layer")
    reparameterize: bool = False
    reparameterize_dim: Optional[int] = Field(None, ge=1)
    encoder_hidden_size: int = Field(512, ge=1)
    init_std: float = Field(1.0, ge=0.0)
    readout: Literal["auto", "cls", "last_features", "mask_features", "mean"] = "auto"
    seed: int = 0


def _example():
    return text_example(build, num_classes=2, num_virtual_tokens=3)


@register_method(
    "p-tuning-v2",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=hidden ω=linear",
    modality="text",
    config=PTuningV2Config,
    example=_example,
)
def build(
    model: Any, config: PTuningV2Config | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """P-tuning v2: deep key/value prompts at every layer and a linear head on the features."""
    config = resolve_config(PTuningV2Config, config, overrides)
    frozen = text_frozen(model, tokenizer=tokenizer, readout=feature_readout(model, config.readout, masked="cls"))
    geometry = frozen.adapter.attention_geometry(frozen.model)
    D = hidden_size(frozen)
    with seeded(config.seed):
        prefix = KeyValuePrompt(
            geometry,
            config.num_virtual_tokens,
            reparameterize_dim=(config.reparameterize_dim or D) if config.reparameterize else None,
            hidden=config.encoder_hidden_size,
            init_std=config.init_std,
        )
        head = LinearAlignment(D, config.num_classes)
    return Reprogrammer(frozen, prefix, head, paradigm="prompt-tuning", modality="text", name="p-tuning-v2")
