"""Symbolic form: each part's formula renders and its parameter count equals the measured one."""

from __future__ import annotations

import sympy as sp

from .common import (
    FAILED,
    PASSED,
    _trainable,
)
from .context import Context
from .registry import check


@check("symbolic-parameter-count", "symbolic form")
def symbolic_count(ctx: Context) -> tuple[str, str]:
    """each part's symbolic parameter count, evaluated at its shapes, equals the measured count

    Why: the counts reported in tables come from the symbolic form"""
    wrong, parts = [], []
    modules = [(f"I{i}", type(p).__name__, p) for i, p in enumerate(ctx.parts)] + [
        ("O", type(ctx.rp.output).__name__, ctx.rp.output)
    ]
    for label, cls, module in modules:
        form = module.symbolic()
        measured = sum(p.numel() for _, p in _trainable(module))
        try:
            declared = form.evaluate_parameter_count()
        except Exception as error:  # noqa: BLE001
            wrong.append(f"{label}:{cls} count {sp.sstr(form.parameter_count)} cannot be evaluated: {error}")
            continue
        if declared != measured:
            wrong.append(
                f"{label}:{cls} declares {sp.sstr(form.parameter_count)} = {declared:,} but has {measured:,} trainable parameters"
            )
        parts.append(f"{label}={declared:,}")
    if wrong:
        return FAILED, "; ".join(wrong)
    total = ctx.rp.parameter_count()
    if ctx.rp.evaluated_parameter_count() != total:
        return (
            FAILED,
            f"the parts' symbolic counts sum to {ctx.rp.evaluated_parameter_count():,}, measured {total:,}",
        )
    return PASSED, f"symbolic = measured = {total:,} ({', '.join(parts)})"


@check("symbolic-formula-renders", "symbolic form")
def symbolic_renders(ctx: Context) -> tuple[str, str]:
    """each part's formula and parameter count are sympy expressions that render as LaTeX, and so does ŷ

    Why: the documentation renders every method's formula"""
    bad = []
    for label, form in ctx.rp.symbolic_parts():
        for what, value in (("formula", form.expression), ("parameter count", form.parameter_count)):
            if not isinstance(value, sp.Basic):
                bad.append(f"{label} {what} is a {type(value).__name__}, not a sympy expression")
                continue
            text = sp.latex(value)
            if not text.strip():
                bad.append(f"{label} {what} renders as empty LaTeX")
    if bad:
        return FAILED, "; ".join(bad)
    latex = ctx.rp.latex()
    if not latex.strip() or latex.strip() == r"\hat{y} =":
        return FAILED, "the composed formula renders empty"
    return PASSED, latex if len(latex) <= 160 else latex[:157] + "..."
