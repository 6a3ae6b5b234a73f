"""In-context learning with linear self-attention = one step of gradient descent (von Oswald et al., ICML 2023).

Tokens e_i = (x_i, y_i) ∈ R^{d_x + d_y}, i = 1..N, and the query token e_q = (x_q, −W_0 x_q). One linear
self-attention layer e_j ← e_j + P W_V Σ_i e_i (W_K e_i)ᵀ (W_Q e_j) over the N context tokens, with
W_K = W_Q = [[I, 0], [0, 0]], W_V = [[0, 0], [W_0, −I]], P = (η/N) I, moves the label slot of every token by
ΔW x_j, ΔW = η ∇_W L(W_0), L(W) = 1/(2N) Σ_i ‖W x_i − y_i‖²; the query's label slot becomes −(W_0 − η∇L(W_0)) x_q,
i.e. minus the prediction of the linear model after one gradient-descent step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, generator, max_abs, randint, randn, seeds

TOLERANCE = 1e-11


def linear_self_attention(
    tokens: Tensor, context: Tensor, w_k: Tensor, w_q: Tensor, w_v: Tensor, projection: Tensor
) -> Tensor:
    """e_j + P W_V Σ_i e_i (W_K e_i)ᵀ (W_Q e_j) for every row e_j of ``tokens`` (keys/values from ``context``)."""
    keys, values = context @ w_k.T, context @ w_v.T  # (N, d)
    queries = tokens @ w_q.T
    return tokens + (queries @ keys.T @ values) @ projection.T


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    count = 100 if thorough else 25
    worst, worst_context = 0.0, 0.0
    for instance in seeds(seed, count):
        gen = generator(instance)
        d_x, d_y, n = (
            randint(gen, 1, 12 if thorough else 6),
            randint(gen, 1, 4),
            randint(gen, 1, 64 if thorough else 16),
        )
        eta = float(torch.rand(1, generator=gen, dtype=DTYPE)) + 0.05
        x, w_true, w_0 = randn(gen, n, d_x), randn(gen, d_y, d_x), randn(gen, d_y, d_x, scale=0.5)
        y = x @ w_true.T + randn(gen, n, d_y, scale=0.1)
        x_q = randn(gen, 5, d_x)
        d = d_x + d_y
        w_k = torch.zeros(d, d, dtype=DTYPE)
        w_k[:d_x, :d_x] = torch.eye(d_x, dtype=DTYPE)
        w_v = torch.zeros(d, d, dtype=DTYPE)
        w_v[d_x:, :d_x] = w_0
        w_v[d_x:, d_x:] = torch.eye(d_y, dtype=DTYPE) * (1.0 if variant == "wrong-sign" else -1.0)
        scale = eta if variant == "wrong-normalisation" else eta / n
        projection = scale * torch.eye(d, dtype=DTYPE)
        context = torch.cat([x, y], dim=1)
        queries = torch.cat([x_q, -x_q @ w_0.T], dim=1)
        # gradient descent on the in-context least-squares loss
        gradient = (x @ w_0.T - y).T @ x / n  # ∇_W L(W_0), (d_y, d_x)
        w_1 = w_0 - eta * gradient
        out_queries = linear_self_attention(queries, context, w_k, w_k, w_v, projection)
        out_context = linear_self_attention(context, context, w_k, w_k, w_v, projection)
        worst = max(worst, max_abs(-out_queries[:, d_x:], x_q @ w_1.T), max_abs(out_queries[:, :d_x], x_q))
        worst_context = max(worst_context, max_abs(out_context[:, d_x:], y + x @ (eta * gradient).T))
    value = max(worst, worst_context)
    return CheckResult(
        passed=value <= TOLERANCE,
        quantity="max |−LSA(e_q)_y − W_1 x_q| and context-token residual",
        value=value,
        criterion=f"≤ {TOLERANCE:g}",
        measurements={"query_residual": worst, "context_residual": worst_context},
        instances=count,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
