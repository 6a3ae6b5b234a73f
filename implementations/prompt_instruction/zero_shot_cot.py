"""Zero-shot chain-of-thought (Kojima, Gu, Reid, Matsuo & Iwasawa, "Large Language Models are
Zero-Shot Reasoners", NeurIPS 2022, arXiv 2205.11916).

Two stages with one fixed prompt: (1) reasoning extraction ``r = f("Q: x A: Let's think step by
step.")``; (2) answer extraction: f continues ``[...; r; "Therefore, the answer (arabic numerals)
is"]`` and, as Kojima et al.'s answer cleansing for arithmetic, the first number of that
continuation is the answer (rule-based).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .generation_builder import (
    GenerationConfig,
    generation_frozen,
    reasoner_for,
    reasoning_example,
    reasoning_reprogrammer,
)
from .reasoning import AnswerExtraction, ZeroShotCoTPrompt

__all__ = ["ZeroShotCoTConfig", "build", "example"]


class ZeroShotCoTConfig(GenerationConfig):
    """Triggers of both stages; the answer stage is short (``max_new_tokens``)."""

    reasoning_trigger: str = "Let's think step by step."
    answer_trigger: str = "Therefore, the answer (arabic numerals) is"
    max_new_tokens: int = Field(16, ge=1)
    rule: str = "first-number"


def example():
    return reasoning_example(build)


@register_method(
    "zero-shot-cot",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    access="text-only",
    modality="text",
    config=ZeroShotCoTConfig,
    example=example,
)
def build(model, config: ZeroShotCoTConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Zero-shot CoT: "Let's think step by step." reasoning, then an answer trigger; first number."""
    config = resolve_config(ZeroShotCoTConfig, config, overrides)
    frozen = generation_frozen(model, config)
    prompt = ZeroShotCoTPrompt(
        reasoner_for(frozen, config), config.input_template, config.reasoning_trigger, config.answer_trigger
    )
    return reasoning_reprogrammer(frozen, prompt, AnswerExtraction(config.rule, config.missing), "zero-shot-cot")
