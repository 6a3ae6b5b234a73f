"""Output label mappings for model reprogramming (ω).

Each maps source logits z (B, C_s) to target logits ``z ω`` with ω (C_s, C_t), or reads fixed source
indices. The statistical ones are estimated from ``(z, y)`` pairs (no gradient parameters; ω is a buffer):

* FLM, frequency label mapping (Tsai, Chen, Ho, "Transfer Learning without Knowing: Reprogramming
  Black-box Machine Learning Models with Scarce Data and Limited Resources", ICML 2020, arXiv:2007.08714):
  greedy one-to-one assignment on the joint frequency of (argmax source prediction, target label);
* ILM, iterative label mapping (Chen, Yao, Chen, Zhang, Liu, "Understanding and Improving Visual
  Prompting: A Label-Mapping Perspective", CVPR 2023, arXiv:2211.11635): FLM re-estimated every epoch;
* many-to-one FLM (k source classes per target class, averaged);
* BLM and BLM+ (Cai, Ye, Feng, Qi, Liu, "Bayesian-guided Label Mapping for Visual Reprogramming",
  NeurIPS 2024, arXiv:2410.24018): probabilistic reweighting ω from Bayes' rule with Laplace smoothing;
* similarity mapping (Hung, Yang, Chen et al., "Neural Model Reprogramming with Similarity Based Mapping
  for Low-Resource Spoken Command Recognition", Interspeech/ICASSP 2023, arXiv:2110.03894).

Rule-based (fixed, never fitted): RLM (random one-to-one or many-to-one), first-k and label shuffling.

The pure functions (``frequency_matrix``, ``greedy_assignment``, ``blm_omega``, ``blm_plus_omega``)
reproduce the published reference code bit for bit on the fixtures in ``shared/fixtures/label_mapping``
(ties broken by the first maximum in row-major order; NaN where the reference divides 0 by 0).
"""

from __future__ import annotations

import math

import sympy as sp
import torch
from torch import Tensor

from reprogrammability.framework.alignment import IndexMapping, StatisticalAlignment
from reprogrammability.framework.checks import check_count, check_finite, check_labels, check_scores
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.symbolic import SymbolicForm, op, z

__all__ = [
    "frequency_matrix",
    "joint_frequency",
    "greedy_assignment",
    "greedy_one_to_one",
    "one_hot_mapping",
    "many_to_one_mapping",
    "blm_omega",
    "blm_plus_omega",
    "default_top_k",
    "FrequencyLabelMapping",
    "IterativeLabelMapping",
    "ManyToOneLabelMapping",
    "BayesianLabelMapping",
    "BayesianLabelMappingPlus",
    "SimilarityLabelMapping",
    "RandomLabelMapping",
    "ShuffledLabelMapping",
]


# -- pure estimators ------------------------------------------------------------------------------
def frequency_matrix(source_outputs: Tensor, targets: Tensor, num_source: int, num_target: int) -> Tensor:
    """d (C_s, C_t), float64: d[s, t] = #{i : argmax_j z_ij = s and y_i = t} (first maximum on ties).

    ``source_outputs`` (N, C_s) finite, N ≥ 1; ``targets`` (N,) in ``[0, C_t)``.
    """
    source_outputs, targets = _checked_pairs(source_outputs, targets, num_source, num_target)
    predictions = source_outputs.argmax(dim=1)
    counts = torch.zeros(num_source * num_target, dtype=torch.float64, device=source_outputs.device)
    counts.index_add_(0, predictions * num_target + targets, torch.ones_like(predictions, dtype=torch.float64))
    return counts.view(num_source, num_target)


joint_frequency = frequency_matrix
"""Alias kept for the first version of this module."""


