"""The model-reprogramming risk bound (Yang, Tsai, Chen, ICML 2021, Voice2Series, Theorem 1), numerically.

Instance (ours): a K-way classifier f = η ∘ z (η softmax, z the logits of the shipped TinyCNN, seeded), labels
given by the source decision rule in representation space (h(z) = argmax z, the same rule for the source and
the reprogrammed target data, i.e. the label mapping is consistent), loss ℓ(z) = ‖η(z) − e_{h(z)}‖₁ =
2(1 − max_k η_k(z)), which is 1-Lipschitz in z (the softmax Jacobian has spectral norm ≤ 1/2). For empirical
source and target representation distributions (equal sizes, W₁ by an optimal assignment):

    ε_T(δ) ≤ ε_S + W₁(μ_z(x_t + δ), μ_z(x_s)) ≤ ε_S + 2√K · W₁(μ_z(x_t + δ), μ_z(x_s)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..proposition import CheckResult
from ._common import DTYPE, generator, one_thread, randn


def wasserstein1(a: Tensor, b: Tensor) -> float:
    """W₁ between two empirical distributions of equal size (rows of a and b), Euclidean ground cost."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(a, b).numpy()
    rows, columns = linear_sum_assignment(cost)
    return float(cost[rows, columns].mean())


def risk(logits: Tensor) -> float:
    """Mean of 2(1 − max softmax): the ℓ₁ distance of η(z) to the one-hot of its own decision."""
    return float((2 * (1 - torch.softmax(logits, dim=1).max(dim=1).values)).mean())


def aligning_program(model: nn.Module, target: Tensor, z_source: Tensor, steps: int) -> Tensor:
    """An additive program trained to minimise W₁ to the source representations (the assignment is re-solved
    each step; its gradient is the W₁ gradient). Only δ receives gradients; f is frozen."""
    from scipy.optimize import linear_sum_assignment

    delta = torch.zeros(1, *target.shape[1:], dtype=DTYPE, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=0.1)
    with one_thread():
        for _ in range(steps):
            z_target = model(target + delta)
            rows, columns = linear_sum_assignment(torch.cdist(z_target.detach(), z_source).numpy())
            loss = (z_target[rows] - z_source[columns]).norm(dim=1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return delta.detach()


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    from reprogrammability.implementations.models.tiny import tiny_cnn

    samples = 256 if thorough else 96
    model = tiny_cnn(seed=seed).double().eval().requires_grad_(False)
    classes = model.num_classes
    gen = generator(30_000 + seed)
    source = randn(gen, samples, 3, 32, 32)  # the source domain: white noise images
    # the target domain: smooth low-frequency images (a different distribution), reprogrammed additively
    target = torch.nn.functional.interpolate(randn(gen, samples, 3, 4, 4, scale=2.0), size=32, mode="bilinear")
    deltas = {"none": torch.zeros(1, 3, 32, 32, dtype=DTYPE)}
    deltas["random"] = randn(gen, 1, 3, 32, 32)
    frame = torch.ones(32, 32, dtype=DTYPE)
    frame[6:26, 6:26] = 0
    deltas["frame"] = randn(gen, 1, 3, 32, 32) * frame
    with torch.no_grad(), one_thread():
        z_source = model(source)
    deltas["aligned"] = aligning_program(model, target, z_source, steps=60 if thorough else 25)
    with torch.no_grad(), one_thread():
        source_risk = risk(z_source)
        slack, rows = float("inf"), {}
        for name, delta in deltas.items():
            z_target = model(target + delta)
            distance = wasserstein1(z_target, z_source)
            target_risk = risk(z_target)
            sign = -1.0 if variant == "wrong-sign" else 1.0
            lipschitz_bound = source_risk + sign * distance
            paper_bound = source_risk + sign * 2 * math.sqrt(classes) * distance
            slack = min(slack, lipschitz_bound - target_risk, paper_bound - target_risk)
            rows[name] = {
                "target_risk": target_risk,
                "w1": distance,
                "bound_L1": lipschitz_bound,
                "bound_2sqrtK": paper_bound,
            }
    return CheckResult(
        passed=slack >= 0,
        quantity="min over programs of (bound − target risk)",
        value=slack,
        criterion="≥ 0 for both the 1-Lipschitz bound and the paper's 2√K bound",
        measurements={"source_risk": source_risk, "classes": classes, **rows},
        instances=len(deltas),
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
