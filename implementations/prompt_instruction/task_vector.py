"""Task vectors (Hendel, Geva & Globerson, "In-Context Learning Creates Task Vectors", Findings of
EMNLP 2023, arXiv 2310.15916).

In-context learning is read as ``f(x; θ(S))``: the demonstrations S are compressed into the
layer-ℓ hidden state θ of the last token (``"→"``) of a prompt ``[S; x'; →]`` with a dummy query
x'. θ (averaged over several demonstration sets and dummy queries) is computed once; the
zero-shot query ``"x →"`` then runs with its layer-ℓ state at the last token *replaced* by θ.
Hendel et al. patch (substitute) the state, so the operator here is parametric (a fixed masked
substitution ``(1 − M) ⊙ h + M ⊙ θ``) rather than additive; fixed, hidden, identity readout.
"""

from __future__ import annotations

from typing import Any

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .steering import TaskVectorPatch
from .steering_builder import (
    DemonstrationConfig,
    build_hidden_method,
    demonstration_example,
    demonstration_prompts,
    steering_setup,
)

__all__ = ["TaskVectorConfig", "build", "example"]


class TaskVectorConfig(DemonstrationConfig):
    """θ from ``num_prompts`` prompts of k demonstrations + a dummy query (drawn from the pool)."""


def example():
    return demonstration_example(build, num_prompts=4)


@register_method(
    "task-vector",
    "prompt-instruction",
    "λ=fixed τ=parametric ℓ=hidden ω=identity",
    modality="text",
    config=TaskVectorConfig,
    example=example,
)
def build(model, config: TaskVectorConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Task vector: the last-token layer-ℓ state of demonstration prompts, patched into zero-shot queries.

    Inputs are queries already written with ``input_template`` (e.g. ``"good movie ->"``).
    """
    config = resolve_config(TaskVectorConfig, config, overrides)
    frozen, _, layer = steering_setup(model, config)
    prompts, _ = demonstration_prompts(config)
    patch = TaskVectorPatch.from_demonstrations(frozen, prompts, layer)
    return build_hidden_method(frozen, config, patch, "task-vector")
