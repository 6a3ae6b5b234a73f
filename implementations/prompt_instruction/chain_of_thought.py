"""Chain-of-thought prompting (Wei, Wang, Schuurmans, Bosma, Ichter, Xia, Chi, Le & Zhou,
"Chain-of-Thought Prompting Elicits Reasoning in Large Language Models", NeurIPS 2022, arXiv 2201.11903).

``x' = [Q: q_1 A: r_1 The answer is a_1. ... Q: x A:]``: few-shot exemplars with written-out
reasoning (fixed, concatenative, at the input); the frozen LM continues greedily and the answer is
read by a rule (``"The answer is n"``, ``"#### n"``, else the last number): rule-based.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .generation_builder import GenerationConfig, generation_frozen, reasoning_example, reasoning_reprogrammer
from .reasoning import ARITHMETIC_EXEMPLARS, AnswerExtraction, ExemplarPrompt

__all__ = ["ChainOfThoughtConfig", "build", "example", "cot_exemplars"]


def cot_exemplars(exemplars=ARITHMETIC_EXEMPLARS) -> list[tuple[str, str]]:
    """(question, "rationale The answer is n.") pairs."""
    return [(q, f"{r} The answer is {a}.") for q, r, a in exemplars]


class ChainOfThoughtConfig(GenerationConfig):
    """Few-shot chain-of-thought: ``exemplars`` as (question, rationale, answer) triples."""

    exemplars: list[tuple[str, str, str]] = Field(default_factory=lambda: list(ARITHMETIC_EXEMPLARS))
    rule: str = "answer-is"


def example():
    return reasoning_example(build, exemplars=list(ARITHMETIC_EXEMPLARS[:1]))


@register_method(
    "chain-of-thought",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    access="text-only",
    modality="text",
    config=ChainOfThoughtConfig,
    example=example,
)
def build(model, config: ChainOfThoughtConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Chain-of-thought: exemplars with rationales, greedy generation, answer-extraction rule."""
    config = resolve_config(ChainOfThoughtConfig, config, overrides)
    frozen = generation_frozen(model, config)
    prompt = ExemplarPrompt(cot_exemplars(config.exemplars), input_template=config.input_template)
    rule = (
        config.rule if config.rule != "answer-is" else "auto"
    )  # "The answer is n", falling back to #### / last number
    return reasoning_reprogrammer(frozen, prompt, AnswerExtraction(rule, config.missing), "chain-of-thought")
