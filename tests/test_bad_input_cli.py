"""The command line as a careless or hostile user meets it: every bad argument of ``nnr demo``, ``nnr bench`` and
``nnr validate`` fails at parse time the argparse way (exit 2, the argument named, what is allowed), before any
work; two runs into one output folder keep both results or the second refuses at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprogrammability.cli import build_parser, main
from reprogrammability.outputs import OutputError, RunFolder, check_output_directory, output_lock

PARSER = build_parser()


def parse_error(argv: list[str], capsys) -> str:
    """The argparse error for ``argv`` (asserting exit status 2), or fail if it parses."""
    with pytest.raises(SystemExit) as raised:
        PARSER.parse_args(argv)
    assert raised.value.code == 2, argv
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--epochs", "-1"], "argument --epochs: -1 is out of range; allowed: 0..10000"),
        (["demo", "--epochs", "1.5"], "argument --epochs: '1.5' is not a whole number"),
        (["demo", "--canvas", "100000"], "argument --canvas: 100000 is out of range; allowed: 32..1024"),
        (["demo", "--batch-size", "0"], "argument --batch-size: 0 is out of range"),
        (["demo", "--train-size", "-3"], "argument --train-size: -3 is out of range"),
        (
            ["demo", "--learning-rate", "nan"],
            "argument --learning-rate: nan is not allowed; allowed: a finite number > 0",
        ),
        (["demo", "--learning-rate", "-0.1"], "argument --learning-rate: -0.1 is not allowed"),
        (["demo", "--learning-rate", "inf"], "argument --learning-rate: inf is not allowed"),
        (["demo", "--seed", "-5"], "argument --seed: -5 is out of range; allowed: 0..4294967295"),
        (["demo", "--seed", str(2**70)], "argument --seed: 1180591620717411303424 is out of range"),
        (["demo", "--device", "tpu"], "argument --device: 'tpu' is not a torch device"),
        (["demo", "--output-dir", "/dev/null"], "argument --output-dir: /dev/null is a file; expected a directory"),
        (["demo", "--output-dir", ""], "argument --output-dir: is empty; expected a directory path"),
        (
            ["demo", "--output-dir", "/dev/null/sub"],
            "argument --output-dir: /dev/null is a file, so /dev/null/sub cannot be created",
        ),
        (["bench", "--device", "tpu"], "argument --device: 'tpu' is not a torch device"),
        (["bench", "--threads", "-3"], "argument --threads: -3 is out of range; allowed: 0..1024"),
        (["bench", "--threads", "abc"], "argument --threads: 'abc' is not a whole number"),
        (["bench", "--output", "/dev/null"], "argument --output: /dev/null is a file; expected a directory"),
        (["bench", "--output", ""], "argument --output: is empty; expected a directory path"),
        (["validate", "--steps", "0", "x.py:f"], "argument --steps: 0 is out of range; allowed: 1..100000"),
        (["validate", "--seed", "-1", "x.py:f"], "argument --seed: -1 is out of range"),
    ],
)
def test_bad_arguments_fail_at_parse_time_naming_the_argument(argv, message, capsys):
    error = parse_error(argv, capsys)
    assert error == f"nnr {argv[0]}: error: {message}" or error.startswith(f"nnr {argv[0]}: error: {message}"), error


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("command", ["demo", "bench"])
def test_cuda_without_cuda_is_an_argument_error(command, capsys):
    error = parse_error([command, "--device", "cuda"], capsys)
    assert (
        error
        == f"nnr {command}: error: argument --device: 'cuda' but CUDA is not available on this machine; allowed: 'auto', 'cpu'"
    )


def test_a_read_only_place_is_refused_before_any_work(capsys):
    error = parse_error(["demo", "--output-dir", "/proc/nnr-demo"], capsys)
    assert error.startswith("nnr demo: error: argument --output-dir: cannot create files in /proc")


def test_demo_checks_the_image_against_the_canvas_before_any_work(tmp_path, capsys):
    code = main(["demo", "--canvas", "64", "--image-size", "64", "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert (
        "argument --image-size: 64 leaves no frame for the program in --canvas 64; allowed: 8..63"
        in capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == [], "nothing is written for a refused run"


_INTEGER_OPTIONS = {
    "--epochs": (0, 10_000),
    "--canvas": (32, 1024),
    "--batch-size": (1, 4096),
    "--seed": (0, 2**32 - 1),
}


@settings(max_examples=150, deadline=None)
@given(
    option=st.sampled_from(sorted(_INTEGER_OPTIONS)),
    text=st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=12)),
)
def test_fuzzed_integer_arguments_parse_or_fail_cleanly(option, text):
    low, high = _INTEGER_OPTIONS[option]
    try:
        value = getattr(PARSER.parse_args(["demo", option, text]), option[2:].replace("-", "_"))
    except SystemExit as stop:
        assert stop.code == 2
        return
    assert isinstance(value, int) and low <= value <= high


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=20))
def test_fuzzed_devices_parse_only_to_devices_this_machine_has(text):
    import torch

    try:
        value = PARSER.parse_args(["bench", "--device", text]).device
    except SystemExit as stop:
        assert stop.code == 2
        return
    assert value == "auto" or torch.device(value).type == "cpu" or torch.cuda.is_available()


def test_nnr_prints_no_traceback_for_a_bad_argument():
    result = subprocess.run(
        [sys.executable, "-m", "reprogrammability", "demo", "--epochs", "-1"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --epochs: -1 is out of range" in result.stderr


# -- output folders: checked first, never shared silently, never half-written --------------------------------
def test_check_output_directory_names_the_argument(tmp_path):
    assert check_output_directory(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists(), "checking creates nothing"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="--out: .*file is a file; expected a directory"):
        check_output_directory(tmp_path / "file", "--out")
    with pytest.raises(OutputError, match="--out: contains a NUL byte"):
        check_output_directory("a\0b", "--out")


def test_two_runs_into_one_new_folder_keep_both_results(tmp_path):
    target = tmp_path / "results"
    first, second = RunFolder(target, "--output-dir"), RunFolder(target, "--output-dir")  # both reserved up front
    (first.path / "result.json").write_text(json.dumps({"run": 1}))
    (second.path / "result.json").write_text(json.dumps({"run": 2}))
    assert first.publish() == target
    published = second.publish()
    assert published.parent == target and published.name.startswith("run-")
    assert json.loads((target / "result.json").read_text()) == {"run": 1}
    assert json.loads((published / "result.json").read_text()) == {"run": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"], "no staging folder is left"
    third = RunFolder(target, "--output-dir")  # a folder with results: the run goes to its own subfolder
    (third.path / "result.json").write_text(json.dumps({"run": 3}))
    assert third.publish().parent == target and len(list(target.glob("run-*"))) == 2
    assert oct((target / "result.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_failed_run_leaves_nothing(tmp_path):
    run = RunFolder(tmp_path / "out", "--output-dir")
    (run.path / "half.json").write_text("{")
    run.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_second_bench_into_a_busy_folder_refuses_at_once(tmp_path, capsys):
    with output_lock(tmp_path, "--output", "nnr bench"):
        code = main(["bench", "--tiny", "--suite", "mapping", "--output", str(tmp_path)])
        with pytest.raises(
            OutputError, match=f"--output: {tmp_path} is in use by another nnr bench run \\(pid {os.getpid()}\\)"
        ):
            with output_lock(tmp_path, "--output", "nnr bench"):
                pass
    assert code == 2
    assert f"is in use by another nnr bench run (pid {os.getpid()})" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "the refused run measured and wrote nothing"
    with output_lock(tmp_path, "--output", "nnr bench"):  # released: the next run may proceed
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_demo_run_that_fails_leaves_no_files_and_no_traceback(tmp_path, monkeypatch, capsys):
    from reprogrammability import demo

    def fails(args, run_folder):
        (run_folder.path / "result.json").write_text("{")  # half-written when the failure comes
        raise RuntimeError("simulated failure while training")

    monkeypatch.setattr(demo, "_run", fails)
    assert main(["demo", "--output-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == "nnr demo: error: simulated failure while training"
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_absurd_batch_memory_before_any_work(tmp_path, capsys):
    assert main(["demo", "--canvas", "1024", "--batch-size", "4096", "--output-dir", str(tmp_path / "o")]) == 2
    assert (
        "argument --batch-size: 4096 images of 1024x1024 pixels do not fit the memory guard" in capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []
