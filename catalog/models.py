"""Pydantic models of the catalog's YAML files, also exported as JSON Schema (``catalog/schema/``).

* ``methods/<id>.yaml``: one :class:`MethodEntry` (a method, backed by a reference implementation);
* ``papers/*.yaml``: a list of :class:`PaperEntry` (papers that apply, analyse or extend methods);
* ``glossary.yaml``: a list of :class:`GlossaryTerm` (literature names resolved to coordinates);
* ``excluded.yaml``: a list of :class:`ExcludedItem` (survey items left out, with the reason).

Coordinates reuse the framework's enums and every method entry is validated through
:class:`~reprogrammability.framework.spec.Spec`, so catalog entries obey the same named rules as
live reprogrammers. A coordinate holds one value or a list of values (several only where the
method really has them). This module imports no torch.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum
from functools import partial
from typing import Annotated, Any, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from ..framework.axes import (
    Access,
    Alignment,
    AxisValue,
    Configuration,
    FWeights,
    Location,
    Modality,
    Operator,
    Paradigm,
    default_access,
)
from ..framework.errors import SpecError
from ..framework.spec import Spec, coordinates_str
from .errors import short_repr

__all__ = [
    "AXIS_FIELDS",
    "Coordinates",
    "PartialCoordinates",
    "Paper",
    "Relation",
    "RelationType",
    "RationaleField",
    "MethodEntry",
    "PaperKind",
    "PaperEntry",
    "GlossarySense",
    "GlossaryTerm",
    "ExclusionCategory",
    "SurveySource",
    "ExcludedItem",
    "ParameterCentricTerm",
    "Relative",
    "ProgramPart",
    "Readout",
    "FieldError",
    "IMPLEMENTATION_PATTERN",
    "normalise_name",
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


def _canonical(enum: type[AxisValue], values: tuple) -> tuple:
    if not values:
        raise ValueError(f"at least one value is required; allowed: {enum.allowed()}")
    if len(set(values)) != len(values):
        raise ValueError(f"a value is repeated in {short_repr([v.value for v in values])}")
    order = list(enum)
    return tuple(sorted(values, key=order.index))


def _values_schema(enum: type[AxisValue], description: str) -> dict:
    one = {"type": "string", "enum": enum.allowed()}
    return {
        "description": description,
        "oneOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}],
    }


def _axis_values(enum: type[AxisValue], description: str) -> Any:
    return Annotated[
        tuple[enum, ...],  # type: ignore[valid-type]
        BeforeValidator(_as_list),
        AfterValidator(partial(_canonical, enum)),
        WithJsonSchema(_values_schema(enum, description)),
    ]


ConfigurationValues = _axis_values(Configuration, "λ: fixed and/or learnable")
OperatorValues = _axis_values(Operator, "τ: additive, concatenative and/or parametric")
LocationValues = _axis_values(Location, "ℓ: input, embedding and/or hidden")
AlignmentValues = _axis_values(Alignment, "ω: identity, rule-based, statistical and/or linear")
ParadigmValues = _axis_values(Paradigm, "one paradigm, or several for surveys and theory that span them")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Coordinates(_Model):
    """``(λ, τ, ℓ, ω)``: each one value, or a list where the method really acts at several."""

    configuration: ConfigurationValues
    operator: OperatorValues
    location: LocationValues
    alignment: AlignmentValues

    def as_dict(self) -> dict[str, tuple]:
        return {axis: getattr(self, axis) for axis in AXIS_FIELDS}

    def __str__(self) -> str:
        return coordinates_str(self.as_dict())


class PartialCoordinates(_Model):
    """Coordinates that a literature name pins down; an axis it says nothing about is left out."""

    configuration: Optional[ConfigurationValues] = None
    operator: Optional[OperatorValues] = None
    location: Optional[LocationValues] = None
    alignment: Optional[AlignmentValues] = None

    def as_dict(self) -> dict[str, tuple]:
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


# --- bibliographic data -----------------------------------------------------------------------------


class Paper(_Model):
    """The paper that defines a method. ``authors`` as printed ("Last, First"); a final ``others`` means et al."""

    title: NonEmptyStr
    authors: list[NonEmptyStr] = Field(min_length=1)
    year: Year
    venue: NonEmptyStr = Field(description="conference, journal or 'arXiv' for preprints")
    arxiv: Optional[ArxivId] = None
    url: Optional[Url] = None
    doi: Optional[Doi] = None
    first_public: Optional[date] = Field(
        default=None,
        description="when the work first became public (arXiv v1 or first publication), ISO YYYY-MM-DD; "
        "lineage is ordered by it, not by the venue year",
    )

    @model_validator(mode="after")
    def _others_last(self) -> "Paper":
        if "others" in self.authors[:-1]:
            raise FieldError("authors", "'others' (et al.) may only be the last author")
        return self


class RelationType(str, Enum):
    """How a method relates to an earlier one (declared on the later method, pointing back)."""

    EXTENDS = "extends"
    SPECIALISES = "specialises"
    GENERALISES = "generalises"
    COMBINES = "combines"
    VARIANT_OF = "variant-of"

    def __str__(self) -> str:
        return self.value


class Relation(_Model):
    type: RelationType
    target: Slug = Field(description="id of another method in the catalog")
    note: Optional[NonEmptyStr] = None


class RationaleField(str, Enum):
    """Fields whose value may need a reason (mainly where it differs from the survey's list)."""

    PARADIGM = "paradigm"
    CONFIGURATION = "configuration"
    OPERATOR = "operator"
    LOCATION = "location"
    ALIGNMENT = "alignment"
    ACCESS = "access"
    MODALITY = "modality"
    YEAR = "year"
    VENUE = "venue"
    ARXIV = "arxiv"
    TITLE = "title"
    F_WEIGHTS = "f_weights"
    FIRST_PUBLIC = "first_public"

    def __str__(self) -> str:
        return self.value


Rationale = dict[RationaleField, NonEmptyStr]


def _spec_field(rule: str) -> str:
    if "access" in rule:
        return "access"
    if rule == "paradigm-matches-configuration":
        return "coordinates.configuration"
    if rule == "additive-needs-continuous-input":
        return "coordinates.operator"
    return "coordinates"


def _spec_for(
    coordinates: Coordinates,
    paradigm: Paradigm,
    access: Access,
    modality: Modality,
    task_modality: Optional[Modality],
) -> Spec:
    try:
        return Spec(
            **coordinates.as_dict(),
            paradigm=paradigm,
            access=access,
            modality=modality,
            task_modality=task_modality,
        )
    except SpecError as error:
        rule, message = error.violations[0]
        raise FieldError(_spec_field(rule), f"[{rule}] {message}") from None
    except ValidationError as error:  # pragma: no cover - the catalog's types already match Spec's
        raise FieldError("coordinates", str(error)) from None


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


def _unique_parts(values: list) -> list:
    if not values:
        raise ValueError("at least one value is required")
    if len(set(values)) != len(values):
        raise ValueError(f"a value is repeated in {short_repr([getattr(v, 'value', v) for v in values])}")
    return values


def _one_or_list_schema(enum: type[Enum]) -> dict:
    one = {"type": "string", "enum": [member.value for member in enum]}
    return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1, "uniqueItems": True}]}


