"""The validator on correct methods at every coordinate: nothing is flagged, every claim is checked.

Also: what ``validate`` accepts (factory, ValidationExample, MethodInfo, registered build, file path,
Reprogrammer instance), the report types, and that validation leaves the caller's state alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

import validation_methods as M  # noqa: E402

from reprogrammability.framework import Spec  # noqa: E402
from reprogrammability.framework.validation import (  # noqa: E402
    CHECKS,
    FAILED,
    PASSED,
    SKIPPED,
    CheckResult,
    ValidationError,
    ValidationExample,
    ValidationReport,
    check_method,
    load_target,
    validate,
)
from reprogrammability.implementations.registry import MethodInfo  # noqa: E402

_REPORTS: dict[str, ValidationReport] = {}


def report_of(name: str) -> ValidationReport:
    if name not in _REPORTS:
        _REPORTS[name] = validate(M.CORRECT[name], name=name)
    return _REPORTS[name]


# which checks must have *run and passed* (not merely skipped) for each correct method
APPLIES = {
    "additive-input-rule-based": {
        "configuration-learnable",
        "location-input",
        "operator-additive",
        "alignment-rule-based",
    },
    "padding-statistical": {"configuration-learnable", "location-input", "operator-additive", "alignment-statistical"},
    "parametric-input-linear": {"configuration-learnable", "location-input", "operator-parametric", "alignment-linear"},
    "zeroth-order-additive": {"configuration-learnable", "location-input", "operator-additive", "alignment-rule-based"},
    "hidden-additive-linear": {"configuration-learnable", "location-hidden", "operator-additive", "alignment-linear"},
    "soft-prompt-rule-based": {
        "configuration-learnable",
        "location-embedding",
        "operator-concatenative",
        "alignment-rule-based",
    },
    "embedding-additive-linear": {
        "configuration-learnable",
        "location-embedding",
        "operator-additive",
        "alignment-linear",
    },
    "prefix-tuning-identity": {
        "configuration-learnable",
        "location-hidden",
        "operator-concatenative",
        "alignment-identity",
    },
    "activation-addition-identity": {
        "configuration-fixed",
        "location-hidden",
        "operator-additive",
        "alignment-identity",
    },
    "template-rule-based": {"configuration-fixed", "location-input", "operator-concatenative", "alignment-rule-based"},
}
ALWAYS = {
    "example-builds",
    "spec-rules",
    "forward-runs",
    "training-runs",
    "frozen-unchanged",
    "frozen-no-gradient",
    "frozen-eval-mode",
    "frozen-no-writes",
    "frozen-unmodified-modules",
    "frozen-computes-as-copy",
    "frozen-runs-only-in-composition",
    "batch-independence",
    "input-dependence",
    "access",
    "symbolic-parameter-count",
    "symbolic-formula-renders",
    "inference-overhead",
    "deterministic",
    "save-load-roundtrip",
}


@pytest.mark.parametrize("name", sorted(M.CORRECT))
def test_correct_method_is_never_flagged(name):
    report = report_of(name)
    assert report.passed, report.format(verbose=False)
    ran = {c.name for c in report.checks if c.status == PASSED}
    missing = (ALWAYS | APPLIES[name]) - ran
    assert not missing, f"{name}: these checks did not run: {missing}\n{report}"
    skipped = {c.name for c in report.checks if c.status == SKIPPED}
    assert skipped == {c.name for c in CHECKS} - ran, "every check either passed or was skipped as not applicable"
    for check in report.checks:
        if check.status == SKIPPED:  # a skip says why it does not apply
            assert check.reason.startswith(("no ", "the output alignment is ", "not applicable: ")), check


def test_report_lists_every_check_in_order_with_reasons():
    report = report_of("additive-input-rule-based")
    assert [c.name for c in report.checks] == [c.name for c in CHECKS]
    assert len({c.name for c in CHECKS}) == len(CHECKS)
    assert all(isinstance(c, CheckResult) and c.reason for c in report.checks)
    assert report["frozen-unchanged"].passed and "bit-identical" in report["frozen-unchanged"].reason
    assert "symbolic = measured = 192 (I0=192, O=0)" in report["symbolic-parameter-count"].reason  # δ is 3·8·8
    assert "λ=learnable τ=additive ℓ=input ω=rule-based" in report.coordinates
    with pytest.raises(KeyError, match="not in this report"):
        report["no-such-check"]
    assert "declared-coordinates" in report and report["declared-coordinates"].status == SKIPPED


def test_report_serialises_and_formats():
    report = report_of("padding-statistical")
    data = json.loads(report.to_json())
    assert data["method"] == "padding-statistical" and data["passed"] is True
    assert data["counts"][FAILED] == 0 and data["counts"][PASSED] + data["counts"][SKIPPED] == len(CHECKS)
    assert {c["name"] for c in data["checks"]} == {c.name for c in CHECKS}
    text = report.format()
    assert text.splitlines()[0].startswith("validate padding-statistical")
    assert "PASS  operator-additive" in text and "0 failed" in text.splitlines()[-1]
    assert len(report.format(verbose=False).splitlines()) == 2  # header and summary only


def test_measured_observations_in_reasons():
    # the reasons state what was observed, with the real numbers of the method
    padding = report_of("padding-statistical")
    assert "larger canvas (6, 3, 6, 6) -> (6, 3, 8, 8)" in padding["operator-additive"].reason
    assert "fit() estimates omega" in padding["alignment-statistical"].reason
    prompt = report_of("soft-prompt-rule-based")
    assert "inserts P=3 prompt positions (3 at 0); the original 5" in prompt["operator-concatenative"].reason
    assert "(6, 5, 16) -> (6, 8, 16)" in prompt["location-embedding"].reason
    prefix = report_of("prefix-tuning-identity")
    assert "key/value prefix of length P=2 to 2 attention layers" in prefix["operator-concatenative"].reason
    assert "restriction to 3 of 40 outputs" in prefix["alignment-identity"].reason
    template = report_of("template-rule-based")
    assert "+17 characters" in template["operator-concatenative"].reason
    zo = report_of("zeroth-order-additive")
    assert "zeroth-order estimator SPSA" in zo["training-runs"].reason
    assert "received zeroth-order estimates" in zo["configuration-learnable"].reason


def test_symbolic_count_matches_measured_for_every_part():
    report = report_of("parametric-input-linear")
    # conv 3→3 3×3 with bias = 84, linear 10→3 with bias = 33
    assert "symbolic = measured = 117 (I0=84, O=33)" in report["symbolic-parameter-count"].reason


# --- what validate accepts -------------------------------------------------------------------------------


def test_factory_is_called_twice_under_the_same_seed():
    seeds = []

    def factory():
        seeds.append(torch.initial_seed())
        return M.additive_input_rule_based()

    report = validate(factory)
    assert report.passed, report.format(verbose=False)
    assert len(seeds) == 2  # the main run and the same-seed rerun (whose untrained deep copy loads the saved parts)
    assert len(set(seeds)) == 1
    assert report.method == "test_factory_is_called_twice_under_the_same_seed.<locals>.factory"


def test_validation_example_and_four_tuple_are_accepted():
    example = M.zeroth_order_additive()
    assert isinstance(example, ValidationExample)

    def four_tuple():
        ex = M.zeroth_order_additive()
        return ex.reprogrammer, ex.inputs, ex.targets, M.SPSA()

    report = validate(four_tuple)
    assert report["configuration-learnable"].status == PASSED
    assert "SPSA" in report["training-runs"].reason


def test_reprogrammer_instance_with_probe_data():
    rp, x, y = M.additive_input_rule_based()
    before = rp.inputs[0].delta.detach().clone()
    report = validate(rp, x, y)
    assert report.passed, report.format(verbose=False)
    assert "construction not re-run" in report["deterministic"].reason
    assert not torch.equal(before, rp.inputs[0].delta)  # the instance itself was trained (documented)
    with pytest.raises(TypeError, match="inputs/targets"):
        validate(rp)


def test_method_info_and_registered_build_compare_declared_coordinates():
    declared = Spec(
        configuration="learnable",
        operator="additive",
        location="input",
        alignment="rule-based",
        paradigm="model-reprogramming",
        access="gradient",
    )
    info = MethodInfo(
        id="my-program", factory=lambda model, config=None: None, spec=declared, example=M.additive_input_rule_based
    )
    report = validate(info)
    assert report.method == "my-program" and report.passed
    assert (
        report["declared-coordinates"].status == PASSED
        and "registry entry 'my-program'" in report["declared-coordinates"].reason
    )

    def build(model, config=None):
        return None

    build.method_info = MethodInfo(
        id="wrongly-declared",
        factory=build,
        example=M.additive_input_rule_based,
        spec=declared.model_copy(update={"location": ("embedding",)}),
    )
    report = validate(build)
    assert report.failed_names == ["declared-coordinates"]
    assert "location: declared embedding, built input" in report["declared-coordinates"].reason


def test_expected_coordinates_are_compared():
    expected = Spec(
        configuration="learnable",
        operator="concatenative",
        location="embedding",
        alignment="rule-based",
        paradigm="prompt-tuning",
        access="gradient",
    )
    report = validate(M.additive_input_rule_based, expected=expected)
    assert report.failed_names == ["declared-coordinates"]
    reason = report["declared-coordinates"].reason
    assert "operator: declared concatenative, built additive" in reason and "paradigm: declared prompt-tuning" in reason


def test_load_target_from_file_and_errors(tmp_path):
    file = tmp_path / "my_method.py"
    file.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom validation_methods import additive_input_rule_based as example\n"
        % str(Path(__file__).parent)
    )
    factory = load_target(f"{file}:example")
    assert factory is M.additive_input_rule_based or factory.__name__ == "additive_input_rule_based"
    assert validate(f"{file}:example").passed
    with pytest.raises(AttributeError, match="defines no 'missing'"):
        load_target(f"{file}:missing")
    with pytest.raises(FileNotFoundError, match="no file"):
        load_target(f"{tmp_path}/absent.py:example")
    with pytest.raises(ValueError, match="name the factory"):
        load_target(str(file))
    with pytest.raises(KeyError, match="unknown method"):
        load_target("no-such-method-anywhere")


def test_bad_factories_are_reported_not_raised():
    report = validate(lambda: (1, 2))
    assert report.failed_names == ["example-builds"]
    assert "expected (reprogrammer, inputs, targets)" in report["example-builds"].reason
    assert all(c.status == SKIPPED for c in report.checks if c.name != "example-builds")

    def mismatched():
        rp, x, y = M.additive_input_rule_based()
        return rp, x, y[:2]

    assert "6 inputs but 2 targets" in validate(mismatched)["example-builds"].reason

    def raises():
        raise RuntimeError("no weights here")

    assert "RuntimeError: no weights here" in validate(raises)["example-builds"].reason
    with pytest.raises(ValueError, match="steps"):
        validate(M.additive_input_rule_based, steps=0)
    with pytest.raises(TypeError, match="method"):
        validate(3.5)


def test_check_method_raises_validation_error_listing_failures():
    assert check_method(M.additive_input_rule_based).passed
    with pytest.raises(ValidationError, match=r"failed 1 check\(s\):\n  \[deterministic\]") as caught:
        check_method(M.WRONG["nondeterministic"].factory)
    assert isinstance(caught.value, AssertionError) and caught.value.report.failed_names == ["deterministic"]


def test_validation_leaves_global_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    deterministic = torch.are_deterministic_algorithms_enabled()
    grad = torch.is_grad_enabled()
    validate(M.additive_input_rule_based)
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG stream is untouched
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.is_grad_enabled() == grad
