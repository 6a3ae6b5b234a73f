"""CODA-Prompt (Smith, Karlinsky, Gutta, Cascante-Bonilla, Kim, Arbelle, Panda, Feris, Kira, "CODA-Prompt:
COntinual Decomposed Attention-based Prompting for Rehearsal-Free Continual Learning", CVPR 2023,
arXiv 2211.13218).

    ŷ = W f([x_cls; Σ_m α_m(x) P_m; x_patches]) + b,   α_m(x) = cos(q(x) ⊙ A_m, K_m)

A frozen ViT, a prompt assembled from learned components with weights from an attention-based
key-query match on the frozen model's own class token q(x) (:class:`~.composed_prompt.ComposedPrompt`),
trained end to end with a linear head; one group of components per task, earlier groups frozen
(``reprogrammer.inputs[0].start_task(t)``), so no data are rehearsed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.models.tiny import seeded
from reprogrammability.implementations.registry import register_method

from .common import MethodConfig, resolve_config, vision_frozen
from .composed_prompt import ComposedPrompt, querying_frozen
from .vision import tiny_vit_example, vit_config

__all__ = ["CODAPromptConfig", "build"]


class CODAPromptConfig(MethodConfig):
    """Prompt length, tasks and components per task, classes of the (class-incremental) linear head."""

    num_classes: int = Field(..., ge=2, description="C_t over all tasks")
    prompt_length: int = Field(8, ge=1, description="L_p")
    num_tasks: int = Field(1, ge=1, description="T, tasks in the sequence")
    components_per_task: int = Field(10, ge=1, description="M/T prompt components added per task")
    seed: int = 0


def _example():
    model, images, labels = tiny_vit_example()
    return build(model, num_classes=3, prompt_length=2, num_tasks=2, components_per_task=2), images, labels


@register_method(
    "coda-prompt",
    "prompt-tuning",
    "λ=learnable τ=concatenative+parametric ℓ=embedding ω=linear",
    modality="vision",
    config=CODAPromptConfig,
    example=_example,
)
def build(model: Any, config: CODAPromptConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """CODA-Prompt: a prompt composed from components by attention on the frozen class token; a linear head."""
    config = resolve_config(CODAPromptConfig, config, overrides)
    frozen = querying_frozen(vision_frozen(model, readout="cls"))
    D = vit_config(frozen).hidden_size
    prompt = ComposedPrompt(
        D,
        config.prompt_length,
        num_tasks=config.num_tasks,
        components_per_task=config.components_per_task,
        seed=config.seed,
    )
    with seeded(config.seed):
        head = LinearAlignment(D, config.num_classes)
    return Reprogrammer(frozen, prompt, head, paradigm="prompt-tuning", modality="vision", name="coda-prompt")
