"""A prefix cannot change the relative attention over the content (Petrov, Torr, Bibi, ICLR 2024, Sec. 4).

(a) exact: with prefix keys/values (S_k, S_v) the prefixed attention weights A^pt over the content satisfy
    A^pt_ij / A^pt_ik = A_ij / A_ik, and the output is t^pt_i = (1 - α_i) t_i + α_i Attn(q_i, S_k, S_v),
    α_i the attention mass on the prefix (for one prefix token: a bias in the fixed direction S_v).
(b) consequence, trained: a frozen attention layer whose task needs a new attention pattern (read the
    first token's content at the last position). A prefix cannot learn it; a rank-1 LoRA on W_K with fewer
    trainable parameters can. The broken variant ``position-prompt`` replaces the prefix by an additive
    per-position input program, which does change the relative attention and learns the task, so the
    check would fail (the training is able to learn when the mechanism allows it).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, attention, generator, log_mass, max_abs, randint, randn, seeds, train

IDENTITY_TOLERANCE = 1e-12
PREFIX_FLOOR = 0.5
"""The prefix's normalised MSE must stay at or above this (the frozen layer alone gives about 1 − 1/n)."""
LORA_CEILING = 0.05
"""The LoRA's normalised MSE must reach this or below."""


def relative_attention_residual(thorough: bool, seed: int, variant: str | None) -> tuple[float, float, int]:
    count = 100 if thorough else 20
    ratio_error, output_error = 0.0, 0.0
    for instance in seeds(seed, count):
        gen = generator(instance)
        m, n, l, d = randint(gen, 1, 6), randint(gen, 2, 12), randint(gen, 1, 6), randint(gen, 2, 16)
        queries, keys, values = randn(gen, m, d), randn(gen, n, d), randn(gen, n, d)
        prefix_keys, prefix_values = randn(gen, l, d, scale=2.0), randn(gen, l, d)
        scores = torch.cat([prefix_keys, keys]) @ queries.T / math.sqrt(d)
        weights = torch.softmax(scores, dim=0).T  # (m, l + n)
        content, original = weights[:, l:], torch.softmax(queries @ keys.T / math.sqrt(d), dim=-1)
        # relative attention: renormalising the content part of A^pt gives back A exactly
        ratio_error = max(ratio_error, max_abs(content / content.sum(-1, keepdim=True), original))
        alpha = torch.sigmoid(log_mass(queries, prefix_keys) - log_mass(queries, keys))[:, None]
        if variant == "wrong-gate":  # the mass on the first content token instead of on the prefix
            alpha = content[:, :1]
        predicted = (1 - alpha) * attention(queries, keys, values) + alpha * attention(
            queries, prefix_keys, prefix_values
        )
        full = attention(queries, torch.cat([prefix_keys, keys]), torch.cat([prefix_values, values]))
        output_error = max(output_error, max_abs(full, predicted))
    return ratio_error, output_error, count


def _copy_task(gen: torch.Generator, positions: int, content: int, samples: int) -> tuple[Tensor, Tensor]:
    """Tokens x_j = [u_j; e_j] (u_j ~ N(0, I) content, e_j one-hot position); target y = u_1."""
    values = randn(gen, samples, positions, content)
    onehots = torch.eye(positions, dtype=DTYPE).expand(samples, positions, positions)
    return torch.cat([values, onehots], dim=-1), values[:, 0]


