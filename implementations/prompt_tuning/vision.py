"""Shared pieces of the vision prompt methods (VPT, activation prompts) and their tiny examples."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from reprogrammability.framework.frozen import FrozenModel

__all__ = ["vit_config", "xavier_prompt", "tiny_vit_example"]


def vit_config(model: Any) -> Any:
    raw = model.model if isinstance(model, FrozenModel) else model
    config = raw.config
    return getattr(config, "vision_config", config)


def xavier_prompt(
    shape: tuple[int, ...], patch_size: int, dim: int, generator: torch.Generator | None = None
) -> Tensor:
    """VPT's initialisation: U[-a, a] with a = √(6 / (3·p² + D)) (Xavier uniform over a patch's fan-in)."""
    bound = math.sqrt(6.0 / (3 * patch_size * patch_size + dim))
    return (torch.rand(*shape, generator=generator) * 2 - 1) * bound


def tiny_vit_example() -> tuple[Any, Tensor, Tensor]:
    """A tiny random ViT classifier, four 32×32 images and labels of a 3-class target task."""
    from reprogrammability.implementations.models.tiny import tiny_vit

    generator = torch.Generator().manual_seed(0)
    return tiny_vit(), torch.rand(4, 3, 32, 32, generator=generator), torch.tensor([0, 1, 2, 1])
