"""Instruction prompting, zero-shot (Wei et al., "Finetuned Language Models Are Zero-Shot Learners"
(FLAN), ICLR 2022, arXiv 2109.01652).

``x' = [instruction; T(x); OPTIONS: w_1 ... w_C; answer cue]`` and, as FLAN evaluates
classification, rank classification over the options: ``ŷ_c = log p_f(w_c | x')`` (rule-based).
No demonstrations (k = 0 by default); the instruction and option list are fixed text.
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import TINY_SENTIMENT, LabelWordConfig, resolve_config, tiny_lm
from .icl_builder import build_label_word_method

__all__ = ["InstructionPromptingConfig", "build", "example", "options_block"]


def options_block(label_words: list[str]) -> str:
    """FLAN-style option list: ``OPTIONS:\\n- w_1\\n- w_2``."""
    return "OPTIONS:\n" + "\n".join(f"- {w}" for w in label_words)


class InstructionPromptingConfig(LabelWordConfig):
    """Zero-shot instruction with the options listed; ``{options}`` in ``input_template`` is filled in."""

    instruction: str = "Is the sentiment of the following review negative or positive?"
    input_template: str = "{text}\n{options}\nAnswer:"
    k: int = 0
    list_options: bool = True


def example():
    import torch

    model, tokenizer = tiny_lm("gpt2")
    reprogrammer = build(
        model,
        tokenizer=tokenizer,
        instruction="is the sentiment negative or positive ?",
        input_template="{text} {options} answer :",
    )
    test_texts, test_labels = zip(*TINY_SENTIMENT["test"])
    return reprogrammer, list(test_texts), torch.tensor(test_labels)


@register_method(
    "instruction-prompting",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=rule-based",
    modality="text",
    config=InstructionPromptingConfig,
    example=example,
)
def build(model, config: InstructionPromptingConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Zero-shot instruction prompt with the answer options, ranked by label-word log-likelihood."""
    config = resolve_config(InstructionPromptingConfig, config, overrides)
    options = options_block(config.label_words) if config.list_options else ""
    template = config.input_template.replace("{options}", options.replace("{", "{{").replace("}", "}}"))
    config = resolve_config(InstructionPromptingConfig, config, {"input_template": template})
    return build_label_word_method(model, config, "instruction-prompting")