def greedy_assignment(scores: Tensor, per_target: int = 1) -> Tensor:
    """Greedy assignment of ``per_target`` distinct source rows to every target column of ``scores`` (C_s, C_t).

    Repeatedly take the largest remaining entry (first maximum in row-major order), give its source row to
    its target column, remove that row, and remove the column once it holds ``per_target`` rows.
    Returns (C_t, per_target) source indices, each row in the order the rows were assigned.
    """
    if not isinstance(scores, Tensor) or scores.dim() != 2:
        raise ShapeError(
            f"scores: expected shape (C_s, C_t), got {tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__}"
        )
    check_finite(scores, "scores")
    num_source, num_target = scores.shape
    if per_target < 1 or per_target * num_target > num_source:
        raise ValueError(
            f"per_target: {per_target} source classes for each of {num_target} target classes need "
            f"{per_target * num_target} source classes, the model has {num_source}"
        )
    scores = scores.detach().to("cpu", torch.float64).clone()
    chosen: list[list[int]] = [[] for _ in range(num_target)]
    for _ in range(per_target * num_target):
        s, t = divmod(int(torch.argmax(scores)), num_target)
        chosen[t].append(s)
        scores[s, :] = float("-inf")
        if len(chosen[t]) == per_target:
            scores[:, t] = float("-inf")
    return torch.tensor(chosen, dtype=torch.long)


def greedy_one_to_one(scores: Tensor) -> Tensor:
    """The one-to-one case of :func:`greedy_assignment`: ``sequence`` (C_t,), the source class of each target class."""
    return greedy_assignment(scores, 1)[:, 0]


def one_hot_mapping(sequence: Tensor, num_source: int) -> Tensor:
    """ω (C_s, C_t) with ω[sequence[t], t] = 1."""
    omega = torch.zeros(num_source, sequence.numel())
    omega[sequence.cpu(), torch.arange(sequence.numel())] = 1.0
    return omega


def many_to_one_mapping(indices: Tensor, num_source: int) -> Tensor:
    """ω (C_s, C_t) with ω[s, t] = 1/k for the k source classes ``indices[t]`` (C_t, k): the mean of their logits."""
    num_target, k = indices.shape
    omega = torch.zeros(num_source, num_target)
    omega[indices.cpu().reshape(-1), torch.arange(num_target).repeat_interleave(k)] = 1.0 / k
    return omega


def _bayes_reweighting(counts: Tensor, laplace: float) -> Tensor:
    """ω = column-normalise(d[s, t] / (Σ_t' d[s, t'] + λ)): P(y_T = t | y_S = s) smoothed, then per target class."""
    conditional = counts / (counts.sum(dim=1, keepdim=True) + laplace)
    return conditional / conditional.sum(dim=0, keepdim=True)


def blm_omega(source_outputs: Tensor, targets: Tensor, num_target: int, laplace: float = 1.0) -> Tensor:
    """BLM (Cai et al. 2024, Eq. 5-6): ω (C_s, C_t), float64, from argmax source predictions.

    d = frequency matrix of (argmax source prediction, target label);
    ω[s, t] = P̂(t | s) / Σ_s' P̂(t | s')  with  P̂(t | s) = d[s, t] / (Σ_t' d[s, t'] + λ).
    """
    if not isinstance(source_outputs, Tensor) or source_outputs.dim() != 2:
        check_source_outputs(source_outputs, -1)
    counts = frequency_matrix(source_outputs, targets, source_outputs.shape[1], num_target)
    return _bayes_reweighting(counts, laplace)


