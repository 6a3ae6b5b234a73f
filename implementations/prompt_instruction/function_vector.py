"""Function vectors (Todd, Li, Sharma, Mueller, Wallace & Bau, "Function Vectors in Large Language
Models", ICLR 2024, arXiv 2310.15213).

1. ``ā_{l,j}``: each attention head's mean output at the last token over in-context prompts;
2. the average indirect effect of each head: how much patching ``ā_{l,j}`` into prompts whose
   demonstration labels were shuffled raises the probability of the correct answer;
3. ``v = Σ_{(l,j) ∈ A} ā_{l,j}`` over the heads A with the largest effect (mapped through their
   layer's output projection), added to the layer-ℓ state of the last token of zero-shot queries:
   ``h_ℓ[last] ← h_ℓ[last] + v``. All from forward passes of the frozen model: fixed, additive,
   hidden; the next-token distribution is the output (identity).
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .scoring import encode_segment
from .steering import FunctionVector, average_indirect_effect, function_vector, head_activations
from .steering_builder import (
    DemonstrationConfig,
    build_hidden_method,
    demonstration_example,
    demonstration_prompts,
    steering_setup,
)

__all__ = ["FunctionVectorConfig", "build", "example"]


class FunctionVectorConfig(DemonstrationConfig):
    """``num_heads`` heads with the largest average indirect effect (Todd et al. use 10 for GPT-J);
    ``heads`` fixes them instead."""

    num_heads: int = Field(10, ge=1)
    heads: Optional[list[tuple[int, int]]] = None


def example():
    return demonstration_example(build, num_prompts=3, num_heads=2)


@register_method(
    "function-vector",
    "prompt-instruction",
    "λ=fixed τ=additive ℓ=hidden ω=identity",
    modality="text",
    config=FunctionVectorConfig,
    example=example,
)
def build(model, config: FunctionVectorConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Function vector: summed mean outputs of causally important heads, added at the last token."""
    config = resolve_config(FunctionVectorConfig, config, overrides)
    frozen, scorer, layer = steering_setup(model, config)
    clean, answers = demonstration_prompts(config)
    mean_heads = head_activations(frozen, clean)
    if config.heads is None:
        corrupted, corrupted_answers = demonstration_prompts(config, corrupt=True)
        answer_ids = [
            encode_segment(scorer.tokenizer, config.output_template.format(label=config.label_words[y]))[0]
            for y in corrupted_answers
        ]
        effect = average_indirect_effect(frozen, mean_heads, corrupted, answer_ids)
        top = effect.flatten().topk(min(config.num_heads, effect.numel())).indices.tolist()
        heads = [divmod(i, effect.shape[1]) for i in top]
    else:
        heads = [tuple(h) for h in config.heads]
    vector = function_vector(frozen, mean_heads, heads)
    edit = FunctionVector(scorer, vector, layer, heads)
    return build_hidden_method(frozen, config, edit, "function-vector")
