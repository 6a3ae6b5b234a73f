"""Zeroth-order gradient estimators for black-box reprogramming (access = zeroth-order).

Both satisfy the trainer's ``gradient_estimator`` protocol: ``estimate(reprogrammer, inputs, targets,
loss_fn)`` queries the reprogrammer's outputs only (no back-propagation through f), fills ``.grad`` of
every trainable parameter of I and O, and returns a loss value; ``queries`` counts the inputs sent to
the frozen model (a forward of a batch of B inputs counts B) and ``calls`` the batched forwards.

* :class:`RandomGradientEstimator`: random gradient-free estimation (RGF) of BAR (Tsai, Chen, Ho,
  "Transfer Learning without Knowing", ICML 2020, arXiv:2007.08714, Eq. 5):
  ``ĝ = (b / q) Σ_j [L(θ + β u_j) − L(θ)] / β · u_j`` with u_j uniform on the unit sphere and b = d
  (or Gaussian u_j and b = 1); q + 1 forwards per step.
* :class:`SPSAEstimator`: simultaneous perturbation stochastic approximation with gradient correction
  (SPSA-GC) of BlackVIP (Oh et al., CVPR 2023, arXiv:2303.14773, Eq. 4-5):
  ``ĝ = (1 / q) Σ_j [L(θ' + c Δ_j) − L(θ' − c Δ_j)] / (2c) · Δ_j`` with Rademacher Δ_j and the look-ahead
  point θ' = θ + β m, m the previous parameter update (Nesterov-style correction; β = 0 gives plain SPSA);
  2q forwards per step.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor, nn

__all__ = [
    "ZerothOrderEstimator",
    "RandomGradientEstimator",
    "SPSAEstimator",
    "true_gradient",
    "flat_gradient",
    "cosine_similarity",
    "expected_rgf_cosine",
]


def _trainable(module: nn.Module) -> list[nn.Parameter]:
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("reprogrammer: has no trainable parameters to estimate a gradient for")
    return params


def _flatten(params: list[Tensor]) -> Tensor:
    return torch.cat([p.detach().reshape(-1).float() for p in params])


@torch.no_grad()
def _add_(params: list[nn.Parameter], vector: Tensor, scale: float) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.add_(vector[offset : offset + n].view_as(p).to(p.dtype), alpha=scale)
        offset += n


def _set_grad(params: list[nn.Parameter], vector: Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = vector[offset : offset + n].view_as(p).to(p.dtype).clone()
        offset += n


class ZerothOrderEstimator:
    """Common bookkeeping: the query counters, the loss oracle and a seeded generator for directions."""

    def __init__(self, num_directions: int = 10, seed: int = 0):
        if num_directions < 1:
            raise ValueError(f"num_directions: expected ≥ 1, got {num_directions}")
        self.num_directions = int(num_directions)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.queries = 0
        self.calls = 0

    def reset(self) -> None:
        self.queries = self.calls = 0
        self.generator.manual_seed(self.seed)

    @torch.no_grad()
    def loss(self, reprogrammer: nn.Module, inputs: Any, targets: Tensor, loss_fn: Callable) -> float:
        """One black-box query of the whole batch: L(θ) = loss(O(f(I(x))), y)."""
        logits = reprogrammer(inputs)
        self.queries += int(targets.shape[0])
        self.calls += 1
        return float(loss_fn(logits.float(), targets))

    def _directions(self, dimension: int, device: torch.device) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_directions={self.num_directions}, queries={self.queries})"


class RandomGradientEstimator(ZerothOrderEstimator):
    """RGF (BAR): one-sided random differences along q directions, ``q + 1`` forwards per step.

    Args:
        num_directions: q.
        smoothing: β, the step of the finite difference.
        distribution: ``"sphere"`` (u uniform on the unit sphere, scaled by b = d, as in BAR) or
            ``"gaussian"`` (u ~ N(0, I), b = 1).
    """

    def __init__(self, num_directions: int = 10, smoothing: float = 0.01, distribution: str = "sphere", seed: int = 0):
        super().__init__(num_directions, seed)
        if smoothing <= 0:
            raise ValueError(f"smoothing: expected β > 0, got {smoothing}")
        if distribution not in ("sphere", "gaussian"):
            raise ValueError(f"distribution: expected 'sphere' or 'gaussian', got {distribution!r}")
        self.smoothing, self.distribution = float(smoothing), distribution

    def estimate(self, reprogrammer: nn.Module, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        params = _trainable(reprogrammer)
        d = sum(p.numel() for p in params)
        base = self.loss(reprogrammer, inputs, targets, loss_fn)
        gradient = torch.zeros(d, dtype=torch.float64)
        scale = float(d) if self.distribution == "sphere" else 1.0
        for _ in range(self.num_directions):
            u = torch.randn(d, generator=self.generator, dtype=torch.float64)
            if self.distribution == "sphere":
                u = u / u.norm()
            _add_(params, u.float().to(params[0].device), self.smoothing)
            try:
                perturbed = self.loss(reprogrammer, inputs, targets, loss_fn)
            finally:
                _add_(params, u.float().to(params[0].device), -self.smoothing)
            gradient += (perturbed - base) / self.smoothing * u
        gradient *= scale / self.num_directions
        _set_grad(params, gradient.float().to(params[0].device))
        return torch.tensor(base)


class SPSAEstimator(ZerothOrderEstimator):
    """SPSA with gradient correction (BlackVIP's SPSA-GC): two-sided Rademacher differences at a look-ahead point.

    Args:
        num_directions: q perturbations averaged per step (2q forwards).
        perturbation: c₀; the step at iteration t is c_t = c₀ / (t + 1)^γ.
        decay: γ (0.101 in Spall's recommendation; 0 keeps c constant).
        correction: β of the look-ahead θ + β m, m the last parameter update (0 disables the correction).
    """

    def __init__(
        self,
        num_directions: int = 1,
        perturbation: float = 0.01,
        decay: float = 0.0,
        correction: float = 0.9,
        seed: int = 0,
    ):
        super().__init__(num_directions, seed)
        if perturbation <= 0:
            raise ValueError(f"perturbation: expected c > 0, got {perturbation}")
        if not 0 <= correction < 1:
            raise ValueError(f"correction: expected 0 ≤ β < 1, got {correction}")
        self.perturbation, self.decay, self.correction = float(perturbation), float(decay), float(correction)
        self.step = 0
        self._previous: Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.step = 0
        self._previous = None

    def estimate(self, reprogrammer: nn.Module, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        params = _trainable(reprogrammer)
        device = params[0].device
        current = _flatten(params)
        momentum = torch.zeros_like(current)
        if self._previous is not None and self._previous.shape == current.shape and self.correction:
            momentum = (current - self._previous.to(current.device)) * self.correction
        self._previous = current.clone()
        c = self.perturbation / (self.step + 1) ** self.decay
        self.step += 1
        _add_(params, momentum, 1.0)  # look-ahead point θ + β m
        gradient = torch.zeros(current.numel(), dtype=torch.float64)
        losses = []
        try:
            for _ in range(self.num_directions):
                delta = torch.randint(0, 2, (current.numel(),), generator=self.generator).double() * 2 - 1
                step = delta.float().to(device)
                _add_(params, step, c)
                plus = self.loss(reprogrammer, inputs, targets, loss_fn)
                _add_(params, step, -2 * c)
                minus = self.loss(reprogrammer, inputs, targets, loss_fn)
                _add_(params, step, c)
                gradient += (plus - minus) / (2 * c) * delta
                losses += [plus, minus]
        finally:
            _add_(params, momentum, -1.0)
        _set_grad(params, (gradient / self.num_directions).float().to(device))
        return torch.tensor(sum(losses) / len(losses))


def true_gradient(reprogrammer: nn.Module, inputs: Any, targets: Tensor, loss_fn: Callable | None = None) -> Tensor:
    """The back-propagated gradient of the loss w.r.t. all trainable parameters, flattened (white-box reference)."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    params = _trainable(reprogrammer)
    for p in params:
        p.grad = None
    loss = loss_fn(reprogrammer(inputs).float(), targets)
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1).float() for g in grads])


def flat_gradient(reprogrammer: nn.Module) -> Tensor:
    """The ``.grad`` of all trainable parameters, flattened (after an ``estimate``)."""
    return torch.cat([p.grad.reshape(-1).float() for p in _trainable(reprogrammer)])


def cosine_similarity(a: Tensor, b: Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-30))


def expected_rgf_cosine(dimension: int, num_directions: int) -> float:
    """Rough large-d value of E[cos(ĝ, ∇L)] for RGF with exact differences: √(q / (q + d − 1))."""
    return math.sqrt(num_directions / (num_directions + dimension - 1))
