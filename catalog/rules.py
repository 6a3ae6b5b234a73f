"""The axis rules, written once: which operator τ and which alignment ω follow from what a method does.

A catalog entry states two facts next to its coordinates: ``program`` (what the input manipulation
I does) and ``readout`` (how predictions are read from f). The coordinates must be what these rules
give; ``nnr catalog check`` reports every entry where they differ. The same rules are the text of
``docs/axes/operator.md`` and ``docs/axes/alignment.md``.

Operator τ (:func:`operators_for`), for the parts of I:

* ``add`` → additive: a term that does not depend on the input is added and the shape is kept,
  I(u) = u + δ (or a ⊙ u + δ with a fixed a ≠ 0, as a blended marker or a normalisation after the sum);
* ``insert`` → concatenative: prompt elements are inserted and u is kept intact and in order, [P; u];
* ``rewrite`` → parametric: u is replaced by a function of it, I(u) = g(u);
* ``input-dependent`` → parametric, *in addition to* the add or insert it qualifies: the added or
  inserted term is computed from the input, u + g(u) or [g(u); u]. So a generated perturbation
  (BlackVIP's coordinator, SMM's masks, GPF-plus's attention over basis prompts) is
  additive+parametric, and CoCoOp's image-conditioned context is concatenative+parametric.

Alignment ω (:func:`alignments_for`), for the readout:

* f's own output space is the prediction → identity: ``source-classes`` (f's classes are the task's,
  or a subset), ``class-names`` (f scores or generates the task's own class names: CLIP class
  prompts, an LM generating the label text), ``free-answer`` (generated text taken as the answer);
* a hand-written map from f's outputs to the labels → rule-based: ``label-words`` (a verbalizer of
  chosen words), ``answer-parser`` (parsing the label out of generated text), ``fixed-assignment``;
* ``estimated-map`` (counting or Bayesian rules on data) → statistical;
* ``trained-map`` (an affine map or label embeddings trained by gradient) → linear.
"""

from __future__ import annotations

from typing import Iterable, Optional

from ..framework.axes import Alignment, Operator
from .models import MethodEntry, ProgramPart, Readout

__all__ = [
    "OPERATOR_OF_PART",
    "ALIGNMENT_OF_READOUT",
    "operators_for",
    "alignments_for",
    "operator_rule",
    "alignment_rule",
    "AXIS_RULES",
]

OPERATOR_OF_PART: dict[ProgramPart, Operator] = {
    ProgramPart.ADD: Operator.ADDITIVE,
    ProgramPart.INSERT: Operator.CONCATENATIVE,
    ProgramPart.REWRITE: Operator.PARAMETRIC,
    ProgramPart.INPUT_DEPENDENT: Operator.PARAMETRIC,
}

ALIGNMENT_OF_READOUT: dict[Readout, Alignment] = {
    Readout.SOURCE_CLASSES: Alignment.IDENTITY,
    Readout.CLASS_NAMES: Alignment.IDENTITY,
    Readout.FREE_ANSWER: Alignment.IDENTITY,
    Readout.LABEL_WORDS: Alignment.RULE_BASED,
    Readout.ANSWER_PARSER: Alignment.RULE_BASED,
    Readout.FIXED_ASSIGNMENT: Alignment.RULE_BASED,
    Readout.ESTIMATED_MAP: Alignment.STATISTICAL,
    Readout.TRAINED_MAP: Alignment.LINEAR,
}


def operators_for(program: Iterable[ProgramPart]) -> frozenset[Operator]:
    """The operator values τ that a program's parts give (the rule in the module docstring).

    ``input-dependent`` qualifies an added or inserted term, so it needs ``add`` or ``insert``.
    """
    parts = set(program)
    if ProgramPart.INPUT_DEPENDENT in parts and not parts & {ProgramPart.ADD, ProgramPart.INSERT}:
        raise ValueError("program: 'input-dependent' qualifies an 'add' or an 'insert'; use 'rewrite' for g(u) alone")
    return frozenset(OPERATOR_OF_PART[part] for part in parts)


def alignments_for(readout: Iterable[Readout]) -> frozenset[Alignment]:
    """The alignment values ω that a readout gives (the rule in the module docstring)."""
    return frozenset(ALIGNMENT_OF_READOUT[r] for r in readout)


def _names(values: Iterable[Operator | Alignment | ProgramPart | Readout]) -> str:
    return "+".join(sorted(v.value for v in values))


def operator_rule(entry: MethodEntry) -> Optional[str]:
    """``None`` when τ is what ``entry.program`` gives, else the reason (a missing ``program`` is one)."""
    if entry.program is None:
        return "no 'program' stated (add, insert, rewrite, input-dependent), so τ cannot be checked"
    try:
        expected = operators_for(entry.program)
    except ValueError as error:
        return str(error)
    declared: frozenset[Operator] = frozenset(entry.coordinates.operator)
    if declared != expected:
        return (
            f"program {_names(entry.program)} gives τ={_names(expected)}, the entry says τ={_names(declared)} "
            "(rule: docs/axes/operator.md)"
        )
    return None


def alignment_rule(entry: MethodEntry) -> Optional[str]:
    """``None`` when ω is what ``entry.readout`` gives, else the reason (a missing ``readout`` is one)."""
    if entry.readout is None:
        return "no 'readout' stated, so ω cannot be checked"
    expected = alignments_for(entry.readout)
    declared: frozenset[Alignment] = frozenset(entry.coordinates.alignment)
    if declared != expected:
        return (
            f"readout {_names(entry.readout)} gives ω={_names(expected)}, the entry says ω={_names(declared)} "
            "(rule: docs/axes/alignment.md)"
        )
    return None


AXIS_RULES = {"coordinates.operator": operator_rule, "coordinates.alignment": alignment_rule}
"""Field checked -> rule function; :mod:`.checks` runs each on every method."""
