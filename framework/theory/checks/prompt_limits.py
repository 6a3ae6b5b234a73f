"""A dataset no prompt memorises on a fixed single-layer transformer (Wang et al., NeurIPS 2023).

Layer: τ(X)_j = f(Att(x_j, [P; X]) + x_j), one softmax head, f an invertible position-wise MLP. For two
sequences X_1 = [x_1, x_0], X_2 = [x_2, x_0] sharing the token x_0, prompt tuning can only reach, at x_0,

    Att(x_0, [P; X_i]) = λ_i Att(x_0, X_i) + (1 − λ_i) Att(x_0, P),   λ_i ∈ (0, 1],

the same point c = Att(x_0, P) for both sequences. Memorising targets y_i at x_0 needs
t_i = f^{-1}(y_i) − x_0 on the ray from a_i = Att(x_0, X_i) towards c, so c must lie on both rays
{a_i + s (t_i − a_i), s ≥ 1}. When the two rays do not meet (generic in d ≥ 3), no prompt of any length
memorises the dataset; a rank-2 LoRA on W_V does.

The check (1) verifies the decomposition to float64 precision, (2) computes the smallest error any (c, λ)
could reach, E* = min_{c, λ ∈ [0,1]^2} Σ_i ‖λ_i a_i + (1−λ_i) c − t_i‖² (closed-form c on an 801×801 grid of
λ, which approximates the minimum from above; the comparison with the trained prompts allows a relative slack
of 10⁻³), (3) trains prompts of several lengths on the actual layer and solves a rank-2 update of W_V
in closed form.
The broken variant ``meeting-rays`` builds targets whose rays meet at a common c: then the lower bound
vanishes and the limitation check fails.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, attention, generator, log_mass, max_abs, one_thread, randn, train

IDENTITY_TOLERANCE = 1e-12
FLOOR = 1e-2
"""The memorisation error bound E* (relative to Σ‖t_i‖²) must exceed this."""


def _rays_lower_bound(anchors: Tensor, targets: Tensor, grid: int = 801) -> float:
    """min over λ ∈ [0,1]^2 and c of Σ_i ‖λ_i a_i + (1−λ_i) c − t_i‖² (a_i, t_i rows of (2, d))."""
    s = torch.linspace(0, 1, grid, dtype=DTYPE)  # s_i = 1 − λ_i, the weight on c
    s1, s2 = torch.meshgrid(s, s, indexing="ij")
    weights = torch.stack([s1, s2], dim=-1)  # (g, g, 2)
    residual = targets - anchors  # u_i = t_i − a_i; error_i = ‖s_i (c − a_i) − u_i‖²
    # for fixed s, the optimal c solves Σ_i s_i (s_i (c − a_i) − u_i) = 0
    numerator = torch.einsum("abi,id->abd", weights**2, anchors) + torch.einsum("abi,id->abd", weights, residual)
    denominator = (weights**2).sum(-1, keepdim=True)
    c = torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), anchors.mean(0))
    error = ((weights[..., None] * (c[..., None, :] - anchors) - residual) ** 2).sum((-1, -2))
    return float(error.min())


Weights = tuple[Tensor, Tensor, Tensor]


def _instance(
    gen: torch.Generator, d: int, variant: Optional[str]
) -> tuple[Weights, Tensor, list[Tensor], Tensor, Tensor]:
    w_q, w_k, w_v = (randn(gen, d, d, scale=d**-0.5) for _ in range(3))
    x0, x1, x2 = randn(gen, 3, d).unbind(0)
    sequences = [torch.stack([x1, x0]), torch.stack([x2, x0])]
    anchors = torch.stack([attention((x0 @ w_q)[None], s @ w_k, s @ w_v)[0] for s in sequences])
    if variant == "meeting-rays":  # targets reachable by a common c: λ_i a_i + (1 − λ_i) c
        c, lam = randn(gen, d), torch.tensor([[0.4], [0.7]], dtype=DTYPE)
        targets = lam * anchors + (1 - lam) * c
    else:
        # rays a_i + s n_i with n_1, n_2 orthonormal and orthogonal to a_1 − a_2: skew lines at distance ‖a_1 − a_2‖
        basis = torch.linalg.qr(torch.cat([(anchors[0] - anchors[1])[:, None], randn(gen, d, 2)], dim=1)).Q
        length = 1.0 + float(torch.rand(1, generator=gen, dtype=DTYPE))
        targets = anchors + length * basis[:, 1:].T
    return (w_q, w_k, w_v), x0, sequences, anchors, targets


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    d = 4 if not thorough else 8
    gen = generator(20_000 + seed)
    # (1) the decomposition, on random instances with random prompts
    identity = 0.0
    for _ in range(30 if thorough else 10):
        (w_q, w_k, w_v), x0, sequences, anchors, _ = _instance(gen, d, None)
        prompt = randn(gen, 1 + int(torch.randint(0, 6, (1,), generator=gen)), d, scale=2.0)
        q = (x0 @ w_q)[None]
        for sequence, anchor in zip(sequences, anchors):
            full = attention(q, torch.cat([prompt, sequence]) @ w_k, torch.cat([prompt, sequence]) @ w_v)[0]
            lam = torch.sigmoid(log_mass(q, sequence @ w_k) - log_mass(q, prompt @ w_k))
            rhs = lam * anchor + (1 - lam) * attention(q, prompt @ w_k, prompt @ w_v)[0]
            identity = max(identity, max_abs(full, rhs))
    # (2) the lower bound on the counterexample, (3) training
    (w_q, w_k, w_v), x0, sequences, anchors, targets = _instance(gen, d, variant)
    scale = float((targets**2).sum())
    bound = _rays_lower_bound(anchors, targets) / scale
    q = (x0 @ w_q)[None]

    def attention_error(prompt: Optional[Tensor] = None, lora: Optional[tuple[Tensor, Tensor]] = None) -> Tensor:
        error = torch.zeros((), dtype=DTYPE)
        v_weight = w_v if lora is None else w_v + lora[0] @ lora[1]
        for sequence, target in zip(sequences, targets):
            tokens = sequence if prompt is None else torch.cat([prompt, sequence])
            error = error + ((attention(q, tokens @ w_k, tokens @ v_weight)[0] - target) ** 2).sum()
        return error / scale

    prompt_errors: dict[int, float] = {}
    steps = 1500 if thorough else 300
    if bound <= FLOOR:  # no limitation to confirm: the dataset is (nearly) memorisable, skip the training
        return CheckResult(
            passed=False,
            quantity="lower bound E* on any prompt's memorisation error (relative)",
            value=bound,
            criterion=f"E* > {FLOOR:g}",
            measurements={"decomposition_residual": identity, "training": "skipped, no positive lower bound"},
            instances=(30 if thorough else 10) + 1,
            thorough=thorough,
            seed=seed,
            variant=variant,
        )
    with one_thread():
        for length in (1, 2, 8) if not thorough else (1, 2, 4, 8, 16):
            prompt = randn(gen, length, d).requires_grad_()
            prompt_errors[length] = train([prompt], lambda: attention_error(prompt), steps, 0.05)
    # a rank-2 update Δ of W_V in closed form: Att changes by m_i Δ, m_i the attention-weighted token mean
    means = torch.stack([torch.softmax(q @ (s @ w_k).T / math.sqrt(d), dim=-1)[0] @ s for s in sequences])
    delta = torch.linalg.pinv(means) @ (targets - anchors)  # (d, d) with m_i Δ = t_i − a_i, rank ≤ 2
    lora_rank = int(torch.linalg.matrix_rank(delta))
    lora_error = float(attention_error(lora=(delta, torch.eye(d, dtype=DTYPE))))
    best_prompt = min(prompt_errors.values())
    passed = (
        identity <= IDENTITY_TOLERANCE
        and bound > FLOOR
        and best_prompt >= bound * (1 - 1e-3) - 1e-9
        and lora_error <= 1e-20
        and lora_rank <= 2
    )
    return CheckResult(
        passed=passed,
        quantity="lower bound E* on any prompt's memorisation error (relative)",
        value=bound,
        criterion=(
            f"decomposition residual ≤ {IDENTITY_TOLERANCE:g}; E* > {FLOOR:g}; every trained prompt's error ≥ E*; "
            "a rank-2 update of W_V memorises (error ≤ 1e-20)"
        ),
        measurements={
            "decomposition_residual": identity,
            **{f"prompt_length_{k}_error": v for k, v in prompt_errors.items()},
            "lora_rank2_error": lora_error,
            "lora_rank": lora_rank,
            "prompt_parameters_max": max(prompt_errors) * d,
            "lora_parameters": 4 * d,
        },
        instances=(30 if thorough else 10) + 1,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
