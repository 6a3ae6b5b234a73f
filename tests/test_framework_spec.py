"""The axes and the Spec rules: every rule fires on its violation and only there."""

from __future__ import annotations

import pytest

from reprogrammability.framework import (
    AXES,
    SPEC_RULES,
    Access,
    Alignment,
    Configuration,
    Location,
    Operator,
    Paradigm,
    Spec,
    SpecError,
)

VALID = dict(
    configuration="learnable",
    operator="additive",
    location="input",
    alignment="statistical",
    paradigm="model-reprogramming",
    access="gradient",
    modality="vision",
)


def make(**changes):
    return Spec(**{**VALID, **changes})


def rules_broken(**changes) -> set[str]:
    with pytest.raises(SpecError) as info:
        make(**changes)
    return {rule for rule, _ in info.value.violations}


def test_axes_carry_symbol_and_meaning():
    assert [a.axis_symbol() for a in AXES.values()] == ["λ", "τ", "ℓ", "ω"]
    assert len(Configuration) == 2 and len(Operator) == 3 and len(Location) == 3 and len(Alignment) == 4
    assert len(Paradigm) == 3 and {a.value for a in Access} == {
        "gradient",
        "zeroth-order",
        "text-only",
        "scores",
        "hidden-states",
    }
    for enum in (*AXES.values(), Paradigm, Access):
        for member in enum:
            assert member.meaning, member
    assert str(Location.EMBEDDING) == "embedding"
    assert Location.parse("Embedding") is Location.EMBEDDING
    assert Alignment.parse("rule_based") is Alignment.RULE_BASED


def test_parse_error_names_field_and_allowed_values():
    with pytest.raises(ValueError, match=r"location: 'latent' is not one of \['input', 'embedding', 'hidden'\]"):
        Location.parse("latent", field="location")


def test_valid_spec_normalises_to_sorted_tuples():
    spec = make(location=["hidden", "embedding"], operator="concatenative", paradigm="prompt-tuning")
    assert spec.location == (Location.EMBEDDING, Location.HIDDEN)
    assert spec.coordinates_str() == "λ=learnable τ=concatenative ℓ=embedding+hidden ω=statistical"


def test_unknown_value_names_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="operator: 'multiplicative' is not one of"):
        make(operator="multiplicative")
    with pytest.raises(ValidationError, match="location: at least one value"):
        make(location=[])
    with pytest.raises(ValidationError, match="repeated value"):
        make(alignment=["linear", "linear"])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        make(colour="red")


@pytest.mark.parametrize(
    "changes, rule",
    [
        (
            dict(configuration="fixed", access="scores", paradigm="prompt-instruction", input_parameters=5),
            "fixed-has-no-trainable-parameters",
        ),
        (dict(input_parameters=0), "learnable-has-trainable-parameters"),
        (dict(alignment_parameters=10), "statistical-alignment-has-no-gradient-parameters"),
        (dict(alignment="rule-based", alignment_parameters=3), "rule-based-alignment-has-no-parameters"),
        (dict(alignment="identity", alignment_parameters=3), "rule-based-alignment-has-no-parameters"),
        (dict(alignment="linear", alignment_parameters=0), "linear-alignment-has-parameters"),
        (dict(configuration="fixed", paradigm="prompt-instruction"), "fixed-needs-no-model-access"),
        (dict(access="scores"), "learnable-needs-model-access"),
        (dict(access="hidden-states"), "learnable-needs-model-access"),
        (dict(modality="text"), "additive-needs-continuous-input"),
        (dict(paradigm="prompt-instruction"), "paradigm-matches-configuration"),
        (dict(configuration="fixed", access="text-only"), "paradigm-matches-configuration"),
    ],
)
def test_each_rule_fires(changes, rule):
    assert rule in rules_broken(**changes)


def test_every_rule_is_exercised_and_named_uniquely():
    names = [r.name for r in SPEC_RULES]
    assert len(names) == len(set(names))
    for rule in SPEC_RULES:
        assert rule.description and callable(rule.check)


def test_rule_messages_say_what_is_allowed():
    with pytest.raises(SpecError) as info:
        make(configuration="fixed", paradigm="prompt-instruction")
    message = str(info.value)
    assert (
        "[fixed-needs-no-model-access]" in message
        and "access must be one of ['hidden-states', 'scores', 'text-only']" in message
    )


def test_measured_rules_are_skipped_without_measurements():
    spec = make(alignment="linear")  # no alignment_parameters measured: nothing to check
    assert spec.alignment_parameters is None
    measured = spec.with_measurements(input_parameters=100, alignment_parameters=110)
    assert measured.alignment_parameters == 110
    with pytest.raises(SpecError, match="linear-alignment-has-parameters"):
        spec.with_measurements(input_parameters=100, alignment_parameters=0)


def test_hybrid_configuration_and_several_locations_are_allowed():
    spec = make(
        configuration=["fixed", "learnable"],
        location=["embedding", "hidden"],
        operator="concatenative",
        paradigm="prompt-tuning",
        input_parameters=12,
    )
    assert spec.configuration == (Configuration.FIXED, Configuration.LEARNABLE)


def test_spec_is_torch_free():
    import subprocess
    import sys

    code = "import sys, reprogrammability.framework as F; F.Spec; print('torch' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_access_none_was_split_and_the_error_says_into_what():
    from reprogrammability.framework.axes import Access

    with pytest.raises(ValueError, match="text-only.*scores.*hidden-states"):
        Access.parse("none")


@pytest.mark.parametrize("access", ["text-only", "scores", "hidden-states"])
def test_every_fixed_access_value_is_allowed_for_a_fixed_method(access):
    spec = make(configuration="fixed", paradigm="prompt-instruction", input_parameters=0, access=access)
    assert str(spec.access) == access
