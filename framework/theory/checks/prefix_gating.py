"""Prefix tuning as gated interpolation (He et al., ICLR 2022, Sec. 3.1 / Eq. 7).

For a head with queries Q (m, d_h), content keys/values K, V (n, d_h) and prefix keys/values P_k, P_v (l, d_h):

    Attn(Q, [P_k; K], [P_v; V]) = (1 - λ(Q)) Attn(Q, K, V) + λ(Q) Attn(Q, P_k, P_v),
    λ(q) = Σ_i e^{q·P_k,i/√d} / (Σ_i e^{q·P_k,i/√d} + Σ_j e^{q·K_j/√d}).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import attention, generator, log_mass, max_abs, randint, randn, seeds

TOLERANCE = 1e-12


def gated_form(
    queries: Tensor,
    keys: Tensor,
    values: Tensor,
    prefix_keys: Tensor,
    prefix_values: Tensor,
    variant: str | None = None,
) -> Tensor:
    """The right-hand side: (1-λ)·Attn over the content + λ·Attn over the prefix alone, (m, d_h)."""
    log_prefix, log_content = log_mass(queries, prefix_keys), log_mass(queries, keys)
    gate = torch.sigmoid(log_prefix - log_content)  # Σ_P / (Σ_P + Σ_C), computed stably
    if variant == "wrong-gate":  # the prefix's share of the positions instead of its share of the attention mass
        gate = torch.full_like(gate, prefix_keys.shape[0] / (prefix_keys.shape[0] + keys.shape[0]))
    elif variant == "swapped-gate":
        gate = 1 - gate
    gate = gate[:, None]
    return (1 - gate) * attention(queries, keys, values) + gate * attention(queries, prefix_keys, prefix_values)


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    count = 200 if thorough else 30
    worst, gates = 0.0, []
    for instance in seeds(seed, count):
        gen = generator(instance)
        m, n, l = randint(gen, 1, 8), randint(gen, 1, 24 if thorough else 10), randint(gen, 1, 16 if thorough else 6)
        d_model, d_head = randint(gen, 2, 64 if thorough else 16), randint(gen, 1, 32 if thorough else 8)
        scale = float(torch.rand(1, generator=gen, dtype=torch.float64)) * 3 + 0.1
        x, context = randn(gen, m, d_model), randn(gen, n, d_model)
        w_q, w_k, w_v = (randn(gen, d_model, d_head, scale=scale / d_model**0.5) for _ in range(3))
        prefix_keys, prefix_values = randn(gen, l, d_head, scale=scale), randn(gen, l, d_head)
        queries, keys, values = x @ w_q, context @ w_k, context @ w_v
        full = attention(queries, torch.cat([prefix_keys, keys]), torch.cat([prefix_values, values]))
        worst = max(worst, max_abs(full, gated_form(queries, keys, values, prefix_keys, prefix_values, variant)))
        gates.append(float(torch.sigmoid(log_mass(queries, prefix_keys) - log_mass(queries, keys)).mean()))
    return CheckResult(
        passed=worst <= TOLERANCE,
        quantity="max |prefixed head − gated form|",
        value=worst,
        criterion=f"≤ {TOLERANCE:g}",
        measurements={"mean_gate_lambda": sum(gates) / len(gates), "min_gate": min(gates), "max_gate": max(gates)},
        instances=count,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
