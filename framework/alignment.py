"""`OutputAlignment` O_ω: maps the frozen model's output z = f(I(x)) onto the target task.

* identity: ``ŷ = z`` or a restriction ``ŷ = z_S`` (no parameters);
* rule-based: a fixed hand-chosen map, e.g. each target class reads fixed source indices;
* statistical: ``ŷ = z ω`` with ω (C_s, C_t) estimated from data by :meth:`fit` (a buffer, no gradients);
* linear: ``ŷ = W z + b`` (trainable).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from .axes import Alignment
from .checks import check_count, check_finite, check_labels, check_scores
from .cost import InferenceOverhead, OverheadContext, UndeclaredOverheadError
from .errors import NotFittedError, ShapeError
from .manipulation import trainable_parameter_count
from .symbolic import SymbolicForm, op, symbols, z

__all__ = [
    "OutputAlignment",
    "IdentityAlignment",
    "IndexMapping",
    "LinearAlignment",
    "StatisticalAlignment",
]


def _index_tensor(indices: object, name: str) -> Tensor:
    """Source-class indices as a non-empty ``torch.long`` tensor of non-negative whole numbers."""
    try:
        tensor = torch.as_tensor(indices)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name}: expected integer source-class indices, got {type(indices).__name__}") from error
    if tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(f"{name}: expected integer source-class indices, got {tensor.dtype}")
    if tensor.numel() == 0:
        raise ShapeError(f"{name}: expected at least one source-class index, got shape {tuple(tensor.shape)}")
    tensor = tensor.long()
    if int(tensor.min()) < 0:
        raise ValueError(f"{name}: source-class index {int(tensor.min())} is negative; allowed: 0, 1, ...")
    return tensor


def _index_width(alignment: nn.Module, indices: Tensor) -> int:
    """1 + the largest source index ``indices`` (the buffer of ``alignment``) reads, cached on the host (no
    device read per forward)."""
    cached: tuple[Tensor, int, int] | None = alignment.__dict__.get("_index_width")
    if cached is None or cached[0] is not indices or cached[1] != indices._version:
        cached = (indices, indices._version, int(indices.max()) + 1)
        alignment.__dict__["_index_width"] = cached
    return cached[2]


def _check_source_width(z: Tensor, width: int, *, exact: bool = True) -> None:
    """``z`` (..., C_s): C_s must equal ``width`` (or, for index maps, exceed every index read)."""
    if not isinstance(z, Tensor) or z.dim() == 0:
        raise ShapeError(f"z: expected the frozen model's outputs (B, C_s), got {type(z).__name__}")
    have = z.shape[-1]
    if (have != width) if exact else (have < width):
        wanted = f"C_s = {width}" if exact else f"C_s ≥ {width} (the largest source index read is {width - 1})"
        raise ShapeError(f"z: expected the frozen model's outputs (..., C_s) with {wanted}, got shape {tuple(z.shape)}")


class OutputAlignment(nn.Module):
    """O_ω: declares ``alignment`` (ω) and maps source outputs ``z`` (B, C_s) to target scores (B, C_t)."""

    alignment: Alignment
    refit_each_epoch: bool = False
    """Statistical alignments that are re-estimated from the logits of each training epoch (ILM, BLM)."""

    def __init__(self) -> None:
        super().__init__()
        if not hasattr(self, "alignment"):
            raise TypeError(f"{type(self).__name__} must declare 'alignment'")

    @abstractmethod
    def symbolic(self) -> SymbolicForm:
        """Formula in :data:`~reprogrammability.framework.symbolic.z` and parameter count."""

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Extra cost of one query after f (:mod:`~reprogrammability.framework.cost`): every alignment
        declares it; there is no default."""
        raise UndeclaredOverheadError(
            f"{type(self).__name__}.inference_overhead: not declared; every output alignment states its FLOPs "
            "per query (see reprogrammability.framework.cost)"
        )

    def fit(self, source_outputs: Tensor, targets: Tensor) -> "OutputAlignment":
        """Estimate the mapping from data (statistical alignments); others have nothing to fit."""
        return self

    @property
    def is_fitted(self) -> bool:
        return True

    @property
    def trainable_parameters(self) -> int:
        return trainable_parameter_count(self)

    def extra_repr(self) -> str:
        return f"ω={self.alignment}"