def blm_plus_omega(
    source_outputs: Tensor, targets: Tensor, num_target: int, top_k: int, laplace: float = 1.0
) -> Tensor:
    """BLM+ (Cai et al. 2024, Eq. 7): like BLM with the one-hot prediction replaced by the top-k softmax probabilities.

    q_i[s] = softmax(z_i)[s] if s is among the k most probable source classes of sample i, else 0;
    d[s, t] = Σ_{i: y_i = t} q_i[s]; then the same Bayes reweighting as BLM. With λ = 0 a source class
    never in any top-k gives 0/0 = NaN, as in the reference code.
    """
    if not isinstance(source_outputs, Tensor) or source_outputs.dim() != 2:
        check_source_outputs(source_outputs, -1)
    source_outputs, targets = _checked_pairs(source_outputs, targets, source_outputs.shape[1], num_target)
    if not 1 <= top_k <= source_outputs.shape[1]:
        raise ValueError(f"top_k: expected 1..{source_outputs.shape[1]}, got {top_k}")
    probabilities = torch.softmax(source_outputs.float(), dim=1)
    values, index = probabilities.topk(top_k, dim=1)
    kept = torch.zeros_like(probabilities).scatter_(1, index, values).double()
    counts = torch.zeros(source_outputs.shape[1], num_target, dtype=torch.float64, device=kept.device)
    counts.index_add_(1, targets, kept.T)
    return _bayes_reweighting(counts, laplace)


def default_top_k(num_target: int, fraction: float = 0.15) -> int:
    """BLM+'s default aggregation size: k = max(1, ⌊0.15 · C_t⌋)."""
    return max(1, math.floor(fraction * num_target))


# -- statistical alignments ---------------------------------------------------------------------
class _MappingMixin:
    """``assignment``/``sequence``: the source indices each target class reads (one-hot and many-to-one ω)."""

    omega: Tensor

    @property
    def assignment(self) -> Tensor:
        """(C_t, k) source classes per target class (the non-zeros of each column of ω, ascending)."""
        columns = [torch.nonzero(self.omega[:, t]).flatten().cpu() for t in range(self.omega.shape[1])]
        return torch.stack(columns)

    @property
    def sequence(self) -> Tensor:
        """(k·C_t,) source indices of ω's non-zeros ordered by target class, as the reference code lists them.

        One-to-one: ``sequence[t]`` is the source class of target class t. Many-to-one: the reference takes
        the non-zeros in row-major order and sorts them by target class with torch's default (unstable)
        sort, so the order inside a class follows that sort; it has no effect on ω or on predictions.
        """
        rows, columns = torch.nonzero(self.omega.cpu(), as_tuple=True)
        return rows[torch.argsort(columns)]


class FrequencyLabelMapping(_MappingMixin, StatisticalAlignment):
    """FLM (Tsai et al., ICML 2020; Chen et al., CVPR 2023): one-to-one map from the joint frequency of
    the frozen model's predictions and the target labels, fitted once before training.

    ω[s, t] = 1 iff source class s was greedily assigned to target class t; ŷ = z ω = z[:, sequence].
    """

    symbol_latex = r"\omega_{\mathrm{FLM}}"

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        counts = frequency_matrix(source_outputs, targets, self.num_source, self.num_target)
        return one_hot_mapping(greedy_one_to_one(counts), self.num_source)


class IterativeLabelMapping(FrequencyLabelMapping):
    """ILM (Chen et al., CVPR 2023): FLM re-estimated at every epoch from the logits of the current program.

    The trainer re-fits it from the logits the epoch already computed (``refit_each_epoch``).
    """

    symbol_latex = r"\omega_{\mathrm{ILM}}"
    refit_each_epoch = True


class ManyToOneLabelMapping(_MappingMixin, StatisticalAlignment):
    """Many-to-one FLM: the k most frequent free source classes per target class (greedy), averaged.

    ω[s, t] = 1/k for the k source classes of t; ŷ_t = mean of their logits. ``refit_each_epoch`` makes it
    the iterative variant.
    """

    symbol_latex = r"\omega_{\mathrm{M2O}}"

    def __init__(self, num_source: int, num_target: int, per_target: int = 2, *, refit_each_epoch: bool = False):
        super().__init__(num_source, num_target)
        if per_target < 1 or per_target * num_target > num_source:
            raise ValueError(
                f"per_target: expected 1..{num_source // num_target} for {num_target} target and {num_source} "
                f"source classes, got {per_target}"
            )
        self.per_target = int(per_target)
        self.refit_each_epoch = bool(refit_each_epoch)

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        counts = frequency_matrix(source_outputs, targets, self.num_source, self.num_target)
        return many_to_one_mapping(greedy_assignment(counts, self.per_target), self.num_source)


