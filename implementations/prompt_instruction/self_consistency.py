"""Self-consistency (Wang, Wei, Schuurmans, Le, Chi, Narang, Chowdhery & Zhou, "Self-Consistency
Improves Chain of Thought Reasoning in Language Models", ICLR 2023, arXiv 2203.11171).

The chain-of-thought prompt is fixed; f samples m reasoning paths (temperature sampling), the
final answer ``a_i`` of each is read by the extraction rule, and the prediction is the most
frequent one, ``ŷ = argmax_a Σ_i 1[a_i = a]`` (the marginal over reasoning paths).

Coordinates: METHODS.md lists the alignment as statistical (an empirical count over samples). In
this framework a statistical alignment is estimated from data by ``fit`` and then fixed; the vote
estimates nothing beyond each input's own samples and is the same rule for every task, so it is
registered as rule-based.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .chain_of_thought import cot_exemplars
from .common import resolve_config
from .generation_builder import GenerationConfig, generation_frozen, reasoning_example, reasoning_reprogrammer
from .reasoning import ARITHMETIC_EXEMPLARS, ExemplarPrompt, MajorityVote

__all__ = ["SelfConsistencyConfig", "build", "example"]


class SelfConsistencyConfig(GenerationConfig):
    """m sampled paths at ``temperature`` (Wang et al. use T = 0.5–0.7 and top-k 40)."""

    exemplars: list[tuple[str, str, str]] = Field(default_factory=lambda: list(ARITHMETIC_EXEMPLARS))
    num_samples: int = Field(5, ge=1)
    temperature: float = Field(0.7, gt=0)
    top_k: int = Field(40, ge=1)
    seed: int = 0


def example():
    return reasoning_example(build, num_samples=3, exemplars=list(ARITHMETIC_EXEMPLARS[:1]))


@register_method(
    "self-consistency",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    access="text-only",
    modality="text",
    config=SelfConsistencyConfig,
    example=example,
)
def build(model, config: SelfConsistencyConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Self-consistency: sample m chain-of-thought paths, majority vote over extracted answers."""
    config = resolve_config(SelfConsistencyConfig, config, overrides)
    frozen = generation_frozen(
        model,
        config,
        do_sample=True,
        temperature=config.temperature,
        top_k=config.top_k,
        num_samples=config.num_samples,
        seed=config.seed,
    )
    prompt = ExemplarPrompt(cot_exemplars(config.exemplars), input_template=config.input_template)
    return reasoning_reprogrammer(frozen, prompt, MajorityVote(config.rule, config.missing), "self-consistency")
