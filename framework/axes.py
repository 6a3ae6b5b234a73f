"""The four axes of reprogrammability, and the descriptive axes beside them.

A method is a point ``(λ, τ, ℓ, ω)``:

* configuration ``λ``: is the input manipulation fixed or learned?
* operator ``τ``: how does it combine with the input it acts on?
* location ``ℓ``: which interface of the frozen model does it act on?
* alignment ``ω``: how are the model's outputs mapped to the target task?

Every value carries its symbol and a one-line meaning, so that tables, the CLI and the
documentation never restate them. This module imports nothing heavy (no torch, no sympy):
the catalog and the CLI depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TypeVar

__all__ = [
    "Access",
    "Alignment",
    "AxisValue",
    "Configuration",
    "FWeights",
    "Location",
    "Modality",
    "Operator",
    "Paradigm",
    "AXES",
    "default_access",
    "FIXED_ACCESS",
    "LEARNED_ACCESS",
    "parse_axis_value",
]


_Value = TypeVar("_Value", bound="AxisValue")


class AxisValue(str, Enum):
    """A value of one axis: a string enum whose members also carry ``symbol`` and ``meaning``."""

    _value_: str
    symbol: str
    meaning: str

    def __new__(cls, value: str, symbol: str = "", meaning: str = "") -> AxisValue:
        member = str.__new__(cls, value)
        member._value_ = value
        member.symbol = symbol
        member.meaning = meaning
        return member

    def __str__(self) -> str:  # "learnable", not "Configuration.LEARNABLE"
        return self._value_

    @classmethod
    def axis_symbol(cls) -> str:
        """The Greek letter of the axis (``λ``, ``τ``, ``ℓ``, ``ω``); empty for descriptive axes."""
        return _AXIS_SYMBOLS.get(cls.__name__, "")

    @classmethod
    def allowed(cls) -> list[str]:
        return [member.value for member in cls]

    @classmethod
    def parse(cls: type[_Value], value: str | AxisValue, *, field: str | None = None) -> _Value:
        """Parse ``value`` (case-insensitive, ``_`` or ``-``); the error names the field and the allowed values."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "-").replace(" ", "-")
            for member in cls:
                if member.value == key:
                    return member
        name = field or cls.__name__.lower()
        raise ValueError(f"{name}: {value!r} is not one of {cls.allowed()}")


class Configuration(AxisValue):
    """λ: whether the input manipulation has trainable parameters."""

    FIXED = ("fixed", "λ_fix", "the manipulation is hand-designed and never trained (templates, demonstrations)")
    LEARNABLE = ("learnable", "λ_learn", "the manipulation has parameters optimised on target data")


class Operator(AxisValue):
    """τ: how the manipulation combines with what it acts on."""

    ADDITIVE = ("additive", "⊕_add", "adds a perturbation to the input and keeps its shape: x' = x + δ")
    CONCATENATIVE = (
        "concatenative",
        "⊕_cat",
        "prepends or inserts prompt elements and keeps the original content as one block: x' = [P; x]",
    )
    PARAMETRIC = (
        "parametric",
        "⊕_par",
        "a learned or designed function of the input that is neither a sum nor a concatenation: x' = g_θ(x)",
    )


class Location(AxisValue):
    """ℓ: which interface of the frozen model the manipulation acts on."""

    INPUT = ("input", "ℓ_in", "the raw input space of f: pixels, waveforms, token strings or ids")
    EMBEDDING = ("embedding", "ℓ_emb", "the output of f's embedding layer, before the first block")
    HIDDEN = ("hidden", "ℓ_hid", "intermediate states of f: hidden states or attention keys and values")


class Alignment(AxisValue):
    """ω: how the frozen model's outputs are mapped onto the target task."""

    IDENTITY = ("identity", "ω_id", "the model's own outputs (or a restriction of them) are the prediction")
    RULE_BASED = (
        "rule-based",
        "ω_rule",
        "a fixed mapping chosen by hand, without parameters or fitting (first-k labels, verbalizer, answer parser)",
    )
    STATISTICAL = (
        "statistical",
        "ω_stat",
        "a mapping estimated from data by counting or Bayesian rules, with no gradient parameters (FLM, ILM, BLM)",
    )
    LINEAR = ("linear", "ω_lin", "a trainable affine map W z + b on the model's outputs")


class Paradigm(AxisValue):
    """The research community a method comes from."""

    MODEL_REPROGRAMMING = (
        "model-reprogramming",
        "MR",
        "learned perturbations of the raw input plus an output mapping, from the adversarial-examples line",
    )
    PROMPT_TUNING = (
        "prompt-tuning",
        "PT",
        "learned continuous prompts in the embedding or hidden space, from the NLP prompting line",
    )
    PROMPT_INSTRUCTION = (
        "prompt-instruction",
        "PI",
        "fixed natural-language instructions and demonstrations, no training (in-context learning)",
    )


