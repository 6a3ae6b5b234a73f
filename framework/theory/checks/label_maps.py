"""Label mappings are fixed linear maps after their fit (the output alignment ω of the survey).

* RLM, FLM, ILM: ŷ = z ω with ω ∈ {0, 1}^{C_s×C_t}, exactly one 1 per column and at most one per row
  (RLM drawn before seeing data; FLM/ILM by greedy assignment on the joint counts d[s, t] of
  (argmax z, y));
* BLM, BLM+: ŷ = z ω with ω[s, t] = P̂(t|s) / Σ_s' P̂(t|s'), P̂(t|s) = d[s, t] / (Σ_t' d[s, t'] + λ), from the
  joint counts of the argmax (BLM) or of the top-k probabilities (BLM+): a column-stochastic matrix.

The check fits the implementations of ``implementations/reprogramming/label_mapping.py`` on random
logits, recomputes ω independently from its definition, and measures max |O(z) − z ω| and |ω − ω_ref|.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import DTYPE, generator, randint, randn, seeds

TOLERANCE = 1e-12


def _counts(outputs: Tensor, targets: Tensor, num_source: int, num_target: int, top_k: int | None = None) -> Tensor:
    """Joint counts d (C_s, C_t) from one-hot argmax (``top_k`` None) or the kept top-k probabilities."""
    if top_k is None:
        weights = torch.nn.functional.one_hot(outputs.argmax(1), num_source).to(DTYPE)
    else:
        probabilities = torch.softmax(outputs.float(), dim=1)
        values, index = probabilities.topk(top_k, dim=1)
        weights = torch.zeros_like(probabilities).scatter(1, index, values).to(DTYPE)
    return weights.T @ torch.nn.functional.one_hot(targets, num_target).to(DTYPE)


def _bayes(counts: Tensor, laplace: float, variant: str | None) -> Tensor:
    conditional = counts / (counts.sum(1, keepdim=True) + laplace)
    axis = 1 if variant == "row-normalised" else 0  # the broken variant normalises over targets
    return conditional / conditional.sum(axis, keepdim=True)


def _is_assignment(omega: Tensor) -> bool:
    binary = bool(((omega == 0) | (omega == 1)).all())
    return binary and bool((omega.sum(0) == 1).all()) and bool((omega.sum(1) <= 1).all())


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    from reprogrammability.implementations.reprogramming import label_mapping as lm

    count = 40 if thorough else 10
    linear_error, omega_error, structure_ok = 0.0, 0.0, True
    for instance in seeds(seed, count):
        gen = generator(instance)
        num_target = randint(gen, 2, 10)
        num_source = randint(gen, num_target, 40 if thorough else 20)
        samples = randint(gen, 3 * num_target, 200)
        outputs = randn(gen, samples, num_source, scale=3.0)
        targets = torch.cat(
            [torch.arange(num_target), torch.randint(0, num_target, (samples - num_target,), generator=gen)]
        )
        probe = randn(gen, 7, num_source)
        laplace = float(torch.rand(1, generator=gen, dtype=DTYPE)) * 2
        top_k = randint(gen, 1, num_source)
        mappings: dict[str, Any] = {
            "RLM": lm.RandomLabelMapping(num_source, num_target, seed=instance),
            "FLM": lm.FrequencyLabelMapping(num_source, num_target).double(),
            "ILM": lm.IterativeLabelMapping(num_source, num_target).double(),
            "BLM": lm.BayesianLabelMapping(num_source, num_target, laplace=laplace + 0.1).double(),
            "BLM+": lm.BayesianLabelMappingPlus(num_source, num_target, top_k=top_k, laplace=laplace + 0.1).double(),
        }
        for name, mapping in mappings.items():
            mapping.fit(outputs, targets)
            if name == "RLM":
                omega = torch.zeros(num_source, num_target, dtype=DTYPE)
                omega[mapping.sequence, torch.arange(num_target)] = 1.0
                reference = omega
            else:
                omega = mapping.omega
                counts = _counts(outputs, targets, num_source, num_target, top_k if name == "BLM+" else None)
                if name in ("FLM", "ILM"):
                    scores = -counts if variant == "least-frequent" else counts  # broken: the rarest pairs
                    reference = lm.one_hot_mapping(lm.greedy_one_to_one(scores), num_source).to(DTYPE)
                else:
                    reference = _bayes(counts, mapping.laplace, variant)
            if name in ("RLM", "FLM", "ILM"):
                structure_ok &= _is_assignment(reference)
            else:
                structure_ok &= bool((reference >= 0).all()) and bool(
                    torch.allclose(reference.sum(0), torch.ones(num_target, dtype=DTYPE))
                )
            with torch.no_grad():
                linear_error = max(linear_error, float((mapping(probe) - probe @ reference).abs().max()))
            omega_error = max(omega_error, float((omega.to(DTYPE) - reference).abs().max()))
    worst = max(linear_error, omega_error)
    return CheckResult(
        passed=worst <= TOLERANCE and structure_ok,
        quantity="max |O_ω(z) − z ω_ref| and |ω − ω_ref|",
        value=worst,
        criterion=f"≤ {TOLERANCE:g}; RLM/FLM/ILM ω a 0/1 assignment, BLM/BLM+ ω column-stochastic",
        measurements={
            "linear_map_residual": linear_error,
            "omega_residual": omega_error,
            "structure_holds": structure_ok,
        },
        instances=count * 5,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
