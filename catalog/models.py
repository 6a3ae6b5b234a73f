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

from datetime import date
from enum import Enum
from typing import Annotated, Optional, TypeVar, Union

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ..framework.axes import Access, FWeights, Modality, Paradigm, default_access
from ..framework.errors import SpecError
from ..framework.spec import Spec
from .errors import short_repr
from .fields import (
    AXIS_FIELDS,
    IMPLEMENTATION_PATTERN,
    ArxivId,
    Coordinates,
    Doi,
    FieldError,
    NonEmptyStr,
    ParadigmValues,
    PartialCoordinates,
    ProgramPart,
    ProgramParts,
    Readout,
    Readouts,
    Slug,
    Url,
    Year,
    _Model,
    normalise_name,
)

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

# Field types, coordinates and the program/readout facts live in .fields and are re-exported here.

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
            configuration=coordinates.configuration,
            operator=coordinates.operator,
            location=coordinates.location,
            alignment=coordinates.alignment,
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


_E = TypeVar("_E", bound="_Entry")


class _Entry(_Model):
    _source: str = PrivateAttr(default="<memory>")

    @property
    def source(self) -> str:
        """The file the entry was loaded from (relative to the catalog root), or ``<memory>``."""
        return self._source

    def with_source(self: _E, source: str) -> _E:
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
            title=self.title,
            authors=self.authors,
            year=self.year,
            venue=self.venue,
            arxiv=self.arxiv,
            url=self.url,
            doi=self.doi,
            first_public=self.first_public,
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
    """The files of the survey's data (shipped in ``catalog/survey/``)."""

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
