"""Shared pieces of the checks: seeded float64 random instances and single-head softmax attention."""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Iterator

import torch
from torch import Tensor

DTYPE = torch.float64


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=DTYPE) * scale


def randint(gen: torch.Generator, low: int, high: int) -> int:
    """An int in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def seeds(seed: int, count: int) -> Iterator[int]:
    """``count`` instance seeds derived from ``seed``."""
    return iter(range(1000 * seed, 1000 * seed + count))


def attention(queries: Tensor, keys: Tensor, values: Tensor) -> Tensor:
    """softmax(Q Kᵀ/√d_k) V: Q (m, d_k), K (n, d_k), V (n, d_v) → (m, d_v)."""
    scores = queries @ keys.T / math.sqrt(keys.shape[-1])
    return torch.softmax(scores, dim=-1) @ values


def log_mass(queries: Tensor, keys: Tensor) -> Tensor:
    """log Σ_j exp(q·k_j/√d_k) per query: (m,)."""
    return torch.logsumexp(queries @ keys.T / math.sqrt(keys.shape[-1]), dim=-1)


def max_abs(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max())


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one CPU thread (the instances are tiny; more threads only add overhead)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(parameters: list[Tensor], loss_fn: Callable[[], Tensor], steps: int, lr: float) -> float:
    """Adam on ``loss_fn()`` for ``steps`` steps; returns the final loss (float64 instances, CPU)."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    with one_thread():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
        with torch.no_grad():
            return float(loss_fn())
