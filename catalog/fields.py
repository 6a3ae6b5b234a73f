"""Field types of the catalog's models: axis values, coordinates, names, and the facts τ and ω follow from.

Shared by :mod:`.models` (which re-exports the public names) so that each entry model reads top to
bottom there. A coordinate holds one value or a list of values (several only where the method really
has them); values reuse the framework's enums. This module imports no torch.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import partial
from typing import Annotated, Any, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

from ..framework.axes import Alignment, AxisValue, Configuration, Location, Operator, Paradigm
from ..framework.spec import coordinates_str
from .errors import short_repr

__all__ = [
    "AXIS_FIELDS",
    "Coordinates",
    "PartialCoordinates",
    "ProgramPart",
    "Readout",
    "ProgramParts",
    "Readouts",
    "FieldError",
    "IMPLEMENTATION_PATTERN",
    "normalise_name",
    "NonEmptyStr",
    "Slug",
    "Url",
    "Year",
    "ArxivId",
    "Doi",
    "ParadigmValues",
]

AXIS_FIELDS: tuple[str, ...] = ("configuration", "operator", "location", "alignment")
"""The four coordinates ``(λ, τ, ℓ, ω)`` in their canonical order."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ARXIV_PATTERN = r"^(?:\d{4}\.\d{4,5}|[a-z][a-z.\-]*/\d{7})$"
URL_PATTERN = r"^https?://[^\s]+$"
DOI_PATTERN = r"^10\.\d{4,9}/[^\s]+$"
FAMILIES = ("reprogramming", "prompt_tuning", "prompt_instruction")
IMPLEMENTATION_PATTERN = rf"^reprogrammability\.implementations\.(?:{'|'.join(FAMILIES)})\.[a-z][a-z0-9_]*:build$"


