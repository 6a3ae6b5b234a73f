"""`Spec`: a method's coordinates on the four axes, and the rules the definition implies.

The same model validates catalog entries (coordinates only) and live reprogrammers (coordinates
plus the parameter counts measured on the real modules), so there is one set of rules.

>>> Spec(configuration="learnable", operator="concatenative", location="embedding",
...      alignment="rule-based", paradigm="prompt-tuning", access="gradient").location
(<Location.EMBEDDING: 'embedding'>,)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .axes import (
    FIXED_ACCESS,
    LEARNED_ACCESS,
    Access,
    Alignment,
    AxisValue,
    Configuration,
    Location,
    Modality,
    Operator,
    Paradigm,
)
from .errors import SpecError

__all__ = ["Spec", "SpecRule", "SPEC_RULES", "coordinates_str"]


_Value = TypeVar("_Value", bound=AxisValue)


def _as_tuple(enum: type[_Value], field: str, value: Any) -> tuple[_Value, ...]:
    values = [value] if isinstance(value, (str, AxisValue)) else list(value or [])
    if not values:
        raise ValueError(f"{field}: at least one value is required, allowed: {enum.allowed()}")
    parsed = [enum.parse(v, field=field) for v in values]
    if len(set(parsed)) != len(parsed):
        raise ValueError(f"{field}: repeated value in {[p.value for p in parsed]}")
    order = list(enum)
    return tuple(sorted(parsed, key=order.index))


class Spec(BaseModel):
    """Coordinates ``(λ, τ, ℓ, ω)`` of a method, with paradigm, modality and optimisation access.

    Each coordinate is a tuple because a few methods really sit at several values (MaPLe acts on
    the embedding and on hidden layers). The ``*_parameters`` fields are measured facts of a
    concrete instance; they are ``None`` for catalog entries, and the rules that need them are
    skipped then.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    configuration: tuple[Configuration, ...] = Field(description="λ: fixed and/or learnable")
    operator: tuple[Operator, ...] = Field(description="τ: additive, concatenative, parametric")
    location: tuple[Location, ...] = Field(description="ℓ: input, embedding, hidden")
    alignment: tuple[Alignment, ...] = Field(description="ω: identity, rule-based, statistical, linear")
    paradigm: Paradigm
    access: Access = Field(description="how trainable parts get a learning signal through f")
    modality: Modality = Modality.GENERAL
    task_modality: Optional[Modality] = Field(
        default=None, description="the target task's data, when it differs from the model's (cross-modal)"
    )
    input_parameters: Optional[int] = Field(default=None, ge=0, description="trainable parameters of I")
    alignment_parameters: Optional[int] = Field(default=None, ge=0, description="trainable parameters of O")

    @field_validator("configuration", mode="before")
    @classmethod
    def _configuration(cls, v: Any) -> tuple[Configuration, ...]:
        return _as_tuple(Configuration, "configuration", v)

    @field_validator("operator", mode="before")
    @classmethod
    def _operator(cls, v: Any) -> tuple[Operator, ...]:
        return _as_tuple(Operator, "operator", v)

    @field_validator("location", mode="before")
    @classmethod
    def _location(cls, v: Any) -> tuple[Location, ...]:
        return _as_tuple(Location, "location", v)

    @field_validator("alignment", mode="before")
    @classmethod
    def _alignment(cls, v: Any) -> tuple[Alignment, ...]:
        return _as_tuple(Alignment, "alignment", v)

    @field_validator("paradigm", mode="before")
    @classmethod
    def _paradigm(cls, v: Any) -> Paradigm:
        return Paradigm.parse(v, field="paradigm")

    @field_validator("access", mode="before")
    @classmethod
    def _access(cls, v: Any) -> Access:
        return Access.parse(v, field="access")

    @field_validator("modality", "task_modality", mode="before")
    @classmethod
    def _modality(cls, v: Any, info: ValidationInfo) -> Optional[Modality]:
        return None if v is None else Modality.parse(v, field=info.field_name)

    @model_validator(mode="after")
    def _rules(self) -> "Spec":
        violations = self.violations()
        if violations:
            raise SpecError(violations)
        return self

    def violations(self) -> list[tuple[str, str]]:
        """``(rule name, message)`` for every rule in :data:`SPEC_RULES` this spec breaks."""
        found = []
        for rule in SPEC_RULES:
            message = rule.check(self)
            if message:
                found.append((rule.name, message))
        return found

    @property
    def coordinates(self) -> dict[str, tuple[AxisValue, ...]]:
        return {
            "configuration": self.configuration,
            "operator": self.operator,
            "location": self.location,
            "alignment": self.alignment,
        }

    def coordinates_str(self) -> str:
        return coordinates_str(self.coordinates)

    def same_coordinates(self, other: "Spec") -> bool:
        return self.coordinates == other.coordinates

    def with_measurements(self, *, input_parameters: int, alignment_parameters: int) -> "Spec":
        """This spec plus measured parameter counts, validated again."""
        data = self.model_dump()
        data.update(input_parameters=input_parameters, alignment_parameters=alignment_parameters)
        return Spec(**data)


def coordinates_str(coordinates: dict[str, Any]) -> str:
    """``λ=learnable τ=additive ℓ=input ω=statistical`` (several values joined with ``+``)."""
    symbols = {"configuration": "λ", "operator": "τ", "location": "ℓ", "alignment": "ω"}
    parts = []
    for field, symbol in symbols.items():
        values = coordinates[field]
        values = [values] if isinstance(values, (str, AxisValue)) else values
        parts.append(f"{symbol}={'+'.join(str(v) for v in values)}")
    return " ".join(parts)


