"""Contextual calibration (Zhao, Wallace, Feng, Klein & Singh, "Calibrate Before Use", ICML 2021,
arXiv 2102.09690).

``ŷ = softmax(W p(x'))`` with ``p`` the label-word distribution of the k-shot prompt ``x'`` and
``W = diag(p̂_cf)^{-1}`` estimated from the same prompt filled with content-free inputs ("N/A",
"", "[MASK]"). The prompt is fixed and concatenative at the input; W is statistical (fitted from
the frozen model's outputs, no gradients). Zhao et al. score the first token of each label word.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .calibration import calibrate
from .common import LabelWordConfig, few_shot_sentiment_example, resolve_config
from .icl_builder import build_label_word_method
from .templates import CONTENT_FREE

__all__ = ["ContextualCalibrationConfig", "build", "example"]


class ContextualCalibrationConfig(LabelWordConfig):
    """k-shot prompt + contextual calibration, fitted at build time on ``content_free`` inputs."""

    k: int = 4
    continuation: str = "first"
    content_free: list[str] = Field(default_factory=lambda: list(CONTENT_FREE), min_length=1)
    fit_now: bool = True


def example():
    return few_shot_sentiment_example(build, k=4)


@register_method(
    "contextual-calibration",
    "prompt-instruction",
    "λ=fixed τ=concatenative ℓ=input ω=statistical",
    modality="text",
    config=ContextualCalibrationConfig,
    example=example,
)
def build(model, config: ContextualCalibrationConfig | dict | None = None, **overrides: Any) -> Reprogrammer:
    """Contextual calibration: W = diag(p_cf)^-1 from content-free inputs, applied to k-shot label-word probabilities."""
    config = resolve_config(ContextualCalibrationConfig, config, overrides)
    reprogrammer = build_label_word_method(model, config, "contextual-calibration", calibrated=True)
    if config.fit_now:
        calibrate(reprogrammer, config.content_free)
    return reprogrammer
