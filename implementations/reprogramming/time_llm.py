"""Time-LLM (Jin, Wang, Ma, Chu, Zhang, Shi, Chen, Liang, Li, Pan, Wen, "Time-LLM: Time Series Forecasting by
Reprogramming Large Language Models", ICLR 2024, arXiv:2310.01728).

    X_P = PatchEmbed(patch(RevIN(x))),   E' = W_E E,   O = MultiHeadAttn(X_P W_Q, E' W_K, E' W_V) W_O
    Z = f([E(prompt(x)); O]),            ŷ = RevIN⁻¹(W flatten(Z_patches[:, :d_f]) + b)

The frozen causal LM reads the patch tokens reprogrammed onto text prototypes after a fixed prompt-as-prefix
(dataset description, task, input statistics); a linear projection of the patch states gives the forecast
(B, H). Trained with the mean squared error (``loss_fn=torch.nn.functional.mse_loss``).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from pydantic import Field

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, make_config, seeded_example
from .series_language_model import PatchReprogramming, PromptAsPrefix, SeriesHead, SeriesLanguageModelAdapter

__all__ = ["TimeLLMConfig", "build"]


class TimeLLMConfig(MethodConfig):
    num_classes: int = Field(1, ge=1, description="unused for forecasting (kept for the common config)")
    input_length: int = Field(512, ge=2, description="L, the look-back window")
    horizon: int = Field(96, ge=1, description="H, the forecast length")
    patch_length: int = Field(16, ge=1)
    stride: int = Field(8, ge=1)
    d_model: int = Field(32, ge=1, description="d_m, the patch embedding width")
    num_heads: int = Field(8, ge=1)
    key_dim: Optional[int] = Field(None, ge=1, description="d_k per head (default d_m / H)")
    num_prototypes: int = Field(1000, ge=1, description="V', the number of text prototypes")
    head_features: Optional[int] = Field(32, ge=1, description="d_f hidden features read per patch (the paper: 32)")
    description: str = Field("", description="the dataset description of the prompt-as-prefix")
    prompt: bool = Field(True, description="prepend the prompt-as-prefix (needs a tokenizer)")
    prompt_length: int = Field(128, ge=1, description="maximum prompt tokens")


@seeded_example
def _example():
    from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_tokenizer

    model = tiny_causal_lm()
    reprogrammer = build(
        model,
        tokenizer=tiny_tokenizer(style="causal"),
        input_length=32,
        horizon=8,
        patch_length=8,
        stride=4,
        d_model=16,
        num_heads=4,
        num_prototypes=50,
        description="a tiny synthetic series",
    )
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(40, dtype=torch.float32)
    phase = torch.rand(4, 1, generator=generator) * 6.28
    series = torch.sin(t / 3.0 + phase) + 0.05 * torch.randn(4, 40, generator=generator)
    return reprogrammer, series[:, :32].contiguous(), series[:, 32:].contiguous()


@register_method(
    "time-llm",
    "model-reprogramming",
    "λ=fixed+learnable τ=parametric+concatenative ℓ=embedding ω=linear",
    modality="text",
    config=TimeLLMConfig,
    example=_example,
)
def build(model, config=None, *, tokenizer: Any = None, **overrides) -> Reprogrammer:
    """Time-LLM: patch reprogramming onto text prototypes, prompt-as-prefix, and a linear forecasting head."""
    cfg = make_config(TimeLLMConfig, config, overrides)
    if isinstance(model, FrozenModel):
        frozen = model
    else:
        frozen = FrozenModel(model, adapter=SeriesLanguageModelAdapter("tokens"))
    if not isinstance(frozen.adapter, SeriesLanguageModelAdapter):
        raise TypeError("model: Time-LLM needs FrozenModel(model, adapter=SeriesLanguageModelAdapter('tokens'))")
    lm = frozen.model
    embedding = lm.get_input_embeddings()
    patches = PatchReprogramming(
        embedding, cfg.patch_length, cfg.stride, cfg.d_model, cfg.num_heads, cfg.key_dim, cfg.num_prototypes
    )
    parts = [patches]
    if cfg.prompt:
        if tokenizer is None:
            raise ValueError("tokenizer: the prompt-as-prefix needs the LM's tokenizer (or pass prompt=False)")
        parts.append(PromptAsPrefix(embedding, tokenizer, cfg.description, cfg.horizon, max_length=cfg.prompt_length))
    width = embedding.weight.shape[1]
    head = SeriesHead(patches.num_patches(cfg.input_length), min(cfg.head_features or width, width), cfg.horizon)
    return Reprogrammer(
        frozen,
        parts,
        head,
        paradigm="model-reprogramming",
        modality="text",
        task_modality="time-series",
        name="time-llm",
    )