ProgramParts = Annotated[
    list[ProgramPart], BeforeValidator(_as_list), AfterValidator(_unique_parts),
    WithJsonSchema(_one_or_list_schema(ProgramPart)),
]
Readouts = Annotated[
    list[Readout], BeforeValidator(_as_list), AfterValidator(_unique_parts), WithJsonSchema(_one_or_list_schema(Readout))
]


class _Entry(_Model):
    _source: str = PrivateAttr(default="<memory>")

    @property
    def source(self) -> str:
        """The file the entry was loaded from (relative to the catalog root), or ``<memory>``."""
        return self._source

    def with_source(self, source: str):
        self._source = source
        return self


class MethodEntry(_Entry):
    """A method of the survey, its coordinates, its paper and the import path of its implementation."""

    id: Slug
    name: NonEmptyStr
    acronym: Optional[NonEmptyStr] = None
    aliases: list[NonEmptyStr] = Field(default_factory=list, description="names the literature uses for it")
    paradigm: Paradigm
    modality: Modality = Field(description="the frozen model's data")
    task_modality: Optional[Modality] = Field(default=None, description="the target task's data when it differs")
    coordinates: Coordinates
    access: Access
    f_weights: FWeights = Field(
        default=FWeights.FROZEN,
        description="what the method does to f's own weights: frozen, added-modules (trained modules inside f) or "
        "trained (f is fine-tuned too)",
    )
    program: Optional[ProgramParts] = Field(
        default=None,
        description="what I does: add, insert, rewrite, input-dependent; the operator τ must follow from it by the "
        "rule in docs/axes/operator.md (nnr catalog check)",
    )
    readout: Optional[Readouts] = Field(
        default=None,
        description="how predictions are read from f: source-classes, class-names, free-answer, label-words, "
        "answer-parser, fixed-assignment, estimated-map, trained-map; ω must follow from it (docs/axes/alignment.md)",
    )
    paper: Paper
    code_url: Optional[Url] = None
    implementation: Annotated[str, Strict(), StringConstraints(pattern=IMPLEMENTATION_PATTERN)] = Field(
        description="reprogrammability.implementations.<family>.<module>:build"
    )
    relations: list[Relation] = Field(default_factory=list)
    summary: Annotated[str, Strict(), StringConstraints(min_length=40)]
    rationale: Rationale = Field(default_factory=dict, description="reasons for non-obvious labels")
    tags: list[Slug] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "MethodEntry":
        module = self.implementation.rsplit(":", 1)[0].rsplit(".", 1)[1]
        if module != self.id.replace("-", "_"):
            raise FieldError(
                "implementation",
                f"module {module!r} does not match the id; expected '{self.id.replace('-', '_')}' "
                f"(the id with '-' replaced by '_')",
            )
        names = {normalise_name(self.name): "name"}
        if self.acronym:
            names.setdefault(normalise_name(self.acronym), "acronym")
        for index, alias in enumerate(self.aliases):
            key = normalise_name(alias)
            if key in names:
                raise FieldError(f"aliases[{index}]", f"{short_repr(alias)} repeats the {names[key]}")
            names[key] = f"aliases[{index}]"
        for index, relation in enumerate(self.relations):
            if relation.target == self.id:
                raise FieldError(f"relations[{index}].target", "a method cannot relate to itself")
        _spec_for(self.coordinates, self.paradigm, self.access, self.modality, self.task_modality)
        return self

    @property
    def spec(self) -> Spec:
        """The entry as a framework :class:`Spec` (coordinates, paradigm, access, modalities)."""
        return _spec_for(self.coordinates, self.paradigm, self.access, self.modality, self.task_modality)

    @property
    def year(self) -> int:
        return self.paper.year

    @property
    def title(self) -> str:
        return self.paper.title

    @property
    def bibliography(self) -> Paper:
        return self.paper

    @property
    def paradigms(self) -> tuple[Paradigm, ...]:
        return (self.paradigm,)

    @property
    def label(self) -> str:
        return self.acronym or self.name


