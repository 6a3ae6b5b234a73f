"""Prompt tuning (Lester, Al-Rfou, Constant, "The Power of Scale for Parameter-Efficient Prompt Tuning",
EMNLP 2021, arXiv 2104.08691).

    ŷ = v(f([P; E(x)]))

P (L_p, D) learned soft prompt prepended to the frozen model's token embeddings E(x); v the
verbalizer reading the class label words' scores at the prediction position (rule-based ω).
Initialisation: uniform, sampled vocabulary, class labels (the paper's three) or a text phrase.
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .soft_prompt import SoftPrompt
from .text import SoftPromptFields, VerbalizerFields, initial_prompt, text_example, verbalizer_frozen

__all__ = ["PromptTuningConfig", "build"]


class PromptTuningConfig(SoftPromptFields, VerbalizerFields):
    """Prompt length, initialisation and position; label words of the verbalizer."""


def _example():
    return text_example(build, label_words=["bad", "good"], num_virtual_tokens=4)


@register_method(
    "prompt-tuning",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    modality="text",
    config=PromptTuningConfig,
    example=_example,
)
def build(
    model: Any, config: PromptTuningConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """Soft prompt tuning: ``ŷ = v(f([P; E(x)]))`` on a causal or masked LM."""
    config = resolve_config(PromptTuningConfig, config, overrides)
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    prompt = SoftPrompt(initial_prompt(frozen, tokenizer, config), position=config.position)
    return Reprogrammer(frozen, prompt, verbalizer, paradigm="prompt-tuning", modality="text", name="prompt-tuning")