def _check_finite(omega: Tensor, name: str, hint: str) -> Tensor:
    if not torch.isfinite(omega).all():
        raise ValueError(f"{name}: the estimated ω has non-finite entries; {hint}")
    return omega


class BayesianLabelMapping(StatisticalAlignment):
    """BLM (Cai et al., NeurIPS 2024): probabilistic many-to-many reweighting ω from Bayes' rule.

    ω[s, t] ∝_s d[s, t] / (Σ_t' d[s, t'] + λ), d the frequency matrix of (argmax f(I(x)), y), columns
    normalised to sum to one; ŷ = z ω. Re-estimated every epoch (``refit_each_epoch``).
    """

    symbol_latex = r"\omega_{\mathrm{BLM}}"
    refit_each_epoch = True

    def __init__(self, num_source: int, num_target: int, laplace: float = 1.0):
        super().__init__(num_source, num_target)
        if not (isinstance(laplace, (int, float)) and math.isfinite(laplace) and laplace >= 0):
            raise ValueError(f"laplace: expected a finite λ ≥ 0, got {laplace!r}")
        self.laplace = float(laplace)

    def _check_every_class_occurs(self, targets: Tensor) -> None:
        missing = (torch.bincount(targets, minlength=self.num_target) == 0).nonzero().flatten().tolist()
        if missing:
            raise ValueError(
                f"targets: target class(es) {missing[:10]} do not occur in the data; {type(self).__name__} "
                "normalises ω per target class, so every class 0..C_t-1 needs at least one sample"
            )

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        self._check_every_class_occurs(targets)
        omega = blm_omega(source_outputs, targets, self.num_target, self.laplace)
        return _check_finite(omega, "targets", "every target class must occur in the data used by fit()")

    def symbolic(self) -> SymbolicForm:
        lam = sp.Symbol(r"\lambda")
        return SymbolicForm(
            expression=z * op("omega_BLM", r"\omega_{\mathrm{BLM}}")(lam), description="Bayesian-guided label mapping"
        )


class BayesianLabelMappingPlus(BayesianLabelMapping):
    """BLM+ (Cai et al., NeurIPS 2024): BLM with the top-k source probabilities of each sample instead of its argmax.

    ``top_k`` defaults to max(1, ⌊0.15 · C_t⌋).
    """

    symbol_latex = r"\omega_{\mathrm{BLM+}}"

    def __init__(self, num_source: int, num_target: int, top_k: int | None = None, laplace: float = 1.0):
        super().__init__(num_source, num_target, laplace)
        self.top_k = default_top_k(num_target) if top_k is None else int(top_k)
        if not 1 <= self.top_k <= num_source:
            raise ValueError(f"top_k: expected 1..{num_source}, got {top_k}")

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        self._check_every_class_occurs(targets)
        omega = blm_plus_omega(source_outputs, targets, self.num_target, self.top_k, self.laplace)
        return _check_finite(
            omega,
            "laplace",
            f"with laplace={self.laplace} a source class never among any sample's top-{self.top_k} gives 0/0 "
            "(use laplace > 0), or a target class is missing from the data",
        )

    def symbolic(self) -> SymbolicForm:
        lam, k = sp.Symbol(r"\lambda"), sp.Symbol("k")
        return SymbolicForm(expression=z * op("omega_BLMp", r"\omega_{\mathrm{BLM+}}")(lam, k), description="BLM+")


