"""Builders shared by the reasoning methods (f generates text; ω extracts the answer)."""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

from pydantic import Field
from torch import nn

from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer

from .common import PromptConfig, tiny_lm
from .reasoning import GenerationAdapter, Reasoner

__all__ = [
    "GenerationConfig",
    "generation_frozen",
    "reasoner_for",
    "reasoning_reprogrammer",
    "reasoning_example",
    "ARITHMETIC_TEST",
]


class GenerationConfig(PromptConfig):
    """Generation options shared by the reasoning prompts."""

    tokenizer: Any = None
    generator: Any = None
    """``generator(prompts, num_samples) -> texts`` replacing the model's own generation (tests, APIs)."""
    max_new_tokens: int = Field(128, ge=1)
    reasoning_tokens: int = Field(128, ge=1)
    rule: Literal["hash", "answer-is", "last-number", "first-number", "auto"] = "auto"
    missing: float = float("nan")
    """The prediction when no number can be extracted."""
    input_template: str = "Q: {text}\nA:"
    stop: list[str] = Field(default_factory=lambda: ["\n\nQ:", "\nQ:", "\n\n\n"])


def generation_frozen(model: nn.Module, config: GenerationConfig, **options: Any) -> FrozenModel:
    tokenizer = config.tokenizer
    raw = model
    if isinstance(model, FrozenModel):
        tokenizer = tokenizer or getattr(model.adapter, "tokenizer", None)
        raw = model.model
    if tokenizer is None and config.generator is None:
        raise ValueError("tokenizer: pass tokenizer=... (or generator=... standing in for the model)")
    adapter = GenerationAdapter(
        tokenizer, max_new_tokens=config.max_new_tokens, stop=config.stop, generator=config.generator, **options
    )
    return FrozenModel(raw, adapter=adapter)


def reasoner_for(frozen: FrozenModel, config: GenerationConfig, stop: Sequence[str] | None = None) -> Reasoner:
    """Stage-one generation by the same frozen model (its own adapter, ``reasoning_tokens`` long)."""
    adapter = GenerationAdapter(
        frozen.adapter.tokenizer,
        max_new_tokens=config.reasoning_tokens,
        stop=tuple(config.stop if stop is None else stop),
        generator=config.generator,
    )
    return Reasoner(frozen, adapter)


def reasoning_reprogrammer(frozen: FrozenModel, prompt: nn.Module, output: nn.Module, name: str) -> Reprogrammer:
    """``ŷ = O(f(I(x)))`` of a reasoning method: a fixed text prompt I, f generating text (only its text is read:
    ``access="text-only"``), and O extracting the answer from that text."""
    return Reprogrammer(
        frozen,
        input=prompt,
        output=output,
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        access="text-only",
        modality=Modality.TEXT,
        name=name,
    )


ARITHMETIC_TEST: tuple[tuple[str, float], ...] = (
    ("Ann has 2 apples and buys 3 more. How many apples does she have?", 5.0),
    ("A class has 4 rows of 5 desks. How many desks are there?", 20.0),
)


def reasoning_example(build: Callable[..., Reprogrammer], **overrides: Any):
    """A tiny random LM generating (garbage) text, with the arithmetic questions and their answers."""
    import torch

    model, tokenizer = tiny_lm("llama")
    # a random model writes no numbers: "no answer" is -1 here (NaN by default)
    options = dict(tokenizer=tokenizer, max_new_tokens=6, reasoning_tokens=6, missing=-1.0)
    options.update(overrides)
    reprogrammer = build(model, **options)
    questions, answers = zip(*ARITHMETIC_TEST)
    return reprogrammer, list(questions), torch.tensor(answers, dtype=torch.float64)
