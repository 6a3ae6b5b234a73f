"""P-tuning (Liu, Zheng, Du, Ding, Qian, Yang, Tang, "GPT Understands, Too", AI Open 2023, arXiv 2103.10385).

    ŷ = v(f([g_θ(h); E(x)]))

Pseudo-token embeddings h (L_p, D) pass through the prompt encoder g_θ (the paper's bidirectional
LSTM + two-layer ReLU MLP, or a three-layer MLP) and are inserted into the embedded input; v is
the verbalizer. g_θ re-parameterises the prompt and never reads x, so the operator is
concatenative. After training, ``EncodedPrompt.to_soft_prompt()`` keeps only g_θ(h).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import hidden_size, resolve_config
from .encoders import EncodedPrompt, PromptEncoder
from .text import SoftPromptFields, VerbalizerFields, initial_prompt, text_example, verbalizer_frozen

__all__ = ["PTuningConfig", "build"]


class PTuningConfig(SoftPromptFields, VerbalizerFields):
    """Prompt encoder type and size; pseudo tokens start N(0, 1) (``init="normal"``) unless set otherwise."""

    init: Literal["uniform", "sampled-vocabulary", "text", "class-label", "normal"] = "normal"
    encoder: Literal["lstm", "mlp"] = "lstm"
    encoder_hidden_size: Optional[int] = Field(None, ge=1, description="H; default: the model's hidden size D")
    lstm_layers: int = Field(2, ge=1)
    encoder_dropout: float = Field(0.0, ge=0.0, lt=1.0)


def _example():
    return text_example(build, kind="gpt2", label_words=["bad", "good"], num_virtual_tokens=3, encoder_hidden_size=8)


@register_method(
    "p-tuning",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    modality="text",
    config=PTuningConfig,
    example=_example,
)
def build(
    model: Any, config: PTuningConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """P-tuning: ``ŷ = v(f([g_θ(h); E(x)]))`` with an LSTM or MLP prompt encoder g_θ."""
    config = resolve_config(PTuningConfig, config, overrides)
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    D = hidden_size(frozen)
    with seeded(config.seed):
        encoder = PromptEncoder(
            D, config.encoder_hidden_size or D, config.encoder, config.lstm_layers, config.encoder_dropout
        )
    prompt = EncodedPrompt(initial_prompt(frozen, tokenizer, config), encoder, position=config.position)
    return Reprogrammer(frozen, prompt, verbalizer, paradigm="prompt-tuning", modality="text", name="p-tuning")
