"""REFINE (Chen, Shao, Wang, Li, Qin, Ren, Jiang, "REFINE: Inversion-Free Backdoor Defense via Model
Reprogramming", ICLR 2025, arXiv:2502.18508).

    x' = N(σ(g_θ(r(x)))),   ŷ_t = f(x')_{π(t)}

An encoder-decoder input transformation rewrites the (possibly poisoned) input, and a fixed random
permutation π of the model's labels (output label shuffling) breaks the backdoor's target label; the
source and target tasks coincide. The paper trains g_θ with cross-entropy plus a supervised contrastive
loss on the outputs (:func:`supervised_contrastive_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import VisualConfig, as_frozen, make_config, seeded_example, tiny_image_example
from .generated_programs import InputTransformation
from .ilm_vp import num_source_classes
from .label_mapping import ShuffledLabelMapping

__all__ = ["REFINEConfig", "build", "supervised_contrastive_loss", "refine_loss"]


class REFINEConfig(VisualConfig):
    width: int = Field(16, ge=1, description="w, channels of the encoder-decoder's first stage")
    seed: int = Field(0, description="seed of the label permutation")
    temperature: float = Field(0.1, gt=0, description="τ of the supervised contrastive loss")
    contrastive_weight: float = Field(0.1, ge=0)


def supervised_contrastive_loss(features: Tensor, targets: Tensor, temperature: float = 0.1) -> Tensor:
    """SupCon (Khosla et al. 2020) on L2-normalised features (B, D): pull same-label pairs together."""
    z = F.normalize(features.float(), dim=-1)
    similarity = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(eye, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (targets[:, None] == targets[None, :]) & ~eye
    counts = positives.sum(1)
    valid = counts > 0
    if not bool(valid.any()):
        return similarity.new_zeros(())
    mean_log_prob = log_prob.masked_fill(~positives, 0.0).sum(1)[valid] / counts[valid]
    return -mean_log_prob.mean()


def refine_loss(temperature: float = 0.1, weight: float = 0.1):
    """``loss(ŷ, y) = CE(ŷ, y) + weight · SupCon(ŷ, y)`` for the trainer's ``loss_fn``."""

    def loss(logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets) + weight * supervised_contrastive_loss(logits, targets, temperature)

    return loss


@seeded_example
def _example():
    return tiny_image_example(build, num_classes=20, image_size=32)


@register_method(
    "refine",
    "model-reprogramming",
    "λ=learnable τ=parametric ℓ=input ω=rule-based",
    modality="vision",
    config=REFINEConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """REFINE: an encoder-decoder input transformation with output label shuffling (backdoor defence)."""
    cfg = make_config(REFINEConfig, config, overrides)
    frozen = as_frozen(model)
    num_source = num_source_classes(frozen, cfg)
    if cfg.num_classes > num_source:
        raise ValueError(f"num_classes: {cfg.num_classes} exceeds the model's {num_source} classes")
    program = InputTransformation(cfg.canvas_size, cfg.mean, cfg.std, cfg.channels, cfg.width)
    return Reprogrammer(
        frozen,
        program,
        ShuffledLabelMapping(cfg.num_classes, seed=cfg.seed),
        paradigm="model-reprogramming",
        modality="vision",
        name="refine",
    )
