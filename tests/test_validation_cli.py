"""``nnr validate``, the pytest helper ``parametrize_with_checks``, and ``check_catalog_entry``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import validation_methods as M  # noqa: E402

from reprogrammability.cli import main  # noqa: E402
from reprogrammability.framework.testing import MethodCheck, cached_report, method_id, parametrize_with_checks  # noqa: E402
from reprogrammability.framework.validation import CHECKS, check_catalog_entry  # noqa: E402

FACTORY_FILE = """
import sys
sys.path.insert(0, {here!r})
from validation_methods import additive_input_rule_based as good
from validation_methods import WRONG
bad = WRONG["nondeterministic"].factory
"""


@pytest.fixture(scope="module")
def factory_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("methods") / "my_method.py"
    path.write_text(FACTORY_FILE.format(here=str(HERE)))
    return path


def test_cli_prints_report_and_exits_zero(factory_file, capsys):
    assert main(["validate", f"{factory_file}:good"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"validate {factory_file}:good  (λ=learnable τ=additive ℓ=input ω=rule-based")
    assert "PASS  frozen-unchanged" in out and "0 failed" in out


def test_cli_json_and_failure_exit_status(factory_file, capsys):
    assert main(["validate", f"{factory_file}:bad", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False
    failed = [c["name"] for c in data["checks"] if c["status"] == "failed"]
    assert failed == ["deterministic"]
    assert main(["validate", f"{factory_file}:bad", "--failures-only"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "FAIL  deterministic" in lines[1]


def test_cli_usage_errors(factory_file, capsys):
    assert main(["validate", f"{factory_file}:absent"]) == 2
    assert "defines no 'absent'" in capsys.readouterr().err
    assert main(["validate", "no/such/file.py:f"]) == 2
    assert "no file" in capsys.readouterr().err
    assert main(["validate"]) == 2
    try:  # refused by the argument parser (exit status 2) or by the handler (returns 2)
        status = main(["validate", f"{factory_file}:good", "--steps", "0"])
    except SystemExit as exit:
        status = exit.code
    assert status == 2
    assert "--steps" in capsys.readouterr().err


def test_cli_lists_checks(capsys):
    assert main(["validate", "--list-checks"]) == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in CHECKS)
    assert out.count("why: ") == len(CHECKS) and "why: a frozen f is never part of what is optimised" in out
    assert main(["validate", "--list-checks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in listed] == [c.name for c in CHECKS]
    assert all(c["why"] and c["group"] and c["description"] for c in listed)


def test_cli_module_is_light():
    code = (
        "import sys, argparse; import reprogrammability.framework.validation_cli as m; "
        "p = argparse.ArgumentParser(); m.register(p.add_subparsers()); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- the pytest helper ----------------------------------------------------------------------------------


@parametrize_with_checks([M.additive_input_rule_based, M.template_rule_based])
def test_parametrize_with_checks_runs_each_check(method, check):
    check(method)


def test_parametrize_with_checks_ids_and_arguments():
    mark = parametrize_with_checks([M.additive_input_rule_based], checks=["frozen-unchanged", "deterministic"])
    assert mark.args[0] == ("method", "check")
    assert [repr(c) for _, c in mark.args[1]] == ["MethodCheck('frozen-unchanged')", "MethodCheck('deterministic')"]
    assert mark.kwargs["ids"] == [
        "additive_input_rule_based-frozen-unchanged",
        "additive_input_rule_based-deterministic",
    ]
    with pytest.raises(ValueError, match="unknown"):
        parametrize_with_checks([M.additive_input_rule_based], checks=["frozen"])
    assert method_id("ilm-vp") == "ilm-vp"


def test_method_check_fails_with_the_reason_and_passes_what_does_not_apply():
    wrong = M.WRONG["wrong-symbolic-count"].factory
    with pytest.raises(pytest.fail.Exception, match="fails symbolic-parameter-count: I0:WrongCount declares"):
        MethodCheck("symbolic-parameter-count")(wrong)
    not_applicable = MethodCheck("location-hidden")
    not_applicable(wrong)  # no skip: a check that does not apply passes, with its reason kept
    assert not_applicable.not_applicable == "no input part at location hidden"
    MethodCheck("frozen-unchanged")(wrong)  # passes: nothing else is wrong with it
    assert cached_report(wrong) is cached_report(wrong)  # validated once, then cached


# --- catalog entries --------------------------------------------------------------------------------------


ENTRY = """
id: {id}
name: My additive program
paradigm: model-reprogramming
modality: vision
coordinates:
  configuration: learnable
  operator: additive
  location: {location}
  alignment: rule-based
access: gradient
paper:
  title: A tiny additive program for testing the validator
  authors: [Doe, Jane]
  year: 2024
  venue: arXiv
implementation: reprogrammability.implementations.reprogramming.{module}:build
summary: >-
  A learned perturbation added to the whole image, read out through the first C_t labels of the frozen
  classifier; used here to test that catalog entries are validated together with their implementation.
"""


def _entry(tmp_path, entry_id="my-program", location="input") -> Path:
    path = tmp_path / f"{entry_id}.yaml"
    path.write_text(ENTRY.format(id=entry_id, module=entry_id.replace("-", "_"), location=location))
    return path


def test_catalog_entry_with_matching_implementation_passes(tmp_path):
    report = check_catalog_entry(_entry(tmp_path), implementation_factory=M.additive_input_rule_based)
    assert report.passed, report.format(verbose=False)
    assert report.method == "my-program"
    assert report.checks[0].name == "catalog-entry" and "valid entry 'my-program'" in report.checks[0].reason
    assert "matches the catalog entry my-program.yaml" in report["declared-coordinates"].reason


def test_catalog_entry_that_disagrees_with_its_implementation(tmp_path):
    path = _entry(tmp_path, location="embedding")
    report = check_catalog_entry(path, implementation_factory=M.additive_input_rule_based)
    assert report.failed_names == ["declared-coordinates"]
    assert "location: declared embedding, built input" in report["declared-coordinates"].reason


def test_catalog_entry_that_is_invalid(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent("id: broken\nname: x\n"))
    report = check_catalog_entry(path)
    assert report.failed_names == ["catalog-entry"]
    assert "broken.yaml" in report["catalog-entry"].reason


def test_catalog_entry_without_implementation(tmp_path):
    report = check_catalog_entry(_entry(tmp_path, "not-implemented-yet"))
    assert report.failed_names == ["catalog-implementation"]
    assert "not_implemented_yet" in report["catalog-implementation"].reason


def test_catalog_check_command(tmp_path, factory_file, capsys):
    import argparse

    from reprogrammability.framework import validation_cli

    parser = validation_cli.add_catalog_check_arguments(argparse.ArgumentParser(prog="nnr catalog check"))
    parser.set_defaults(handler=validation_cli.run_catalog_check)
    entry = _entry(tmp_path)
    args = parser.parse_args([str(entry), "--implementation", f"{factory_file}:good"])
    assert args.handler(args) == 0
    assert "PASS  catalog-entry" in capsys.readouterr().out
    args = parser.parse_args(
        [str(_entry(tmp_path, location="hidden")), "--implementation", f"{factory_file}:good", "--json"]
    )
    assert args.handler(args) == 1
    data = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in data["checks"] if c["status"] == "failed"] == ["declared-coordinates"]
    args = parser.parse_args([str(tmp_path / "absent.yaml")])
    assert args.handler(args) == 2
    assert "no file" in capsys.readouterr().err