class IdentityAlignment(OutputAlignment):
    """``ŷ = z``, or the restriction ``ŷ = z[..., S]`` to the source indices ``S`` of the target classes."""

    alignment = Alignment.IDENTITY
    indices: Tensor | None

    def __init__(self, indices: Sequence[int] | Tensor | None = None):
        super().__init__()
        if indices is not None:
            indices = _index_tensor(indices, "indices")
            if indices.dim() != 1:
                raise ShapeError(f"indices: expected shape (C_t,), got {tuple(indices.shape)}")
        self.register_buffer("indices", indices, persistent=True)

    def forward(self, z: Tensor) -> Tensor:
        if self.indices is None:
            return z
        _check_source_width(z, _index_width(self, self.indices), exact=False)
        return z[..., self.indices]

    def symbolic(self) -> SymbolicForm:
        expression = z if self.indices is None else sp.Indexed(sp.IndexedBase("z"), sp.Symbol("S"))
        return SymbolicForm(expression=expression, description="identity (or restriction to the target classes)")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Nothing, or a gather of C_t scores (no FLOPs)."""
        return InferenceOverhead(description="identity / gather")


class IndexMapping(OutputAlignment):
    """Rule-based: target class t scores the mean of ``z`` over its fixed source indices.

    ``indices`` is (C_t,) for one-to-one or (C_t, k) for many-to-one (e.g. first-k labels, a
    verbalizer's label-word ids).
    """

    alignment = Alignment.RULE_BASED
    indices: Tensor

    def __init__(self, indices: Sequence[int] | Sequence[Sequence[int]] | Tensor):
        super().__init__()
        indices = _index_tensor(indices, "indices")
        if indices.dim() == 1:
            indices = indices.unsqueeze(1)
        if indices.dim() != 2 or indices.numel() == 0:
            raise ShapeError(f"indices: expected shape (C_t,) or (C_t, k), got {tuple(indices.shape)}")
        self.register_buffer("indices", indices)

    @classmethod
    def first_k(cls, num_classes: int) -> "IndexMapping":
        """The hard-coded mapping of Elsayed et al.: target class t reads source class t."""
        return cls(list(range(num_classes)))

    @property
    def num_classes(self) -> int:
        return self.indices.shape[0]

    def forward(self, z: Tensor) -> Tensor:
        _check_source_width(z, _index_width(self, self.indices), exact=False)
        return z[..., self.indices].mean(dim=-1)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=op("omega_rule", r"\omega_{\mathrm{rule}}")(z), description="fixed index map")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """A gather and a mean over k indices per class: C_t·k element-wise additions, no FLOPs."""
        c_t, k = symbols("C_t k")
        shapes = {c_t: int(self.indices.shape[0]), k: int(self.indices.shape[1])}
        return InferenceOverhead(elementwise=c_t * k, shapes=shapes, description="gather + mean")


class LinearAlignment(OutputAlignment):
    """``ŷ = W z + b`` with W (C_t, C_s): a trainable linear head on the frozen model's outputs."""

    alignment = Alignment.LINEAR

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"in_features/out_features: expected positive sizes, got {in_features}, {out_features}")
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, z: Tensor) -> Tensor:
        _check_source_width(z, self.linear.in_features)
        scores: Tensor = self.linear(z)
        return scores

    def symbolic(self) -> SymbolicForm:
        c_s, c_t = symbols("C_s C_t")
        W, b = sp.Symbol("W"), sp.Symbol("b")
        has_bias = self.linear.bias is not None
        return SymbolicForm(
            expression=W * z + b if has_bias else W * z,
            parameter_count=c_t * c_s + (c_t if has_bias else 0),
            shapes={c_s: self.linear.in_features, c_t: self.linear.out_features},
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The head's matmul: ``2·C_s·C_t`` FLOPs per query (plus C_t bias additions)."""
        c_s, c_t = symbols("C_s C_t")
        has_bias = self.linear.bias is not None
        return InferenceOverhead(
            flops=2 * c_s * c_t,
            elementwise=c_t if has_bias else sp.Integer(0),
            shapes={c_s: self.linear.in_features, c_t: self.linear.out_features},
            description="linear head",
        )


class StatisticalAlignment(OutputAlignment):
    """``ŷ = z ω`` with ω (C_s, C_t) estimated from ``(z, y)`` pairs by :meth:`estimate`; ω is a buffer.

    Subclasses implement :meth:`estimate`. With ``refit_each_epoch`` the trainer re-estimates ω
    from the logits the epoch already computed (ILM, BLM), with no extra pass over the data.
    """

    alignment = Alignment.STATISTICAL
    symbol_latex = r"\omega_{\mathrm{stat}}"
    omega: Tensor
    fitted: Tensor

    def __init__(self, num_source: int, num_target: int):
        super().__init__()
        num_source, num_target = check_count(num_source, "num_source"), check_count(num_target, "num_target")
        if num_target > num_source:
            raise ValueError(f"num_target: {num_target} target classes exceed the {num_source} source classes")
        self.num_source, self.num_target = int(num_source), int(num_target)
        self.register_buffer("omega", torch.zeros(self.num_source, self.num_target))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self._fitted_on_host = False  # mirror of ``fitted``: no device read in every forward

    @abstractmethod
    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        """ω (C_s, C_t) from source outputs (N, C_s) and target labels (N,)."""

    @torch.no_grad()
    def fit(self, source_outputs: Tensor, targets: Tensor) -> "StatisticalAlignment":
        """Estimate ω from source outputs (N, C_s), finite, N ≥ 1, and labels (N,) in ``[0, C_t)``."""
        source_outputs = check_scores(source_outputs, "source_outputs", self.num_source)
        targets = check_labels(targets, "targets", self.num_target).to(source_outputs.device)
        if targets.shape != source_outputs.shape[:1]:
            raise ShapeError(f"targets: expected shape ({source_outputs.shape[0]},), got {tuple(targets.shape)}")
        omega = self.estimate(source_outputs.float(), targets)
        check_finite(
            omega,
            f"{type(self).__name__}.omega",
            "the estimate is not finite: every target class must occur in the data",
        )
        self.omega.copy_(omega.to(self.omega.device, self.omega.dtype))
        self.fitted.fill_(True)
        self._fitted_on_host = True
        return self

    @property
    def is_fitted(self) -> bool:
        # reading the buffer synchronises with the device; once it is known to be set, the host mirror answers
        if not getattr(self, "_fitted_on_host", False):
            self._fitted_on_host = bool(self.fitted)
        return self._fitted_on_host

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._fitted_on_host = False  # re-read ``fitted`` after loading
        super()._load_from_state_dict(*args, **kwargs)

    def forward(self, z: Tensor) -> Tensor:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__}: call fit(source_outputs, targets) before using it")
        _check_source_width(z, self.num_source)
        return z @ self.omega.to(z.dtype)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(
            expression=z * sp.Symbol(self.symbol_latex),
            description="ω estimated from data, not trained",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """``z ω``: a (1, C_s) @ (C_s, C_t) matmul, ``2·C_s·C_t`` FLOPs per query."""
        c_s, c_t = symbols("C_s C_t")
        return InferenceOverhead(
            flops=2 * c_s * c_t,
            shapes={c_s: self.num_source, c_t: self.num_target},
            description="label-mapping matmul z ω",
        )

    def extra_repr(self) -> str:
        return f"ω={self.alignment}, C_s={self.num_source}, C_t={self.num_target}"