def trained_losses(thorough: bool, seed: int, variant: str | None) -> dict[str, Any]:
    gen = generator(10_000 + seed)
    positions, content, d_head = (10, 4, 8)
    d = positions + content
    tokens, target = _copy_task(gen, positions, content, 512 if thorough else 128)
    w_q, w_k = randn(gen, d, d_head, scale=d**-0.5), randn(gen, d, d_head, scale=d**-0.5)
    w_v = torch.zeros(d, content, dtype=DTYPE)
    w_v[:content] = torch.eye(content, dtype=DTYPE)  # the value is the token's content

    def head(
        x: Tensor,
        keys_extra: Optional[Tensor] = None,
        values_extra: Optional[Tensor] = None,
        w_k_delta: Optional[Tensor] = None,
        x_delta: Optional[Tensor] = None,
    ) -> Tensor:
        if x_delta is not None:
            x = x + x_delta
        q = x[:, -1:] @ w_q  # (B, 1, d_h): the last position reads
        k = x @ (w_k if w_k_delta is None else w_k + w_k_delta)
        v = x @ w_v
        if keys_extra is not None and values_extra is not None:
            k = torch.cat([keys_extra.expand(x.shape[0], -1, -1), k], dim=1)
            v = torch.cat([values_extra.expand(x.shape[0], -1, -1), v], dim=1)
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d_head), dim=-1)
        return (weights @ v)[:, 0]

    def normalised(prediction: Tensor) -> Tensor:
        return ((prediction - target) ** 2).mean() / (target**2).mean()

    steps = 600 if thorough else 200
    with torch.no_grad():
        frozen = float(normalised(head(tokens)))
    prefix_losses, prefix_parameters = [], 0
    for length in (1, 4) if not thorough else (1, 2, 4, 8):
        if variant == "position-prompt":  # an additive program per position: changes the keys of each position
            delta = torch.zeros(1, positions, d, dtype=DTYPE, requires_grad=True)
            prefix_losses.append(train([delta], lambda: normalised(head(tokens, x_delta=delta)), steps, 0.05))
            prefix_parameters = max(prefix_parameters, delta.numel())
            continue
        s_k = (randn(gen, 1, length, d_head) * 0.1).requires_grad_()
        s_v = (randn(gen, 1, length, content) * 0.1).requires_grad_()
        prefix_losses.append(train([s_k, s_v], lambda: normalised(head(tokens, s_k, s_v)), steps, 0.05))
        prefix_parameters = max(prefix_parameters, s_k.numel() + s_v.numel())
    lora_a = (randn(gen, d, 1) * 0.1).requires_grad_()
    lora_b = torch.zeros(1, d_head, dtype=DTYPE, requires_grad=True)
    lora = train([lora_a, lora_b], lambda: normalised(head(tokens, w_k_delta=lora_a @ lora_b)), steps, 0.05)
    return {
        "frozen_normalised_mse": frozen,
        "prefix_normalised_mse_best": min(prefix_losses),
        "prefix_trainable_parameters_max": prefix_parameters,
        "lora_rank1_normalised_mse": lora,
        "lora_trainable_parameters": lora_a.numel() + lora_b.numel(),
    }


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    ratio_error, output_error, count = relative_attention_residual(thorough, seed, variant)
    identity_ok = max(ratio_error, output_error) <= IDENTITY_TOLERANCE
    losses: dict[str, Any]
    if not identity_ok:  # the exact part already fails: training cannot rescue the check
        losses = {"prefix_normalised_mse_best": float("nan"), "training": "skipped, the identity failed"}
    else:
        losses = trained_losses(thorough, seed, variant)
    limitation_ok = identity_ok and (
        losses["prefix_normalised_mse_best"] >= PREFIX_FLOOR and losses["lora_rank1_normalised_mse"] <= LORA_CEILING
    )
    return CheckResult(
        passed=identity_ok and limitation_ok,
        quantity="best prefix normalised MSE (LoRA rank 1 in measurements)",
        value=losses["prefix_normalised_mse_best"],
        criterion=(
            f"relative-attention and output residual ≤ {IDENTITY_TOLERANCE:g}; prefix MSE ≥ {PREFIX_FLOOR}; "
            f"LoRA MSE ≤ {LORA_CEILING}"
        ),
        measurements={"relative_attention_residual": ratio_error, "output_residual": output_error, **losses},
        instances=count + 1,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