class FieldError(ValueError):
    """A ``ValueError`` that knows which field (dotted path inside the entry) it is about."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def normalise_name(name: str) -> str:
    """Case-, hyphen- and space-insensitive key of a literature name (``"Soft-Prompt"`` → ``"soft prompt"``)."""
    text = name.casefold().replace("_", " ").replace("-", " ").replace("–", " ")
    text = text.replace("optimization", "optimisation")
    return re.sub(r"\s+", " ", text).strip()


# --- scalar field types --------------------------------------------------------------------------

NonEmptyStr = Annotated[str, Strict(), StringConstraints(min_length=1)]
Slug = Annotated[str, Strict(), StringConstraints(pattern=SLUG_PATTERN, max_length=80)]
Url = Annotated[str, Strict(), StringConstraints(pattern=URL_PATTERN)]
Year = Annotated[int, Strict(), Field(ge=1950, le=2100)]


def _arxiv_is_text(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(
            f"arXiv id {value!r} was read as a number; quote it in YAML ('2101.00190'), "
            "otherwise trailing zeros are lost"
        )
    return value


ArxivId = Annotated[
    str,
    BeforeValidator(_arxiv_is_text),
    Strict(),
    StringConstraints(pattern=ARXIV_PATTERN),
    Field(description="arXiv identifier without prefix or version, e.g. '2101.00190'"),
]
Doi = Annotated[str, Strict(), StringConstraints(pattern=DOI_PATTERN)]


# --- coordinates -----------------------------------------------------------------------------------


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ValueError(f"expected a value or a list of values, got {type(value).__name__}")


def _canonical(enum: type[AxisValue], values: tuple[AxisValue, ...]) -> tuple[AxisValue, ...]:
    if not values:
        raise ValueError(f"at least one value is required; allowed: {enum.allowed()}")
    if len(set(values)) != len(values):
        raise ValueError(f"a value is repeated in {short_repr([v.value for v in values])}")
    order = list(enum)
    return tuple(sorted(values, key=order.index))


def _values_schema(enum: type[AxisValue], description: str) -> dict[str, Any]:
    one = {"type": "string", "enum": enum.allowed()}
    return {
        "description": description,
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}],
    }


# One value or a list, stored as a tuple in the enum's order (written out per axis so that type checkers
# see real type aliases).
ConfigurationValues = Annotated[
    tuple[Configuration, ...],
    BeforeValidator(_as_list),
    AfterValidator(partial(_canonical, Configuration)),
    WithJsonSchema(_values_schema(Configuration, "λ: fixed and/or learnable")),
]
OperatorValues = Annotated[
    tuple[Operator, ...],
    BeforeValidator(_as_list),
    AfterValidator(partial(_canonical, Operator)),
    WithJsonSchema(_values_schema(Operator, "τ: additive, concatenative and/or parametric")),
]
LocationValues = Annotated[
    tuple[Location, ...],
    BeforeValidator(_as_list),
    AfterValidator(partial(_canonical, Location)),
    WithJsonSchema(_values_schema(Location, "ℓ: input, embedding and/or hidden")),
]
AlignmentValues = Annotated[
    tuple[Alignment, ...],
    BeforeValidator(_as_list),
    AfterValidator(partial(_canonical, Alignment)),
    WithJsonSchema(_values_schema(Alignment, "ω: identity, rule-based, statistical and/or linear")),
]
ParadigmValues = Annotated[
    tuple[Paradigm, ...],
    BeforeValidator(_as_list),
    AfterValidator(partial(_canonical, Paradigm)),
    WithJsonSchema(_values_schema(Paradigm, "one paradigm, or several for surveys and theory that span them")),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Coordinates(_Model):
    """``(λ, τ, ℓ, ω)``: each one value, or a list where the method really acts at several."""

    configuration: ConfigurationValues
    operator: OperatorValues
    location: LocationValues
    alignment: AlignmentValues

    def as_dict(self) -> dict[str, tuple[AxisValue, ...]]:
        return {axis: getattr(self, axis) for axis in AXIS_FIELDS}

    def __str__(self) -> str:
        return coordinates_str(self.as_dict())


class PartialCoordinates(_Model):
    """Coordinates that a literature name pins down; an axis it says nothing about is left out."""

    configuration: Optional[ConfigurationValues] = None
    operator: Optional[OperatorValues] = None
    location: Optional[LocationValues] = None
    alignment: Optional[AlignmentValues] = None

    def as_dict(self) -> dict[str, tuple[AxisValue, ...]]:
        return {axis: getattr(self, axis) for axis in AXIS_FIELDS if getattr(self, axis) is not None}

    def admits(self, coordinates: Coordinates) -> Optional[str]:
        """``None`` when every value of ``coordinates`` on a pinned axis is allowed here, else the axis that is not."""
        for axis, allowed in self.as_dict().items():
            if not set(getattr(coordinates, axis)) <= set(allowed):
                return axis
        return None

    def __str__(self) -> str:
        parts = []
        symbols = {"configuration": "λ", "operator": "τ", "location": "ℓ", "alignment": "ω"}
        for axis, values in self.as_dict().items():
            parts.append(f"{symbols[axis]}={'+'.join(v.value for v in values)}")
        return " ".join(parts) or "(any)"


class ProgramPart(str, Enum):
    """What the input manipulation I does, the fact from which the operator τ follows (see :mod:`.rules`)."""

    ADD = "add"
    INSERT = "insert"
    REWRITE = "rewrite"
    INPUT_DEPENDENT = "input-dependent"

    @property
    def meaning(self) -> str:
        return {
            "add": "adds a term that does not depend on the input and keeps the shape (u + δ, or a ⊙ u + δ)",
            "insert": "inserts prompt elements (tokens, vectors, text, keys/values) and keeps u intact and in order",
            "rewrite": "replaces u by a function of it (a remapping, a resampling, marks drawn over it)",
            "input-dependent": "the added or inserted term is computed from the input (a generator, a meta-network)",
        }[self.value]

    def __str__(self) -> str:
        return self.value


class Readout(str, Enum):
    """How predictions are read from f's outputs, the fact from which the alignment ω follows (see :mod:`.rules`)."""

    SOURCE_CLASSES = "source-classes"
    CLASS_NAMES = "class-names"
    FREE_ANSWER = "free-answer"
    LABEL_WORDS = "label-words"
    ANSWER_PARSER = "answer-parser"
    FIXED_ASSIGNMENT = "fixed-assignment"
    ESTIMATED_MAP = "estimated-map"
    TRAINED_MAP = "trained-map"

    @property
    def meaning(self) -> str:
        return {
            "source-classes": "f's own classes are the task's labels (or a subset of them)",
            "class-names": "f scores or generates the task's own class names (CLIP class prompts, an LM's label text)",
            "free-answer": "the generated text is the answer, compared as it is",
            "label-words": "hand-chosen words stand for the classes and their scores are read (a verbalizer)",
            "answer-parser": "a hand-written parser extracts the label from generated text",
            "fixed-assignment": "a hand-fixed assignment of f's classes to task labels (e.g. the first C)",
            "estimated-map": "a map estimated from data by counting or Bayesian rules, not by gradients",
            "trained-map": "a map trained by gradient (an affine layer, trained label embeddings)",
        }[self.value]

    def __str__(self) -> str:
        return self.value


def _unique_parts(values: list[Any]) -> list[Any]:
    if not values:
        raise ValueError("at least one value is required")
    if len(set(values)) != len(values):
        raise ValueError(f"a value is repeated in {short_repr([getattr(v, 'value', v) for v in values])}")
    return values


def _one_or_list_schema(enum: type[Enum]) -> dict[str, Any]:
    one = {"type": "string", "enum": [member.value for member in enum]}
    return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}]}


ProgramParts = Annotated[
    list[ProgramPart],
    BeforeValidator(_as_list),
    AfterValidator(_unique_parts),
    WithJsonSchema(_one_or_list_schema(ProgramPart)),
]
Readouts = Annotated[
    list[Readout],
    BeforeValidator(_as_list),
    AfterValidator(_unique_parts),
    WithJsonSchema(_one_or_list_schema(Readout)),
]