class SimilarityLabelMapping(_MappingMixin, StatisticalAlignment):
    """Similarity mapping (Hung et al., arXiv:2110.03894): each target class reads the k source classes whose
    average predicted probability over that class's samples is highest (greedy, distinct), averaged.

    S[s, t] = mean_{i: y_i = t} softmax(z_i)[s]; ω = many-to-one greedy assignment on S.
    """

    symbol_latex = r"\omega_{\mathrm{sim}}"

    def __init__(self, num_source: int, num_target: int, per_target: int = 1, *, refit_each_epoch: bool = True):
        super().__init__(num_source, num_target)
        if per_target < 1 or per_target * num_target > num_source:
            raise ValueError(f"per_target: expected 1..{num_source // num_target}, got {per_target}")
        self.per_target = int(per_target)
        self.refit_each_epoch = bool(refit_each_epoch)

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        probabilities = torch.softmax(source_outputs.double(), dim=1)
        sums = torch.zeros(self.num_source, self.num_target, dtype=torch.float64, device=probabilities.device)
        sums.index_add_(1, targets, probabilities.T)
        counts = torch.bincount(targets, minlength=self.num_target).clamp_min(1).to(sums)
        return many_to_one_mapping(greedy_assignment(sums / counts, self.per_target), self.num_source)


# -- rule-based mappings ----------------------------------------------------------------------------
class RandomLabelMapping(IndexMapping):
    """RLM: a fixed random injective map, k distinct source classes per target class drawn uniformly (seeded).

    Rule-based: chosen before seeing any data, never fitted; ŷ_t = mean of the logits of its source classes.
    """

    def __init__(self, num_source: int, num_target: int, per_target: int = 1, seed: int = 0):
        num_source, num_target = check_count(num_source, "num_source"), check_count(num_target, "num_target")
        per_target = check_count(per_target, "per_target")
        if per_target < 1 or per_target * num_target > num_source:
            raise ValueError(
                f"per_target: {per_target} × {num_target} target classes exceed the {num_source} source classes"
            )
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(num_source, generator=generator)[: per_target * num_target]
        super().__init__(chosen.view(num_target, per_target).sort(dim=1).values)
        self.num_source, self.seed = int(num_source), int(seed)

    @property
    def sequence(self) -> Tensor:
        return self.indices[:, 0]

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=op("omega_RLM", r"\omega_{\mathrm{RLM}}")(z), description="random fixed map")


class ShuffledLabelMapping(IndexMapping):
    """A fixed random permutation π of the first C classes: ŷ_t = z_{π(t)} (REFINE's output label shuffling)."""

    def __init__(self, num_classes: int, seed: int = 0):
        num_classes = check_count(num_classes, "num_classes")
        generator = torch.Generator().manual_seed(seed)
        super().__init__(torch.randperm(num_classes, generator=generator))
        self.seed = int(seed)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=op("pi", r"\pi")(z), description="fixed label shuffling")


def check_source_outputs(source_outputs: Tensor, num_source: int) -> None:
    """Raise :class:`ShapeError` unless ``source_outputs`` is (N, num_source) (``num_source=-1``: any width)."""
    shape = tuple(source_outputs.shape) if isinstance(source_outputs, Tensor) else type(source_outputs).__name__
    if (
        not isinstance(source_outputs, Tensor)
        or source_outputs.dim() != 2
        or (num_source != -1 and source_outputs.shape[1] != num_source)
    ):
        width = "C_s" if num_source == -1 else num_source
        raise ShapeError(f"source_outputs: expected shape (N, {width}), got {shape}")


def _checked_pairs(source_outputs: Tensor, targets: Tensor, num_source: int, num_target: int) -> tuple[Tensor, Tensor]:
    """``(source_outputs, targets)`` checked by the framework's boundary checks (finite scores, labels in range)."""
    source_outputs = check_scores(source_outputs, "source_outputs", num_source)
    targets = check_labels(targets, "targets", num_target).to(source_outputs.device)
    if targets.shape[0] != source_outputs.shape[0]:
        raise ShapeError(f"targets: expected shape ({source_outputs.shape[0]},), got {tuple(targets.shape)}")
    return source_outputs, targets
