"""Input programs at an affine first layer are bias changes (our corollary of linearity).

(a) For an affine first layer g(x) = W * x + b (a convolution, possibly followed by eval-mode batch norm),
    g(x + δ) = W * x + (b + W * δ): an additive program δ is the spatially varying bias change W * δ.
(b) The padding program δ = M ⊙ θ (M the frame mask) changes g only on the receptive field of the frame:
    (W * (M ⊙ θ))[p] = 0 wherever the kernel window at output position p misses the frame.
(c) The reachable first-layer perturbations {W * δ} form a linear subspace of dimension rank(δ ↦ W * δ)
    ≤ C_in·H·W, input-independent; a weight change ΔW changes g by ΔW * x, which depends on x, and for
    two inputs no δ matches it better than Σ_k ‖a_k − ā‖² (a_k = ΔW * x_k).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, generator, max_abs, one_thread, randint, randn, seeds

TOLERANCE = 1e-12


def _conv(
    gen: torch.Generator, c_in: int, c_out: int, k: int, stride: int, padding: int, dilation: int
) -> tuple[Callable[[Tensor], Tensor], Tensor]:
    weight = randn(gen, c_out, c_in, k, k, scale=(c_in * k * k) ** -0.5)
    bias = randn(gen, c_out)

    def layer(x: Tensor) -> Tensor:
        return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)

    return layer, weight


def bias_change_residual(thorough: bool, seed: int, variant: str | None) -> tuple[float, int]:
    count = 60 if thorough else 15
    worst = 0.0
    for instance in seeds(seed, count):
        gen = generator(instance)
        c_in, c_out, k = randint(gen, 1, 4), randint(gen, 1, 8), randint(gen, 1, 5)
        stride, padding, dilation = randint(gen, 1, 2), randint(gen, 0, 2), randint(gen, 1, 2)
        size = randint(gen, (k - 1) * dilation + 1, 20 if thorough else 12)
        layer, weight = _conv(gen, c_in, c_out, k, stride, padding, dilation)
        x, delta = randn(gen, 2, c_in, size, size), randn(gen, 1, c_in, size, size)
        shift = F.conv2d(delta, weight, None, stride=stride, padding=padding, dilation=dilation)  # W * δ
        sign = -1.0 if variant == "wrong-sign" else 1.0
        worst = max(worst, max_abs(layer(x + delta), layer(x) + sign * shift))
    # the shipped TinyCNN: conv (no bias) + eval batch norm is affine, the same identity holds
    from reprogrammability.implementations.models.tiny import tiny_cnn

    affine = tiny_cnn(seed=seed).layer1[:2].double()
    gen = generator(seed)
    x, delta = randn(gen, 2, 3, 16, 16), randn(gen, 1, 3, 16, 16)
    with torch.no_grad():
        shift = affine(delta) - affine(torch.zeros_like(delta))
        sign = -1.0 if variant == "wrong-sign" else 1.0
        worst = max(worst, max_abs(affine(x + delta), affine(x) + sign * shift))
    return worst, count + 1


def frame_support(thorough: bool, seed: int, variant: str | None) -> tuple[float, float, int]:
    """Max |W * (M ⊙ θ)| outside the frame's receptive field (must be 0) and the smallest |·| on it (> 0)."""
    count = 20 if thorough else 6
    outside, inside = 0.0, float("inf")
    for instance in seeds(seed + 7, count):
        gen = generator(instance)
        c_in, c_out, k = randint(gen, 1, 3), randint(gen, 1, 4), 2 * randint(gen, 1, 2) + 1
        size, inner = randint(gen, 12, 24), 0
        inner = randint(gen, 4, size - 4)
        start = (size - inner) // 2
        mask = torch.ones(1, 1, size, size, dtype=DTYPE)
        mask[..., start : start + inner, start : start + inner] = 0  # 1 on the frame, 0 on the image
        theta = randn(gen, 1, c_in, size, size)
        weight = randn(gen, c_out, c_in, k, k) + 0.5  # no exact cancellations
        shift = F.conv2d(mask * theta, weight, None, padding=k // 2).abs().amax(dim=1)[0]
        reach = 1 if variant == "no-receptive-field" else k  # the frame dilated by the kernel window
        field = F.max_pool2d(mask, reach, stride=1, padding=reach // 2)[0, 0] > 0
        outside = max(outside, float(shift[~field].max()) if (~field).any() else 0.0)
        inside = min(inside, float(shift[field].min()))
    return outside, inside, count


def reachable_subspace(thorough: bool, seed: int) -> dict[str, float]:
    gen = generator(seed + 13)
    c_in, c_out, size, k = 2, 6, 6 if not thorough else 8, 3
    weight = randn(gen, c_out, c_in, k, k)
    with one_thread():
        jacobian = torch.autograd.functional.jacobian(  # type: ignore[no-untyped-call]
            lambda d: F.conv2d(d, weight, None, padding=1).flatten(), torch.zeros(1, c_in, size, size, dtype=DTYPE)
        ).reshape(c_out * size * size, -1)
    rank = int(torch.linalg.matrix_rank(jacobian))
    delta_w = randn(gen, c_out, c_in, k, k)
    inputs = randn(gen, 2, c_in, size, size)
    changes = F.conv2d(inputs, delta_w, None, padding=1).flatten(1)  # a_k = ΔW * x_k
    floor = float(((changes - changes.mean(0)) ** 2).sum() / (changes**2).sum())
    # the best single reachable shift: least squares of both changes on the range of the Jacobian
    solution = torch.linalg.lstsq(jacobian.expand(2, -1, -1).reshape(-1, jacobian.shape[1]), changes.reshape(-1, 1))
    best = float(((jacobian @ solution.solution).reshape(1, -1) - changes).pow(2).sum() / (changes**2).sum())
    return {
        "reachable_dimension": rank,
        "output_dimension": jacobian.shape[0],
        "program_dimension": jacobian.shape[1],
        "weight_change_unreachable_floor": floor,
        "weight_change_best_program_error": best,
    }


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    residual, count = bias_change_residual(thorough, seed, variant)
    outside, inside, frames = frame_support(thorough, seed, variant)
    reach = reachable_subspace(thorough, seed)
    passed = (
        residual <= TOLERANCE
        and outside == 0.0
        and inside > 0.0
        and reach["reachable_dimension"] <= reach["program_dimension"] < reach["output_dimension"]
        and reach["weight_change_best_program_error"] >= reach["weight_change_unreachable_floor"] - 1e-9
        and reach["weight_change_unreachable_floor"] > 0.05
    )
    return CheckResult(
        passed=passed,
        quantity="max |g(x+δ) − (g(x) + W*δ)|",
        value=residual,
        criterion=(
            f"≤ {TOLERANCE:g}; padding program exactly 0 outside the frame's receptive field and non-zero on it; "
            "reachable dimension ≤ C_in·H·W < output dimension; a weight change is not reachable"
        ),
        measurements={
            "frame_outside_receptive_field_max": outside,
            "frame_receptive_field_min": inside,
            **reach,
        },
        instances=count + frames + 1,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
