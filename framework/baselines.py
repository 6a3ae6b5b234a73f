"""Parameter-centric baselines, stated symbolically like the reprogramming parts.

* full fine-tuning trains every parameter of f plus a new head: |θ_f| + C_t·d + C_t;
* a linear probe trains only a head on f's features: C_t·d + C_t.

So the share "reprogramming / fine-tuning" is computed from the same kind of expression as the
methods' own counts, never typed in.
"""

from __future__ import annotations

import sympy as sp
from torch import nn

from .symbolic import SymbolicForm, op, symbols, z

__all__ = ["FullFineTuning", "LinearProbe", "parameter_ratio"]

_theta_f = sp.Symbol(r"|\theta_f|", integer=True, positive=True)


class FullFineTuning:
    """Fine-tune all of f (``|θ_f|`` parameters) plus a linear head d -> C_t (optional)."""

    def __init__(self, model: nn.Module, feature_dim: int | None = None, num_classes: int | None = None):
        if (feature_dim is None) != (num_classes is None):
            raise ValueError("feature_dim/num_classes: give both for a new head, or neither")
        self.model_parameters = sum(p.numel() for p in model.parameters())
        self.feature_dim, self.num_classes = feature_dim, num_classes

    def symbolic(self) -> SymbolicForm:
        shapes = {_theta_f: self.model_parameters}
        count: sp.Expr = _theta_f
        expression = op("f_theta", r"f_{\theta}")(sp.Symbol("x"))
        if self.feature_dim is not None:
            d, c_t = symbols("d C_t")
            count = count + c_t * d + c_t
            shapes.update({d: self.feature_dim, c_t: self.num_classes})
            expression = sp.Symbol("W") * expression + sp.Symbol("b")
        return SymbolicForm(expression=expression, parameter_count=count, shapes=shapes, description="full fine-tuning")

    def parameter_count(self) -> int:
        return self.symbolic().evaluate_parameter_count()


class LinearProbe:
    """Train only a linear head on frozen features: ``ŷ = W z + b`` with W (C_t, d)."""

    def __init__(self, feature_dim: int, num_classes: int, bias: bool = True):
        self.feature_dim, self.num_classes, self.bias = feature_dim, num_classes, bias

    def symbolic(self) -> SymbolicForm:
        d, c_t = symbols("d C_t")
        W, b = sp.Symbol("W"), sp.Symbol("b")
        return SymbolicForm(
            expression=W * z + b if self.bias else W * z,
            parameter_count=c_t * d + (c_t if self.bias else 0),
            shapes={d: self.feature_dim, c_t: self.num_classes},
            description="linear probe",
        )

    def parameter_count(self) -> int:
        return self.symbolic().evaluate_parameter_count()

    def module(self) -> nn.Linear:
        return nn.Linear(self.feature_dim, self.num_classes, bias=self.bias)


def parameter_ratio(numerator: SymbolicForm, denominator: SymbolicForm) -> float:
    """Ratio of two parts' evaluated trainable-parameter counts (e.g. reprogramming / fine-tuning)."""
    return numerator.evaluate_parameter_count() / denominator.evaluate_parameter_count()
