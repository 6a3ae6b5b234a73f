"""Zeroth-order gradient estimates are unbiased for a quadratic loss (Nesterov and Spokoiny, 2017; Spall, 1992).

For Gaussian directions u ~ N(0, I), E_u[(L(θ + βu) − L(θ))/β · u] = ∇L_β(θ), the gradient of the Gaussian
smoothing L_β(θ) = E_u L(θ + βu); for a quadratic L(θ) = ½ θᵀAθ + bᵀθ the odd moments vanish and
∇L_β = ∇L exactly. The same holds for directions uniform on the unit sphere scaled by b = d (BAR's estimator)
and for the central difference along Rademacher directions, E_Δ[(L(θ + cΔ) − L(θ − cΔ))/(2c) · Δ] = ∇L (SPSA, as
in BlackVIP), since E[ΔΔᵀ] = I and the cubic terms vanish.
The check draws q directions, forms the per-direction estimates and tests every coordinate of their mean
against ∇L with its standard error (|z| ≤ 5); the broken variant drops the factor d of the sphere estimator.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, generator, randint, randn, seeds

Z_LIMIT = 5.0


def estimates(loss: Callable[[Tensor], Tensor], theta: Tensor, beta: float, directions: Tensor, scale: float) -> Tensor:
    """Per-direction RGF estimates (q, d): scale · (L(θ + β u_j) − L(θ)) / β · u_j (``loss`` maps rows (n, d) → (n,))."""
    differences = loss(theta + beta * directions) - loss(theta[None])
    return scale * (differences / beta)[:, None] * directions


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    count, samples = (20, 40_000) if thorough else (6, 8_000)
    worst_z, worst_bias = 0.0, 0.0
    for instance in seeds(seed, count):
        gen = generator(instance)
        d = randint(gen, 2, 24 if thorough else 12)
        root = randn(gen, d, d)
        a, b, theta = root @ root.T / d, randn(gen, d), randn(gen, d)
        beta = float(torch.rand(1, generator=gen, dtype=DTYPE)) + 0.01

        def loss(points: Tensor, a: Tensor = a, b: Tensor = b) -> Tensor:
            return 0.5 * ((points @ a) * points).sum(1) + points @ b

        gradient = a @ theta + b
        for kind in ("gaussian", "sphere", "rademacher"):
            directions = randn(gen, samples, d)
            scale = 1.0
            if kind == "sphere":
                directions = directions / directions.norm(dim=1, keepdim=True)
                scale = 1.0 if variant == "missing-dimension-factor" else float(d)
            if kind == "rademacher":
                directions = directions.sign()
                half = 1.0 if variant == "central-without-half" else 2.0
                values = ((loss(theta + beta * directions) - loss(theta - beta * directions)) / (half * beta))[:, None]
                values = values * directions
            else:
                values = estimates(loss, theta, beta, directions, scale)
            mean, error = values.mean(0), values.std(0) / samples**0.5
            worst_z = max(worst_z, float(((mean - gradient).abs() / error).max()))
            worst_bias = max(worst_bias, float((mean - gradient).norm() / gradient.norm()))
    return CheckResult(
        passed=worst_z <= Z_LIMIT,
        quantity="max |z| of the mean RGF estimate against ∇L",
        value=worst_z,
        criterion=f"≤ {Z_LIMIT:g} (every coordinate; Gaussian, sphere and Rademacher directions)",
        measurements={"max_relative_error_of_mean": worst_bias, "directions_per_instance": samples},
        instances=count * 3,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