@dataclass(frozen=True)
class SpecRule:
    """A named consistency rule: ``check`` returns ``None`` when satisfied, else what is wrong and what is allowed."""

    name: str
    description: str
    check: Callable[[Spec], Optional[str]]


def _only(values: tuple[AxisValue, ...], *allowed: AxisValue) -> bool:
    return set(values) <= set(allowed)


def _fixed_has_no_parameters(s: Spec) -> Optional[str]:
    if s.configuration == (Configuration.FIXED,) and s.input_parameters:
        return (
            f"configuration is fixed but the input manipulation has {s.input_parameters} trainable parameters; "
            "a fixed manipulation has none (declare configuration=learnable, or freeze them)"
        )
    return None


def _learnable_has_parameters(s: Spec) -> Optional[str]:
    if Configuration.LEARNABLE in s.configuration and s.input_parameters == 0:
        return (
            "configuration is learnable but the input manipulation has no trainable parameters; "
            "a learnable manipulation needs at least one (or declare configuration=fixed)"
        )
    return None


def _statistical_has_no_gradient_parameters(s: Spec) -> Optional[str]:
    if s.alignment == (Alignment.STATISTICAL,) and s.alignment_parameters:
        return (
            f"alignment is statistical but the output alignment has {s.alignment_parameters} trainable parameters; "
            "a statistical mapping is estimated from data (buffers, fit()), not by gradients (or declare alignment=linear)"
        )
    return None


def _rule_based_has_no_parameters(s: Spec) -> Optional[str]:
    if _only(s.alignment, Alignment.IDENTITY, Alignment.RULE_BASED) and s.alignment_parameters:
        return (
            f"alignment is {'+'.join(map(str, s.alignment))} but the output alignment has "
            f"{s.alignment_parameters} trainable parameters; identity and rule-based mappings are fixed "
            "(or declare alignment=linear)"
        )
    return None


def _linear_has_parameters(s: Spec) -> Optional[str]:
    if s.alignment == (Alignment.LINEAR,) and s.alignment_parameters == 0:
        return (
            "alignment is linear but the output alignment has no trainable parameters; a linear head W z + b has some"
        )
    return None


def _fixed_needs_no_access(s: Spec) -> Optional[str]:
    if s.configuration == (Configuration.FIXED,) and s.access not in FIXED_ACCESS:
        return (
            f"configuration is fixed but access is {s.access}; nothing in front of f is optimised, "
            f"so access must be one of {sorted(map(str, FIXED_ACCESS))}"
        )
    return None


def _learnable_needs_access(s: Spec) -> Optional[str]:
    if Configuration.LEARNABLE in s.configuration and s.access not in LEARNED_ACCESS:
        return (
            f"configuration is learnable but access is {s.access}; a learned manipulation needs "
            "'gradient' (white-box) or 'zeroth-order' (black-box) access"
        )
    return None


def _additive_needs_continuous_input(s: Spec) -> Optional[str]:
    if (
        Operator.ADDITIVE in s.operator
        and s.location == (Location.INPUT,)
        and s.modality in (Modality.TEXT, Modality.PROTEIN, Modality.DNA, Modality.MOLECULE)
    ):
        return (
            f"operator additive at location input of a {s.modality} model: its raw input is discrete tokens, "
            "which cannot be added to; use location=embedding, or operator=concatenative/parametric"
        )
    return None


def _paradigm_configuration(s: Spec) -> Optional[str]:
    if s.paradigm is Paradigm.PROMPT_INSTRUCTION and Configuration.FIXED not in s.configuration:
        return "paradigm prompt-instruction means fixed prompts, but configuration is learnable only; allowed: fixed"
    if s.paradigm in (Paradigm.PROMPT_TUNING, Paradigm.MODEL_REPROGRAMMING) and (
        Configuration.LEARNABLE not in s.configuration
    ):
        return f"paradigm {s.paradigm} learns its input manipulation, but configuration is fixed; allowed: learnable"
    return None


SPEC_RULES: tuple[SpecRule, ...] = (
    SpecRule("fixed-has-no-trainable-parameters", "λ=fixed ⇒ I has no trainable parameters", _fixed_has_no_parameters),
    SpecRule(
        "learnable-has-trainable-parameters", "λ=learnable ⇒ I has trainable parameters", _learnable_has_parameters
    ),
    SpecRule(
        "statistical-alignment-has-no-gradient-parameters",
        "ω=statistical ⇒ O is estimated from data and has no gradient parameters",
        _statistical_has_no_gradient_parameters,
    ),
    SpecRule(
        "rule-based-alignment-has-no-parameters",
        "ω∈{identity, rule-based} ⇒ O has no parameters and no fitting",
        _rule_based_has_no_parameters,
    ),
    SpecRule("linear-alignment-has-parameters", "ω=linear ⇒ O has trainable parameters", _linear_has_parameters),
    SpecRule(
        "fixed-needs-no-model-access", "λ=fixed ⇒ access∈{text-only, scores, hidden-states}", _fixed_needs_no_access
    ),
    SpecRule("learnable-needs-model-access", "λ=learnable ⇒ access∈{gradient, zeroth-order}", _learnable_needs_access),
    SpecRule(
        "additive-needs-continuous-input",
        "τ=additive at ℓ=input needs a continuous raw input (not token ids)",
        _additive_needs_continuous_input,
    ),
    SpecRule(
        "paradigm-matches-configuration",
        "prompt instruction is fixed; prompt tuning and model reprogramming are learnable",
        _paradigm_configuration,
    ),
)
"""Every consistency rule of the definition, in the order they are reported."""
