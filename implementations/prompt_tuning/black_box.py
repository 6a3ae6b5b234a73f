"""Black-box tuning (Sun et al., "Black-Box Tuning for Language-Model-as-a-Service", ICML 2022, arXiv 2201.03514).

The prompt is a random projection of a low-dimensional vector, ``P = A z + P₀`` with z ∈ R^d,
A ∈ R^{(L_p·D) × d} fixed, drawn from N(0, σ²) with σ = σ̂ / (√d · σ_z) (σ̂: standard deviation of
the model's word embeddings, σ_z: the search distribution's initial step size), and P₀ a fixed
initial prompt. Only z is optimised, by a derivative-free method on the model's outputs alone;
the paper uses CMA-ES. :class:`CMAES` is the standard (μ/μ_w, λ)-CMA-ES with cumulative step-size
adaptation and rank-one plus rank-μ covariance updates (Hansen, "The CMA Evolution Strategy: A
Tutorial", arXiv 1604.00772). Every evaluation of a candidate z on a batch counts one query.

For the framework's generic trainer (one update per batch), :class:`EvolutionStrategyEstimator`
gives a zeroth-order gradient of the same black-box loss (antithetic Gaussian smoothing); the BBT
build attaches one as ``reprogrammer.gradient_estimator``. The paper's optimiser is CMA-ES:
:func:`fit_black_box`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x

from .soft_prompt import resolve_position

__all__ = ["ProjectedPrompt", "CMAES", "EvolutionStrategyEstimator", "fit_black_box", "projection_std"]


def projection_std(embedding_std: float, subspace_dim: int, sigma: float) -> float:
    """σ = σ̂ / (√d · σ_z) for the entries of A."""
    return embedding_std / (math.sqrt(subspace_dim) * sigma)


class ProjectedPrompt(InputManipulation):
    """``[A z + P₀; E(x)]``: a prompt (L_p, D) from z (d,) through a fixed projection A (buffer).

    Trainable parameters: d (found by a derivative-free optimiser; the model is never differentiated).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(
        self,
        length: int,
        dim: int,
        subspace_dim: int,
        *,
        projection_std: float,
        initial_prompt: Tensor | None = None,
        position: int | str = 0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if length <= 0 or dim <= 0 or subspace_dim <= 0:
            raise ValueError(f"length/dim/subspace_dim: expected positive sizes, got {length}, {dim}, {subspace_dim}")
        self.z = nn.Parameter(torch.zeros(subspace_dim))
        self.register_buffer(
            "projection", torch.randn(length * dim, subspace_dim, generator=generator) * projection_std
        )
        initial = torch.zeros(length, dim) if initial_prompt is None else initial_prompt.detach().clone().float()
        if initial.shape != (length, dim):
            raise ShapeError(f"initial_prompt: expected shape ({length}, {dim}), got {tuple(initial.shape)}")
        self.register_buffer("initial_prompt", initial)
        self.length, self.dim, self.position = length, dim, position

    def prompts(self, z: Tensor | None = None) -> Tensor:
        """A z + P₀ (L_p, D), for the part's z or a given one."""
        z = self.z if z is None else z
        return (self.projection @ z.to(self.projection.dtype)).view(self.length, self.dim) + self.initial_prompt

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.insert(self.prompts().to(state.embeds.dtype), resolve_position(self.position, state.length))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p more positions; the prompt ``A z + p_0`` is a matrix-vector product (L_p·D·d multiply-adds,
        which the counter does not count as FLOPs: listed as element-wise)."""
        length, dim, sub = symbols("L_p D d_z")
        shapes = {length: self.length, dim: self.dim, sub: self.z.numel()}
        overhead = context.extra_positions(length, shapes, "projected prompt positions")
        return overhead + InferenceOverhead(elementwise=length * dim * sub, shapes=shapes)

    def symbolic(self) -> SymbolicForm:
        (d,) = symbols("d")
        A, zs, P0 = sp.Symbol("A"), sp.Symbol("z"), sp.Symbol("P_0")
        return SymbolicForm(
            concat(A * zs + P0, x),
            d,
            {d: self.z.numel()},
            description="BBT: prompt from a random projection of a low-dimensional z",
        )


class CMAES:
    """Minimise f: R^d → R with CMA-ES (population λ, initial mean m₀ and step size σ₀).

    ``ask()`` returns λ candidates (λ, d); ``tell(candidates, values)`` updates the search
    distribution N(m, σ² C). Default strategy parameters follow Hansen's tutorial.
    """

    def __init__(self, mean: Tensor, sigma: float = 1.0, population: int | None = None, seed: int = 0):
        if mean.dim() != 1:
            raise ShapeError(f"mean: expected shape (d,), got {tuple(mean.shape)}")
        if sigma <= 0:
            raise ValueError(f"sigma: expected a positive step size, got {sigma}")
        n = mean.numel()
        self.n = n
        self.mean = mean.detach().double().clone()
        self.sigma = float(sigma)
        self.lam = population or 4 + int(3 * math.log(n))
        if self.lam < 2:
            raise ValueError(f"population: expected at least 2 candidates, got {self.lam}")
        self.mu = self.lam // 2
        w = torch.tensor([math.log(self.mu + 0.5) - math.log(i + 1) for i in range(self.mu)], dtype=torch.float64)
        self.weights = w / w.sum()
        self.mueff = float(1.0 / (self.weights**2).sum())
        self.cc = (4 + self.mueff / n) / (n + 4 + 2 * self.mueff / n)
        self.cs = (self.mueff + 2) / (n + self.mueff + 5)
        self.c1 = 2 / ((n + 1.3) ** 2 + self.mueff)
        self.cmu = min(1 - self.c1, 2 * (self.mueff - 2 + 1 / self.mueff) / ((n + 2) ** 2 + self.mueff))
        self.damps = 1 + 2 * max(0.0, math.sqrt((self.mueff - 1) / (n + 1)) - 1) + self.cs
        self.chiN = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.pc = torch.zeros(n, dtype=torch.float64)
        self.ps = torch.zeros(n, dtype=torch.float64)
        self.B = torch.eye(n, dtype=torch.float64)
        self.D = torch.ones(n, dtype=torch.float64)
        self.C = torch.eye(n, dtype=torch.float64)
        self.invsqrtC = torch.eye(n, dtype=torch.float64)
        self.generation = 0
        self.evaluations = 0
        self._eigen_at = 0
        self.generator = torch.Generator().manual_seed(seed)
        self.best: tuple[float, Tensor] = (math.inf, self.mean.clone())

    def ask(self) -> Tensor:
        noise = torch.randn(self.lam, self.n, generator=self.generator, dtype=torch.float64)
        return self.mean + self.sigma * (noise * self.D) @ self.B.t()

    def tell(self, candidates: Tensor, values: Sequence[float]) -> None:
        values_t = torch.as_tensor(list(values), dtype=torch.float64)
        if candidates.shape != (self.lam, self.n) or values_t.numel() != self.lam:
            raise ShapeError(f"candidates/values: expected ({self.lam}, {self.n}) and {self.lam} values")
        self.evaluations += self.lam
        order = torch.argsort(values_t)
        if float(values_t[order[0]]) < self.best[0]:
            self.best = (float(values_t[order[0]]), candidates[order[0]].double().clone())
        selected = candidates[order[: self.mu]].double()
        old = self.mean
        self.mean = self.weights @ selected
        step = (self.mean - old) / self.sigma
        n = self.n
        self.ps = (1 - self.cs) * self.ps + math.sqrt(self.cs * (2 - self.cs) * self.mueff) * (self.invsqrtC @ step)
        norm_ps = float(self.ps.norm())
        hsig = norm_ps / math.sqrt(1 - (1 - self.cs) ** (2 * (self.generation + 1))) / self.chiN < 1.4 + 2 / (n + 1)
        self.pc = (1 - self.cc) * self.pc + float(hsig) * math.sqrt(self.cc * (2 - self.cc) * self.mueff) * step
        artmp = (selected - old) / self.sigma  # (μ, n)
        rank_mu = artmp.t() @ torch.diag(self.weights) @ artmp
        self.C = (
            (1 - self.c1 - self.cmu) * self.C
            + self.c1 * (torch.outer(self.pc, self.pc) + (1 - float(hsig)) * self.cc * (2 - self.cc) * self.C)
            + self.cmu * rank_mu
        )
        self.sigma *= math.exp((self.cs / self.damps) * (norm_ps / self.chiN - 1))
        self.generation += 1
        if self.evaluations - self._eigen_at > self.lam / (self.c1 + self.cmu) / n / 10:
            self._eigen_at = self.evaluations
            self.C = (self.C + self.C.t()) / 2
            eigenvalues, self.B = torch.linalg.eigh(self.C)
            self.D = eigenvalues.clamp_min(1e-20).sqrt()
            self.invsqrtC = self.B @ torch.diag(1 / self.D) @ self.B.t()


class EvolutionStrategyEstimator:
    """Zeroth-order gradient from outputs only, by antithetic Gaussian smoothing (an evolution strategy):

        ĝ = 1/(2nσ) Σ_i [L(θ + σ u_i) − L(θ − σ u_i)] u_i,   u_i ~ N(0, I)

    over the reprogrammer's trainable parameters θ; fills their ``.grad`` and returns L(θ). 2n + 1
    batch evaluations (queries) per call. Satisfies the trainer's ``gradient_estimator`` protocol.
    """

    def __init__(self, num_samples: int = 10, sigma: float = 0.1, seed: int = 0):
        if num_samples < 1 or sigma <= 0:
            raise ValueError(f"num_samples/sigma: expected n ≥ 1 and σ > 0, got {num_samples}, {sigma}")
        self.num_samples, self.sigma, self.seed = int(num_samples), float(sigma), int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.queries = 0

    @torch.no_grad()
    def _loss(self, reprogrammer: Any, inputs: Any, targets: Tensor, loss_fn: Callable) -> float:
        self.queries += 1
        return float(loss_fn(reprogrammer(inputs).float(), targets))

    @torch.no_grad()
    def estimate(self, reprogrammer: Any, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        params = [p for p in reprogrammer.parameters() if p.requires_grad]
        if not params:
            raise ValueError("reprogrammer: has no trainable parameters to estimate a gradient for")
        flat = torch.cat([p.detach().reshape(-1).double().cpu() for p in params])

        def assign(vector: Tensor) -> None:
            offset = 0
            for p in params:
                p.copy_(vector[offset : offset + p.numel()].view_as(p).to(p))
                offset += p.numel()

        base = self._loss(reprogrammer, inputs, targets, loss_fn)
        gradient = torch.zeros_like(flat)
        try:
            for _ in range(self.num_samples):
                u = torch.randn(flat.numel(), generator=self.generator, dtype=torch.float64)
                assign(flat + self.sigma * u)
                plus = self._loss(reprogrammer, inputs, targets, loss_fn)
                assign(flat - self.sigma * u)
                minus = self._loss(reprogrammer, inputs, targets, loss_fn)
                gradient += (plus - minus) * u
        finally:
            assign(flat)
        gradient /= 2 * self.num_samples * self.sigma
        offset = 0
        for p in params:
            p.grad = gradient[offset : offset + p.numel()].view_as(p).to(p).clone()
            offset += p.numel()
        return torch.tensor(base)


@torch.no_grad()
def fit_black_box(
    reprogrammer: Any,
    inputs: Any,
    targets: Tensor,
    *,
    budget: int = 8000,
    population: int = 20,
    sigma: float = 1.0,
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Optimise the z of ``reprogrammer``'s :class:`ProjectedPrompt` with CMA-ES on (inputs, targets).

    Every candidate is evaluated on the whole given set (BBT's few-shot training set): one query.
    Stops after ``budget`` queries; z is set to the best candidate seen. Returns the loss history
    (best per generation), the number of queries and the best loss.
    """
    parts = [m for m in reprogrammer.inputs if isinstance(m, ProjectedPrompt)]
    if len(parts) != 1:
        raise ValueError("reprogrammer: expected exactly one ProjectedPrompt part")
    part = parts[0]
    loss_fn = loss_fn or F.cross_entropy
    strategy = CMAES(part.z.detach().cpu(), sigma=sigma, population=population, seed=seed)
    history, queries = [], 0
    was_training = reprogrammer.training
    reprogrammer.eval()
    try:
        while queries + strategy.lam <= budget:
            candidates = strategy.ask()
            values = []
            for candidate in candidates:
                part.z.copy_(candidate.to(part.z))
                values.append(float(loss_fn(reprogrammer(inputs).float(), targets)))
                queries += 1
            strategy.tell(candidates, values)
            history.append(min(values))
    finally:
        part.z.copy_(strategy.best[1].to(part.z))
        reprogrammer.train(was_training)
    return {"history": history, "queries": queries, "best_loss": strategy.best[0]}
