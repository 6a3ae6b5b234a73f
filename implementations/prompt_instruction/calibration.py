"""Contextual calibration (Zhao, Wallace, Feng, Klein & Singh, "Calibrate Before Use: Improving
Few-Shot Performance of Language Models", ICML 2021, arXiv 2102.09690).

With the prompt fixed, the label-word probabilities of *content-free* inputs (``"N/A"``, ``""``,
``"[MASK]"``) show the prompt's bias. Zhao et al. average them, ``p̂_cf = mean_i p(y | x'_cf,i)``
(probabilities renormalised over the label words), and set ``W = diag(p̂_cf)^{-1}``, ``b = 0``; the
calibrated prediction is ``softmax(W p)``. ``W`` is estimated from the frozen model's outputs (no
gradient), so the alignment is statistical.
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import NotFittedError
from reprogrammability.framework.symbolic import SymbolicForm, op, z

from .templates import CONTENT_FREE

__all__ = ["ContextualCalibration", "calibrate"]

_diag = op("diag", r"\operatorname{diag}")
_softmax = op("softmax", r"\operatorname{softmax}")


class ContextualCalibration(OutputAlignment):
    """``ŷ = log softmax(W p)``, ``p = softmax(s(z))``, ``W = diag(p̂_cf)^{-1}``; ``s`` a label-word scoring.

    :meth:`fit` takes the frozen model's outputs on content-free prompts (``targets`` unused): the
    mean of their label-word distributions is ``p̂_cf`` (a buffer). Fitting it on the task inputs
    themselves instead gives batch calibration.
    """

    alignment = Alignment.STATISTICAL

    def __init__(self, scoring: OutputAlignment, num_classes: int):
        super().__init__()
        self.scoring = scoring
        self.register_buffer("p_cf", torch.full((num_classes,), 1.0 / num_classes))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def probabilities(self, source_outputs: Tensor) -> Tensor:
        """Label-word distribution ``p`` (B, C), renormalised over the label words."""
        return F.softmax(self.scoring(source_outputs).float(), dim=-1)

    @torch.no_grad()
    def fit(self, source_outputs: Tensor, targets: Tensor | None = None) -> "ContextualCalibration":
        p = self.probabilities(source_outputs)
        self.p_cf.copy_(p.mean(0).to(self.p_cf))
        self.fitted.fill_(True)
        return self

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    @property
    def weight(self) -> Tensor:
        """``W = diag(p̂_cf)^{-1}`` (C, C)."""
        return torch.diag(1.0 / self.p_cf)

    def forward(self, z: Tensor) -> Tensor:
        if not self.is_fitted:
            raise NotFittedError(
                "ContextualCalibration: call fit(outputs on content-free prompts) or calibrate() first"
            )
        p = self.probabilities(z)
        return F.log_softmax(torch.log(p.clamp_min(1e-30)) - torch.log(self.p_cf.to(p)), dim=-1)

    def symbolic(self) -> SymbolicForm:
        W = sp.Symbol("W")
        return SymbolicForm(
            expression=_softmax(W * _softmax(op("v", r"\omega_{\mathrm{verb}}")(z))),
            description="W = diag(p_cf)^-1 estimated from content-free inputs (a buffer, no gradients)",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The scoring's overhead; the diagonal re-weighting is element-wise (no FLOPs)."""
        return self.scoring.inference_overhead(context)


@torch.no_grad()
def calibrate(reprogrammer: Any, content_free: Sequence[str] = CONTENT_FREE) -> Tensor:
    """Fit the reprogrammer's :class:`ContextualCalibration` on its own prompt filled with content-free inputs.

    Returns ``p̂_cf``.
    """
    alignment = reprogrammer.output
    if not isinstance(alignment, ContextualCalibration):
        raise TypeError(f"reprogrammer.output: expected a ContextualCalibration, got {type(alignment).__name__}")
    outputs = reprogrammer.source_outputs(list(content_free))
    alignment.fit(outputs)
    return alignment.p_cf.clone()
