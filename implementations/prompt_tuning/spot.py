"""SPoT: soft prompt transfer (Vu, Lester, Constant, Al-Rfou, Cer, "SPoT: Better Frozen Model Adaptation
through Soft Prompt Transfer", ACL 2022, arXiv 2110.07904).

    P_target ← P_source (learned by prompt tuning on a source task),   ŷ = v(f([P_target; E(x)]))

A prompt learned on one or more source tasks initialises prompt tuning on the target task.
Choosing the source: the learned prompts double as task embeddings; SPoT ranks source tasks by
the cosine similarity of their prompts to a briefly tuned target prompt, averaged over all pairs
of prompt tokens (:func:`task_similarity`, :func:`rank_sources`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .text import SoftPromptFields, VerbalizerFields
from .transferred_prompt import load_prompt, transfer_example, transferred_prompt_tuning

__all__ = ["SPoTConfig", "build", "load_prompt", "task_similarity", "rank_sources"]


class SPoTConfig(SoftPromptFields, VerbalizerFields):
    """The source prompt (a file or folder; or pass ``source_prompt=`` a tensor to ``build``)."""

    source: Optional[str] = Field(
        None, description="a saved reprogrammer folder/.safetensors or a peft adapter folder holding the source prompt"
    )


def task_similarity(a: Tensor, b: Tensor) -> float:
    """SPoT's task-embedding similarity: mean cosine similarity over all pairs of prompt tokens of a and b."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ShapeError(f"a, b: expected prompts (L_a, D) and (L_b, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    return float((F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).t()).mean())


def rank_sources(target: Tensor, sources: Mapping[str, Tensor]) -> list[tuple[str, float]]:
    """Source tasks sorted by :func:`task_similarity` to the target task's prompt, most similar first."""
    scored = [(name, task_similarity(target, prompt)) for name, prompt in sources.items()]
    return sorted(scored, key=lambda item: -item[1])


def _example():
    return transfer_example(build, "source_prompt", seed=1)


@register_method(
    "spot",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    modality="text",
    config=SPoTConfig,
    example=_example,
)
def build(
    model: Any,
    config: SPoTConfig | dict | None = None,
    *,
    tokenizer: Any = None,
    source_prompt: Tensor | None = None,
    **overrides: Any,
) -> Reprogrammer:
    """SPoT: prompt tuning initialised from a source task's learned prompt."""
    config = resolve_config(SPoTConfig, config, overrides)
    # without a source prompt this is the source-task stage: plain prompt tuning
    return transferred_prompt_tuning(
        model, config, tokenizer, source_prompt, config.source, names=("source", "source_prompt"), name="spot"
    )
