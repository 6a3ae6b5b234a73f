"""Deliberately wrong methods: each is caught by the right named check, for the right reason.

``validation_methods.WRONG`` has one method for every way each check can fail; each differs from a
correct method in one respect. The test asserts that the named check fails, that its reason says
what was observed, and that nothing else fails except the declared consequences.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import validation_methods as M  # noqa: E402

from reprogrammability.framework.validation import CHECKS, FAILED, validate  # noqa: E402


@pytest.mark.parametrize("name", sorted(M.WRONG))
def test_wrong_method_is_caught_for_the_right_reason(name):
    wrong = M.WRONG[name]
    report = validate(wrong.factory, name=name)
    result = report[wrong.catches]
    assert result.status == FAILED, f"{name} slipped through {wrong.catches}:\n{report}"
    for words in wrong.because:
        assert words in result.reason, f"{name}: reason {result.reason!r} lacks {words!r}"
    unexpected = set(report.failed_names) - {wrong.catches} - wrong.also
    assert not unexpected, f"{name} also failed {unexpected}:\n{report.format(verbose=False)}"
    assert not report.passed


def test_every_check_has_a_wrong_method():
    """Each named check can fail, and there is a method here that makes it fail (setup checks aside)."""
    caught = {w.catches for w in M.WRONG.values()}
    setup = {"example-builds", "forward-runs", "training-runs", "declared-coordinates"}
    assert {c.name for c in CHECKS} - setup <= caught


def test_spec_rule_violations_name_the_rule():
    report = validate(M.WRONG["fixed-with-trainable-parameter"].factory)
    assert "[fixed-has-no-trainable-parameters]" in report["configuration-fixed"].reason
    assert "refused its coordinates (fixed-has-no-trainable-parameters)" in report["example-builds"].reason
    identity = validate(M.WRONG["identity-with-parameters"].factory)
    assert "[rule-based-alignment-has-no-parameters] alignment is identity" in identity["alignment-identity"].reason


def test_messages_name_the_real_cause_when_f_was_modified():
    """When the method modified f, the reproducibility checks say so instead of blaming an unseeded factory."""
    report = validate(M.WRONG["changes-frozen-through-data"].factory)
    for name in ("deterministic", "save-load-roundtrip"):
        result = report[name]
        assert "not seeded" not in result.reason and "different frozen model" not in result.reason, result
        if result.status == FAILED:
            assert "f itself was modified" in result.reason, result


def test_checks_are_a_registry_of_named_functions_with_a_why():
    from reprogrammability.framework.validation import registry

    assert [c.name for c in CHECKS] == list(registry.ORDER)
    for info in CHECKS:
        assert callable(info.function) and info.function.__module__.startswith(
            "reprogrammability.framework.validation."
        ), info
        assert info.why and "\n" not in info.why and info.description, info
    families = {info.function.__module__.rsplit(".", 1)[-1] for info in CHECKS}
    assert {"frozen_model", "location", "operator", "configuration", "alignment", "access", "batch"} <= families
    assert {"determinism", "serialisation", "symbolic"} <= families