class Modality(AxisValue):
    """The data a model consumes (for cross-modal methods, also the target task's data)."""

    VISION = ("vision", "", "images and video frames")
    TEXT = ("text", "", "natural-language tokens")
    VISION_LANGUAGE = ("vision-language", "", "paired image and text models (CLIP, multimodal LLMs)")
    AUDIO = ("audio", "", "speech, music and other waveforms or spectrograms")
    TIME_SERIES = ("time-series", "", "univariate or multivariate sequences of measurements")
    GRAPH = ("graph", "", "nodes and edges")
    TABULAR = ("tabular", "", "rows of heterogeneous features")
    MOLECULE = ("molecule", "", "molecular graphs and SMILES strings")
    PROTEIN = ("protein", "", "amino-acid sequences")
    DNA = ("dna", "", "nucleotide sequences")
    GENERAL = ("general", "", "modality-agnostic (theory, surveys, generic methods)")


class Access(AxisValue):
    """What a method needs from the frozen model ``f``: the interface it runs against and learns through.

    The values answer "what can I run against a text-only API / a model whose scores I see / a model
    whose internals or gradients I have". Fixed methods need one of the first three, learned ones one
    of the last two (:data:`FIXED_ACCESS`, :data:`LEARNED_ACCESS`).
    """

    TEXT_ONLY = (
        "text-only",
        "T",
        "a text API: prompts in, generated text out; answers are parsed from the text (no scores, no internals)",
    )
    SCORES = (
        "scores",
        "S",
        "f's output scores (logits, probabilities, similarities) are read; nothing in front of f is optimised",
    )
    HIDDEN_STATES = (
        "hidden-states",
        "H",
        "white-box, no gradients: f's internal activations are read or written (steering, task vectors)",
    )
    ZEROTH_ORDER = (
        "zeroth-order",
        "ZO",
        "black-box training: only f's output scores are queried; gradients are estimated from finite differences",
    )
    GRADIENT = ("gradient", "∇", "white-box training: gradients are back-propagated through f to the manipulation")

    @classmethod
    def parse(cls, value: str | AxisValue, *, field: str | None = None) -> Access:
        if isinstance(value, str) and value.strip().lower() == "none":
            raise ValueError(
                f"{field or 'access'}: 'none' was split into 'text-only' (a text API), 'scores' (output scores "
                f"are read) and 'hidden-states' (internal activations are read or written); allowed: {cls.allowed()}"
            )
        return super().parse(value, field=field)


class FWeights(AxisValue):
    """What a method does to the weights of f itself: the boundary with parameter-centric adaptation."""

    FROZEN = ("frozen", "f❄", "f's weights never change: adaptation happens only at its interfaces (reprogramming)")
    ADDED_MODULES = (
        "added-modules",
        "f+Δ",
        "f's own weights stay frozen but trained modules are inserted inside it (gated adapters, cross-attention)",
    )
    TRAINED = ("trained", "f✎", "f's weights are also trained (fine-tuned) together with the prompt or program")


FIXED_ACCESS = frozenset({Access.TEXT_ONLY, Access.SCORES, Access.HIDDEN_STATES})
"""Access values of a fixed method: it uses f, never trains through it."""
LEARNED_ACCESS = frozenset({Access.ZEROTH_ORDER, Access.GRADIENT})
"""Access values of a learned method: how its training signal passes through f."""


def default_access(configurations: Iterable[str | AxisValue], locations: Iterable[str | AxisValue]) -> Access:
    """The access a method needs when it does not declare one: ``gradient`` if anything is learned,
    ``hidden-states`` if a fixed part acts on hidden states, ``scores`` otherwise."""
    if any(Configuration.parse(c) is Configuration.LEARNABLE for c in configurations):
        return Access.GRADIENT
    if any(Location.parse(loc) is Location.HIDDEN for loc in locations):
        return Access.HIDDEN_STATES
    return Access.SCORES


_AXIS_SYMBOLS = {"Configuration": "λ", "Operator": "τ", "Location": "ℓ", "Alignment": "ω"}

AXES: dict[str, type[AxisValue]] = {
    "configuration": Configuration,
    "operator": Operator,
    "location": Location,
    "alignment": Alignment,
}
"""The four coordinates, keyed by the field name used in specs, YAML and the CLI."""


def parse_axis_value(field: str, value: "str | AxisValue") -> AxisValue:
    """Parse a value for the named field of :data:`AXES` (or ``paradigm``, ``modality``, ``access``)."""
    enums: dict[str, type[AxisValue]] = {
        **AXES,
        "paradigm": Paradigm,
        "modality": Modality,
        "access": Access,
        "f_weights": FWeights,
    }
    if field not in enums:
        raise ValueError(f"field: {field!r} is not one of {sorted(enums)}")
    return enums[field].parse(value, field=field)
