"""Least-to-most prompting (Zhou, Schärli, Hou, Wei, Scales, Wang, Schuurmans, Cui, Bousquet, Le &
Chi, "Least-to-Most Prompting Enables Complex Reasoning in Large Language Models", ICLR 2023,
arXiv 2205.10625).

Stage 1 (decomposition): a fixed few-shot prompt makes f list the sub-questions of x. Stage 2
(sub-problem solving): the sub-questions are answered one after another by f, each question and
answer appended to the context; f finally answers x in that context. The prompt text is fixed
(no parameters) and concatenative at the input; the answer is read by a rule.
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
from .reasoning import AnswerExtraction, LeastToMostPrompt

__all__ = ["LeastToMostConfig", "build", "example", "DECOMPOSITION_EXEMPLARS", "SOLUTION_EXEMPLARS"]

DECOMPOSITION_EXEMPLARS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Mia has 3 boxes with 4 pencils in each box. She gives away 5 pencils. How many pencils does she have left?",
        ("How many pencils does Mia start with?", "How many pencils does she have left?"),
    ),
)
SOLUTION_EXEMPLARS: tuple[tuple[str, str], ...] = (
    ("How many pencils does Mia start with?", "3 boxes of 4 pencils is 3 * 4 = 12. The answer is 12."),
    ("How many pencils does she have left?", "She had 12 and gave away 5, so 12 - 5 = 7. The answer is 7."),
)


class LeastToMostConfig(GenerationConfig):
    """Decomposition and solution exemplars; at most ``max_subquestions`` sub-questions are solved."""

    decomposition_exemplars: list[tuple[str, list[str]]] = Field(
        default_factory=lambda: [(q, list(s)) for q, s in DECOMPOSITION_EXEMPLARS]
    )
    solution_exemplars: list[tuple[str, str]] = Field(default_factory=lambda: list(SOLUTION_EXEMPLARS))
    max_subquestions: int = Field(4, ge=1)
    reasoning_tokens: int = Field(64, ge=1)


def example():
    return reasoning_example(build, max_subquestions=1)


@register_method(
    "least-to-most",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    access="text-only",
    modality="text",
    config=LeastToMostConfig,
    example=example,
)
def build(model, config: LeastToMostConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Least-to-most: decompose into sub-questions, solve them in sequence, answer; rule-based extraction."""
    config = resolve_config(LeastToMostConfig, config, overrides)
    frozen = generation_frozen(model, config)
    prompt = LeastToMostPrompt(
        reasoner_for(frozen, config, stop=["\n"] + list(config.stop)),
        config.decomposition_exemplars,
        config.solution_exemplars,
        config.max_subquestions,
    )
    return reasoning_reprogrammer(frozen, prompt, AnswerExtraction(config.rule, config.missing), "least-to-most")
