"""The GPU check (``nnr gpu-check``, ``scripts/gpu-check.sh``), tested on CPU: everything but the GPU itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from reprogrammability import gpu_check
from reprogrammability.gpu_check import (
    PHASES,
    Budget,
    registered_methods,
    run_gpu_tests,
    run_method,
    sample_for_validation,
    summary_lines,
    write_report,
)
from reprogrammability.implementations.registry import get_method, list_methods

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["blm", "prefix-tuning"]  # one vision and one text method, each well under a second on CPU


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory) -> tuple[dict, Path, int]:
    output = tmp_path_factory.mktemp("gpu-check") / "report.json"
    code = gpu_check.main(
        [
            "--device",
            "cpu",
            "--methods",
            ",".join(SMOKE),
            "--steps",
            "2",
            "--validate",
            "1",
            "--no-gpu-tests",
            "--no-bench",
            "--output",
            str(output),
        ]
    )
    return json.loads(output.read_text()), output, code


def test_budget_counts_down_and_rejects_nonsense():
    now = [100.0]
    budget = Budget(10, clock=lambda: now[0])
    assert budget.remaining() == 10 and budget.allows(10)
    now[0] = 107.5
    assert budget.elapsed() == 7.5 and budget.remaining() == 2.5
    assert budget.allows(2) and not budget.allows(3)
    assert budget.allows(1, share=0.8) and not budget.allows(1, share=0.7)  # 75 % of the budget is spent
    with pytest.raises(ValueError, match="budget_seconds"):
        Budget(0)


def test_method_list_is_the_registry():
    assert registered_methods() == list_methods()
    assert registered_methods(["blm*", "prefix-tuning", "blm"]) == [*list_methods("blm*"), "prefix-tuning"]
    with pytest.raises(ValueError, match="methods: 'no-such-method'"):
        registered_methods(["no-such-method"])


def test_validation_sample_covers_every_paradigm_first():
    ids = list_methods()
    sample = sample_for_validation(ids, 8)
    assert len(sample) == len(set(sample)) == 8 and set(sample) <= set(ids)
    paradigms = {get_method(m).spec.paradigm for m in ids}
    assert {get_method(m).spec.paradigm for m in sample[: len(paradigms)]} == paradigms
    assert sample == sample_for_validation(list(reversed(ids)), 8)  # the order given does not matter
    assert sample_for_validation(ids, 0) == []


def test_smoke_run_on_cpu_writes_one_report(smoke_report):
    report, output, code = smoke_report
    assert code == 0
    assert set(report["phases"]) == set(PHASES)
    env = report["environment"]
    assert env["device"] == "cpu" and env["torch"] == torch.__version__ and env["cuda_available"] is False
    rows = {row["id"]: row for row in report["methods"]}
    assert list(rows) == SMOKE
    for row in rows.values():
        assert row["passed"] is True, row
        assert row["frozen"] == "unchanged, no gradients"
        assert row["timed"] == "training step" and row["steps"] == 3  # one warm-up step + 2 timed
        assert 0 < row["step_seconds"] < row["seconds"]
        assert row["peak_memory_bytes"] is None  # CUDA only
        assert row["trainable_parameters"] > 0
    assert rows["blm"]["paradigm"] == "model-reprogramming" and rows["prefix-tuning"]["paradigm"] == "prompt-tuning"
    assert [v["id"] for v in report["validation"]] == sample_for_validation(SMOKE, 1)
    assert all(v["passed"] for v in report["validation"]), report["validation"]
    for phase in ("gpu-tests", "bench", "bench-real"):
        assert report["phases"][phase] == {"run": False, "reason": "not asked for"}
    assert report["settings"]["device"] == "cpu" and report["settings"]["steps"] == 2
    assert not output.with_name(output.name + ".tmp").exists()
    lines = summary_lines(report)
    assert any(line.startswith("methods: 2/2 passed") for line in lines)


def test_a_failing_method_is_a_row_not_the_end(monkeypatch):
    def broken(method_id, device, seed=0):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(gpu_check, "_example_on", broken)
    row = run_method("blm", torch.device("cpu"))
    assert row["passed"] is False and row["error"].startswith("RuntimeError: CUDA error")


def test_a_method_without_trainable_parts_is_timed_on_forward_passes():
    row = run_method("in-context-learning", torch.device("cpu"), steps=2)
    assert row["passed"] and row["timed"] == "forward" and row["trainable_parameters"] == 0
    assert row["step_seconds"] > 0


def test_a_spent_budget_leaves_every_phase_recorded_as_not_run(tmp_path):
    report = gpu_check.run_gpu_check(
        "cpu", methods=SMOKE, budget_seconds=1e-6, output=tmp_path / "r.json", log=lambda message: None
    )
    assert [row["reason"] for row in report["methods"]] == ["not run: the time budget was spent"] * 2
    assert report["phases"]["methods"]["not_run"] == SMOKE
    assert report["phases"]["bench"] == {"run": False, "reason": "the time budget was spent"}
    assert json.loads((tmp_path / "r.json").read_text())["phases"] == report["phases"]


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        gpu_check.run_gpu_check("cpu", steps=0, output=None)
    with pytest.raises(ValueError, match="amp"):
        gpu_check.run_gpu_check("cpu", amp="fp8", output=None)


def test_gpu_test_counts_are_read_from_pytest(monkeypatch):
    def fake_run(command, **options):
        assert command[-4:] == ["-q", "-p", "no:cacheprovider", "tests"] and "gpu" in command
        return subprocess.CompletedProcess(command, 0, stdout="..\n3 passed, 900 deselected in 4.2s\n", stderr="")

    monkeypatch.setattr(gpu_check.subprocess, "run", fake_run)
    result = run_gpu_tests(timeout=60)
    assert result["passed"] and result["counts"] == {"passed": 3, "deselected": 900}
    monkeypatch.setattr(
        gpu_check.subprocess,
        "run",
        lambda command, **o: subprocess.CompletedProcess(command, 5, stdout="900 deselected in 3.0s\n", stderr=""),
    )
    assert run_gpu_tests(timeout=60)["none_collected"]


def test_write_report_is_plain_json(tmp_path):
    path = write_report({"a": 1, "path": Path("x")}, tmp_path / "deep" / "report.json")
    assert json.loads(path.read_text()) == {"a": 1, "path": "x"}


def test_the_script_refuses_a_machine_without_cuda():
    script = ROOT / "scripts" / "gpu-check.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    env = {**os.environ, "NVIDIA_SMI": str(ROOT / "no-such-nvidia-smi")}
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "not a CUDA machine" in done.stderr and "--device cpu" in done.stderr
