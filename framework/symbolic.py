"""Symbolic form of the parts: their formula and trainable-parameter count, in sympy.

Every part of a reprogrammer states

* ``expression``: what it computes, as a sympy expression of its input symbol
  (``x`` for an input manipulation, ``z`` for an output alignment);
* ``parameter_count``: its number of trainable parameters as an expression of its shape symbols;
* ``shapes``: the values of those symbols for the concrete instance.

so the count evaluated at the real shapes can be compared with the count measured on the module,
and the ratio between reprogramming and fine-tuning is computed, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter

__all__ = [
    "SymbolicForm",
    "symbols",
    "op",
    "odot",
    "concat",
    "x",
    "z",
    "f",
    "latex",
]


def symbols(names: str, **assumptions: bool) -> tuple[sp.Symbol, ...]:
    """Shape symbols: positive integers (``C H W = symbols("C H W")``)."""
    assumptions = {"integer": True, "positive": True, **assumptions}
    out = sp.symbols(names, **assumptions)
    return out if isinstance(out, tuple) else (out,)


# sympy ships no type information (no py.typed), so mypy sees sp.Function as Any: the three subclasses
# below say so with a targeted ignore.
class _Operation(sp.Function):  # type: ignore[misc]  # sympy is untyped
    """An opaque named operation, rendered as ``\\operatorname{name}(args)``."""

    _latex_name = "op"

    def _latex(self, printer: LatexPrinter) -> str:
        args = ", ".join(printer._print(a) for a in self.args)
        return rf"{self._latex_name}\left({args}\right)"


def op(name: str, latex_name: str | None = None) -> type[sp.Function]:
    """A named function symbol: ``pad = op("pad")`` renders ``\\operatorname{pad}(x)``."""
    rendered = latex_name if latex_name is not None else rf"\operatorname{{{name}}}"
    return type(name, (_Operation,), {"_latex_name": rendered})


class odot(sp.Function):  # type: ignore[misc]  # sympy is untyped
    """Element-wise (Hadamard) product ``a ⊙ b``."""

    nargs = 2

    def _latex(self, printer: LatexPrinter) -> str:
        a, b = (printer.parenthesize(arg, 50) for arg in self.args)
        return rf"{a} \odot {b}"


class concat(sp.Function):  # type: ignore[misc]  # sympy is untyped
    """Concatenation along the sequence axis ``[a_1; a_2; ...]``."""

    def _latex(self, printer: LatexPrinter) -> str:
        return r"\left[" + "; ".join(printer._print(a) for a in self.args) + r"\right]"


x = sp.Symbol("x")
"""The target-task input."""
z = sp.Symbol("z")
"""The frozen model's output (the argument of an output alignment)."""
f = op("f", "f")
"""The frozen model."""


def latex(expression: sp.Basic) -> str:
    return str(sp.latex(expression))


@dataclass(frozen=True)
class SymbolicForm:
    """Formula and trainable-parameter count of one part.

    ``expression`` is a sympy expression in the part's input symbol; ``parameter_count`` a sympy
    expression in the shape symbols whose concrete values are in ``shapes``.
    """

    expression: sp.Basic
    parameter_count: sp.Expr = sp.Integer(0)
    shapes: Mapping[sp.Symbol, int] = field(default_factory=dict)
    description: str = ""

    def evaluate_parameter_count(self) -> int:
        """The symbolic count at the concrete shapes; raises if a symbol has no value."""
        value = sp.sympify(self.parameter_count).subs(dict(self.shapes))
        free = value.free_symbols
        if free:
            raise ValueError(f"parameter_count: no value for shape symbol(s) {sorted(map(str, free))}")
        return int(value)

    def latex(self) -> str:
        return str(sp.latex(self.expression))

    def parameter_count_latex(self) -> str:
        return str(sp.latex(self.parameter_count))
