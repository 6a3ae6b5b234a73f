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