class PaperKind(str, Enum):
    """What a paper of the second collection does with the method(s) it is linked to."""

    APPLICATION = "application"
    ANALYSIS = "analysis"
    EXTENSION = "extension"
    THEORY = "theory"
    SURVEY = "survey"
    BENCHMARK = "benchmark"
    ENABLER = "enabler"

    def __str__(self) -> str:
        return self.value


class PaperEntry(_Entry):
    """A paper that applies, analyses, extends or surveys catalogued methods, placed on the axes."""

    id: Slug
    title: NonEmptyStr
    authors: list[NonEmptyStr] = Field(min_length=1)
    year: Year
    venue: NonEmptyStr
    arxiv: Optional[ArxivId] = None
    url: Optional[Url] = None
    doi: Optional[Doi] = None
    code_url: Optional[Url] = None
    first_public: Optional[date] = Field(
        default=None, description="arXiv v1 date (or first publication), ISO YYYY-MM-DD; the venue year may be later"
    )
    aliases: list[NonEmptyStr] = Field(
        default_factory=list, description="other titles or names under which lists cite the paper"
    )
    kind: PaperKind
    methods: list[Slug] = Field(min_length=1, description="ids of the methods it applies, analyses or extends")
    paradigm: ParadigmValues
    modality: Modality
    task_modality: Optional[Modality] = None
    coordinates: Coordinates
    access: Optional[Access] = Field(
        default=None, description="defaults to gradient if learnable, hidden-states at location hidden, else scores"
    )
    f_weights: FWeights = Field(
        default=FWeights.FROZEN,
        description="what the work does to f's own weights: frozen, added-modules or trained (fine-tuned too)",
    )
    summary: Annotated[str, Strict(), StringConstraints(min_length=30)]
    rationale: Rationale = Field(default_factory=dict)
    tags: list[Slug] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "PaperEntry":
        if "others" in self.authors[:-1]:
            raise FieldError("authors", "'others' (et al.) may only be the last author")
        if len(set(self.methods)) != len(self.methods):
            raise FieldError("methods", f"a method id is repeated in {short_repr(self.methods)}")
        if len(self.paradigm) == 1:
            _spec_for(self.coordinates, self.paradigm[0], self.resolved_access, self.modality, self.task_modality)
        return self

    @property
    def resolved_access(self) -> Access:
        if self.access is not None:
            return self.access
        return default_access(self.coordinates.configuration, self.coordinates.location)

    @property
    def bibliography(self) -> Paper:
        return Paper(
            title=self.title, authors=self.authors, year=self.year, venue=self.venue,
            arxiv=self.arxiv, url=self.url, doi=self.doi, first_public=self.first_public,
        )

    @property
    def paradigms(self) -> tuple[Paradigm, ...]:
        return self.paradigm

    @property
    def name(self) -> str:
        return self.title

    @property
    def label(self) -> str:
        return self.title


class GlossarySense(_Model):
    """One meaning of a literature name: the community that uses it, the coordinates it pins, the methods."""

    label: NonEmptyStr
    meaning: Annotated[str, Strict(), StringConstraints(min_length=20)]
    paradigm: Optional[ParadigmValues] = None
    coordinates: PartialCoordinates = Field(default_factory=PartialCoordinates)
    methods: list[Slug] = Field(default_factory=list, description="catalog methods that carry this name")


class GlossaryTerm(_Model):
    """A name from the literature, resolved to coordinates and to the methods that carry it."""

    term: NonEmptyStr
    variants: list[NonEmptyStr] = Field(default_factory=list, description="other spellings and abbreviations")
    definition: Annotated[str, Strict(), StringConstraints(min_length=20)]
    senses: list[GlossarySense] = Field(min_length=1)
    see_also: list[NonEmptyStr] = Field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [self.term, *self.variants]

    @property
    def methods(self) -> list[str]:
        seen: list[str] = []
        for sense in self.senses:
            seen.extend(m for m in sense.methods if m not in seen)
        return seen


class Relative(_Model):
    """A catalogued method close to a parameter-centric technique, and why."""

    method: Slug = Field(description="id of a catalogued method")
    why: Annotated[str, Strict(), StringConstraints(min_length=10)]


def _not_frozen(value: FWeights) -> FWeights:
    if value is FWeights.FROZEN:
        raise ValueError("a parameter-centric technique changes f's weights: use 'trained' or 'added-modules'")
    return value


class ParameterCentricTerm(_Model):
    """A name of parameter-centric adaptation (PCA): it changes or extends f's own weights, reprogramming never does.

    The survey contrasts reprogramming (f frozen, adapted at its interfaces) with PCA (fine-tuning,
    adapters, low-rank updates, bias tuning). These names are not catalogued methods; ``nnr catalog
    resolve LoRA`` answers with this entry and the nearest reprogramming relatives.
    """

    term: NonEmptyStr
    variants: list[NonEmptyStr] = Field(default_factory=list, description="other spellings and abbreviations")
    f_weights: Annotated[FWeights, AfterValidator(_not_frozen)] = Field(
        description="what it does to f's weights: trained (they change) or added-modules (trained modules inside f)"
    )
    definition: Annotated[str, Strict(), StringConstraints(min_length=20)]
    distinction: Annotated[str, Strict(), StringConstraints(min_length=20)] = Field(
        description="what distinguishes it from reprogramming"
    )
    relatives: list[Relative] = Field(min_length=1, description="the nearest reprogramming relatives in the catalog")

    @property
    def names(self) -> list[str]:
        return [self.term, *self.variants]


class ExclusionCategory(str, Enum):
    """Why a survey item is not in the catalog."""

    WEIGHTS_UPDATED = "weights-updated"
    NOT_A_PAPER = "not-a-paper"
    OUT_OF_SCOPE = "out-of-scope"
    DUPLICATE = "duplicate"
    UNVERIFIABLE = "unverifiable"

    def __str__(self) -> str:
        return self.value


class SurveySource(str, Enum):
    """The files of the survey's data (``../shared/survey``)."""

    AWESOME_PAPERS = "awesome-papers.yaml"
    METHODS = "methods.yaml"
    MODEL_REPROGRAMMING_BIB = "model_reprogramming.bib"
    PROMPT_TUNING_BIB = "prompt_tuning.bib"
    PROMPT_INSTRUCTIONS_BIB = "prompt_instructions.bib"

    def __str__(self) -> str:
        return self.value


class ExcludedItem(_Entry):
    """A survey item that is deliberately not in the catalog."""

    title: NonEmptyStr
    arxiv: Optional[ArxivId] = None
    year: Optional[Year] = None
    sources: list[SurveySource] = Field(min_length=1)
    category: ExclusionCategory
    reason: Annotated[str, Strict(), StringConstraints(min_length=20)]


Entry = Union[MethodEntry, PaperEntry]
