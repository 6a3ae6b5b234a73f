"""``nnr gpu-check``: one prepared, time-boxed run that measures the GPU path and writes one JSON report.

GPU time is scarce, so everything here is prepared and tested on CPU (``--device cpu``) and a
single command (``scripts/gpu-check.sh``) runs it on the accelerator. The phases, in order:

1. ``environment``: device name, driver, torch, CUDA and cuDNN versions, memory.
2. ``methods``: every registered method's example (:mod:`reprogrammability.implementations.registry`)
   trained for a few steps by the :class:`~reprogrammability.framework.training.Trainer` on the device,
   with the frozen-model checks (f's fingerprint before = after, no gradient on f); per method: pass or
   the error, the median step time after one warm-up step, and the peak device memory.
3. ``validation``: the validator (:func:`~reprogrammability.framework.validation.validate`) on a sample
   of methods (one per paradigm first, then spread over the list), each built and moved to the device.
4. ``gpu-tests``: the ``gpu``-marked tests (``pytest -m gpu``).
5. ``bench`` and ``bench-real``: ``nnr bench`` (:func:`reprogrammability.bench.run_bench`, whose
   ``options`` suite measures bf16 autocast and channels-last) in the default suite and with ``--real``;
   the ratios with their targets and absolute step times.

Each phase runs only while the time budget (default 480 s) leaves room for it, and the first three stop
starting new items once their share of it is spent (``PHASE_SHARE``), so the bench keeps its time; a
phase or method that does not fit is recorded as not run, with the reason. The report is written after
every phase, so a run that is cut short still leaves what it measured. Progress goes to stderr, one
line per step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

__all__ = [
    "PHASES",
    "PHASE_SHARE",
    "DEFAULT_OUTPUT",
    "Budget",
    "environment",
    "driver_version",
    "registered_methods",
    "sample_for_validation",
    "run_method",
    "run_validation",
    "run_gpu_tests",
    "run_bench_phase",
    "run_gpu_check",
    "write_report",
    "summary_lines",
    "register",
    "main",
]

PHASES: tuple[str, ...] = ("environment", "methods", "validation", "gpu-tests", "bench", "bench-real")
DEFAULT_OUTPUT = Path("benchmarks/results/gpu-check.json")
REPORT_VERSION = 1

# the least time a phase needs to be worth starting (seconds; measured on CPU, generous for a GPU)
_PHASE_MINIMUM = {"methods": 5.0, "validation": 10.0, "gpu-tests": 10.0, "bench": 60.0, "bench-real": 60.0}
# the share of the budget by whose end a phase stops starting new items, so the bench keeps its time
# (all 67 methods took 20 minutes on a loaded 2-core CPU, the generation-heavy ones most)
PHASE_SHARE = {"methods": 0.45, "validation": 0.55, "gpu-tests": 0.62}

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"[gpu-check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Budget:
    """Wall-clock budget of the whole run: ``remaining()`` seconds of ``seconds`` since construction."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.perf_counter):
        if seconds <= 0:
            raise ValueError(f"budget_seconds: expected > 0, got {seconds}")
        self.seconds, self._clock = float(seconds), clock
        self._start = clock()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def allows(self, needed: float, share: float = 1.0) -> bool:
        """True while ``needed`` seconds are left and less than ``share`` of the budget is spent."""
        return self.remaining() >= needed and self.elapsed() < share * self.seconds


# --- 1. environment ----------------------------------------------------------------------------------------


def driver_version() -> Optional[str]:
    """The NVIDIA driver version from ``nvidia-smi`` (None without one)."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return lines[0] if out.returncode == 0 and lines else None


def environment(device: Any) -> dict[str, Any]:
    """What ran the check: platform, Python, torch and, on CUDA, the device, driver, CUDA, cuDNN and memory."""
    import torch

    info: dict[str, Any] = {
        "device": str(device),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "driver": driver_version(),
    }
    if getattr(device, "type", None) == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(
            device_name=properties.name,
            compute_capability=f"{properties.major}.{properties.minor}",
            memory_total_bytes=int(properties.total_memory),
            cudnn=torch.backends.cudnn.version(),
            bf16_supported=bool(torch.cuda.is_bf16_supported()),
        )
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


# --- 2. every method's example on the device ---------------------------------------------------------------


def registered_methods(pattern: str | Sequence[str] = "*") -> list[str]:
    """Registered method ids (a shell pattern, or a list of ids / patterns); an unknown id is an error."""
    from reprogrammability.implementations.registry import list_methods

    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    found: list[str] = []
    for item in patterns:
        matches = list_methods(item)
        if not matches:
            raise ValueError(f"methods: {item!r} matches no registered method (nnr catalog list shows them)")
        found += [m for m in matches if m not in found]
    return found


def _to_device(value: Any, device: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _example_on(method_id: str, device: Any, seed: int = 0):
    """The method's registered example (a ValidationExample), built under ``seed`` and moved to ``device``."""
    from reprogrammability.framework.training import seed_everything
    from reprogrammability.framework.validation import ValidationExample
    from reprogrammability.implementations.registry import get_method

    info = get_method(method_id)
    if info.example is None:
        raise ValueError(f"{method_id}: registered without an example")
    seed_everything(seed)
    example = ValidationExample.coerce(info.example(), where=method_id)
    example.reprogrammer.to(device)
    example.inputs = _to_device(example.inputs, device)
    example.targets = example.targets.to(device)
    if example.probe_inputs is not None:
        example.probe_inputs = _to_device(example.probe_inputs, device)
    return example


def _synchronize(device: Any) -> None:
    import torch

    if getattr(device, "type", None) == "cuda":
        torch.cuda.synchronize(device)


def run_method(method_id: str, device: Any, steps: int = 3, amp: str = "auto") -> dict[str, Any]:
    """Train ``method_id``'s example for ``steps`` steps on ``device``, with the frozen-model checks.

    Step time: the median over the steps of the wall time from one batch to the next (the device is
    synchronised at each stamp), after one warm-up step. Methods without trainable parameters (fixed
    prompts) are timed on forward passes instead (``"timed": "forward"``).
    """
    import torch

    from reprogrammability.framework.training import Trainer, TrainerConfig

    record: dict[str, Any] = {"id": method_id, "passed": False, "steps": 0}
    start = time.perf_counter()
    try:
        example = _example_on(method_id, device)
        reprogrammer = example.reprogrammer
        frozen = reprogrammer.frozen
        fingerprint = frozen.fingerprint()
        trainable = [p for p in reprogrammer.parameters() if p.requires_grad]
        record.update(
            paradigm=reprogrammer.spec.paradigm.value,
            access=reprogrammer.spec.access.value,
            trainable_parameters=int(sum(p.numel() for p in trainable)),
        )
        cuda = getattr(device, "type", None) == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        stamps: list[float] = []

        class _Stamped(torch.utils.data.IterableDataset):
            """The example's batch, ``count`` times; the clock is read (device synchronised) at each fetch."""

            def __init__(self, count: int):
                self.count = count

            def __len__(self) -> int:
                return self.count

            def __iter__(self):
                for _ in range(self.count):
                    _synchronize(device)
                    stamps.append(time.perf_counter())
                    yield example.inputs, example.targets
                _synchronize(device)
                stamps.append(time.perf_counter())

        base = example.trainer_config
        base = base.model_dump() if isinstance(base, TrainerConfig) else dict(base or {})
        total = steps + 1  # one warm-up step, then the timed steps
        config = TrainerConfig(
            **{
                **base,
                "epochs": 1,
                "max_steps": total,
                "device": str(device),
                "progress": False,
                "seed": 0,
                "amp": amp,
                "num_workers": 0,
            }
        )
        trainer = Trainer(reprogrammer, config, loss_fn=example.loss_fn, gradient_estimator=example.gradient_estimator)
        loader = torch.utils.data.DataLoader(_Stamped(total), batch_size=None)
        if trainable:
            result = trainer.fit(loader)
            record["steps"] = result.steps
            record["timed"] = "training step"
            record["loss"] = result.history[-1]["loss"] if result.history else None
            # stamps: the alignment-fitting pass (total + 1 stamps) when ω is fitted, then the training pass
            training = stamps[-(result.steps + 1) :]
        else:
            if not reprogrammer.output.is_fitted:
                trainer.fit_alignment(torch.utils.data.DataLoader(_Stamped(1), batch_size=None))
            reprogrammer.eval()
            autocast = amp == "bf16" or (amp == "auto" and cuda)  # as the Trainer does
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                for _ in range(total):
                    _synchronize(device)
                    stamps.append(time.perf_counter())
                    reprogrammer(example.inputs)
                _synchronize(device)
                stamps.append(time.perf_counter())
            record["steps"] = total
            record["timed"] = "forward"
            training = stamps[-(total + 1) :]
        durations = [b - a for a, b in zip(training[:-1], training[1:])][1:]  # drop the warm-up step
        record["step_seconds"] = statistics.median(durations) if durations else None
        record["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device)) if cuda else None
        # the frozen-model checks: no gradient reached f, and its parameters and buffers are bit-identical
        frozen.assert_no_gradients()
        frozen.assert_unchanged()
        if frozen.fingerprint() != fingerprint:
            raise AssertionError("the frozen model's fingerprint changed")
        record["frozen"] = "unchanged, no gradients"
        record["passed"] = True
    except Exception as error:  # noqa: BLE001 - one method's failure is a row of the report, not the end of the run
        record["error"] = f"{type(error).__name__}: {error}"[:2000]
    record["seconds"] = time.perf_counter() - start
    return record


# --- 3. the validator on a sample ----------------------------------------------------------------------------


def sample_for_validation(method_ids: Sequence[str], count: int) -> list[str]:
    """``count`` methods: one of each paradigm first (in id order), then evenly spread over the rest."""
    from reprogrammability.implementations.registry import get_method

    if count <= 0:
        return []
    ids = sorted(method_ids)
    chosen: list[str] = []
    seen: set[str] = set()
    for method_id in ids:
        paradigm = get_method(method_id).spec.paradigm.value
        if paradigm not in seen:
            seen.add(paradigm)
            chosen.append(method_id)
    rest = [m for m in ids if m not in chosen]
    room = max(0, count - len(chosen))
    if rest and room:
        stride = len(rest) / room
        chosen += [rest[int(i * stride)] for i in range(min(room, len(rest)))]
    return chosen[:count]


def run_validation(method_id: str, device: Any, steps: int = 2) -> dict[str, Any]:
    """The validator on ``method_id``'s example built on ``device``: passed, and the failed checks with reasons."""
    from reprogrammability.framework.validation import validate
    from reprogrammability.implementations.registry import get_method

    start = time.perf_counter()
    try:
        expected = get_method(method_id).spec
        report = validate(lambda: _example_on(method_id, device), steps=steps, expected=expected, name=method_id)
        failed = [{"check": c.name, "reason": c.reason} for c in report.checks if not c.passed]
        record = {"id": method_id, "passed": report.passed, "failed_checks": failed}
    except Exception as error:  # noqa: BLE001
        record = {"id": method_id, "passed": False, "error": f"{type(error).__name__}: {error}"[:2000]}
    record["seconds"] = time.perf_counter() - start
    return record


# --- 4. the gpu-marked tests ---------------------------------------------------------------------------------


def _repository_root() -> Optional[Path]:
    root = Path(__file__).resolve().parents[1]
    return root if (root / "tests").is_dir() and (root / "pyproject.toml").is_file() else None


_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


def run_gpu_tests(timeout: float, marker: str = "gpu") -> dict[str, Any]:
    """``pytest -m gpu`` on the repository's tests; counts and exit status (5: none collected)."""
    root = _repository_root()
    if root is None:
        return {"run": False, "reason": "no tests folder (an installed package, not a checkout)"}
    command = [sys.executable, "-m", "pytest", "-m", marker, "-q", "-p", "no:cacheprovider", "tests"]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=max(1.0, timeout))
    except subprocess.TimeoutExpired:
        return {"run": True, "passed": False, "reason": f"timed out after {timeout:.0f} s", "command": command}
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    counts = {
        kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in _PYTEST_COUNTS.findall(tail[0])
    }
    return {
        "run": True,
        "command": " ".join(command),
        "exit_status": done.returncode,
        "passed": done.returncode in (0, 5),
        "none_collected": done.returncode == 5,
        "counts": counts,
        "summary": tail[0],
        "seconds": time.perf_counter() - start,
    }


# --- 5. the bench ---------------------------------------------------------------------------------------------


def run_bench_phase(device: Any, *, real: bool, mode: str = "default", log: Log = _stderr) -> dict[str, Any]:
    """``nnr bench`` (all suites) on ``device``: the ratios with their targets, absolute times and the full report."""
    from reprogrammability.bench import run_bench

    report = run_bench(mode=mode, device=str(device), real=real, log=log, threads=0)
    ratios = [
        {k: r.get(k) for k in ("name", "value", "op", "target", "passed", "numerator_s", "denominator_s")}
        for r in report.get("ratios", [])
    ]
    return {
        "mode": mode,
        "real": real,
        "ratios": ratios,
        "targets_met": sum(r["passed"] is True for r in ratios),
        "targets_missed": [r["name"] for r in ratios if r["passed"] is False],
        "seconds": report.get("seconds"),
        "report": report,
    }


# --- the run ---------------------------------------------------------------------------------------------------


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write ``report`` as JSON to ``path`` (through a temporary file, so a reader never sees half a report)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def _skip(report: dict[str, Any], phase: str, reason: str, log: Log) -> None:
    report["phases"][phase] = {"run": False, "reason": reason}
    log(f"{phase}: not run ({reason})")


def run_gpu_check(
    device: str = "auto",
    *,
    methods: str | Sequence[str] = "*",
    steps: int = 3,
    validate_count: int = 8,
    gpu_tests: bool = True,
    bench: bool = True,
    bench_real: bool = True,
    bench_mode: str = "default",
    amp: str = "auto",
    budget_seconds: float = 480.0,
    output: str | Path | None = DEFAULT_OUTPUT,
    log: Log = _stderr,
) -> dict[str, Any]:
    """Run the phases (see the module docstring) within ``budget_seconds``; the report as a dict.

    ``output``: where the JSON goes (rewritten after each phase); None writes nothing.
    """
    import torch

    from reprogrammability.framework.training import TrainerConfig, resolve_device

    if steps < 1:
        raise ValueError(f"steps: expected ≥ 1, got {steps}")
    if validate_count < 0:
        raise ValueError(f"validate_count: expected ≥ 0, got {validate_count}")
    amp = TrainerConfig(amp=amp).amp  # validated: auto | bf16 | off
    budget = Budget(budget_seconds)
    target = resolve_device(device)
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "settings": {
            "device": str(target),
            "methods": methods if isinstance(methods, str) else list(methods),
            "steps": steps,
            "validate_count": validate_count,
            "gpu_tests": gpu_tests,
            "bench": bench,
            "bench_real": bench_real,
            "bench_mode": bench_mode,
            "amp": amp,
            "budget_seconds": budget_seconds,
            "seed": 0,
        },
        "phases": {},
    }

    def save() -> None:
        report["seconds"] = budget.elapsed()
        if output is not None:
            write_report(report, output)

    log(f"environment ({target})")
    report["environment"] = environment(target)
    report["phases"]["environment"] = {"run": True}
    save()

    ids = registered_methods(methods)
    rows: list[dict[str, Any]] = []
    report["methods"] = rows
    log(f"methods: {len(ids)} registered, {steps} steps each")
    for index, method_id in enumerate(ids, 1):
        if not budget.allows(_PHASE_MINIMUM["methods"], PHASE_SHARE["methods"]):
            rows.append({"id": method_id, "passed": None, "reason": "not run: the time budget was spent"})
            continue
        row = run_method(method_id, target, steps=steps, amp=amp)
        rows.append(row)
        step = f"{row['step_seconds'] * 1e3:.1f} ms" if row.get("step_seconds") is not None else "-"
        status = "ok" if row["passed"] else f"FAILED {row.get('error', '')[:120]}"
        log(f"  [{index}/{len(ids)}] {method_id}: {status} ({row.get('timed', '')} {step})")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    report["phases"]["methods"] = {
        "run": True,
        "passed": sum(r["passed"] is True for r in rows),
        "failed": [r["id"] for r in rows if r["passed"] is False],
        "not_run": [r["id"] for r in rows if r["passed"] is None],
    }
    save()

    sample = sample_for_validation([r["id"] for r in rows if r["passed"] is not None], validate_count)
    validations: list[dict[str, Any]] = []
    report["validation"] = validations
    if sample:
        log(f"validation: {len(sample)} methods")
    for method_id in sample:
        if not budget.allows(_PHASE_MINIMUM["validation"], PHASE_SHARE["validation"]):
            validations.append({"id": method_id, "passed": None, "reason": "not run: the time budget was spent"})
            continue
        row = run_validation(method_id, target)
        validations.append(row)
        failed = ", ".join(c["check"] for c in row.get("failed_checks", [])) or row.get("error", "")
        log(f"  {method_id}: {'ok' if row['passed'] else 'FAILED ' + failed[:160]}")
    report["phases"]["validation"] = {
        "run": bool(sample),
        "passed": sum(v["passed"] is True for v in validations),
        "failed": [v["id"] for v in validations if v["passed"] is False],
    }
    save()

    if not gpu_tests:
        _skip(report, "gpu-tests", "not asked for", log)
    elif not budget.allows(_PHASE_MINIMUM["gpu-tests"], PHASE_SHARE["gpu-tests"]):
        _skip(report, "gpu-tests", "the time budget was spent", log)
    else:
        log("gpu-tests: pytest -m gpu")
        report["phases"]["gpu-tests"] = run_gpu_tests(timeout=max(10.0, budget.remaining() / 4))
        log(f"  {report['phases']['gpu-tests'].get('summary') or report['phases']['gpu-tests'].get('reason')}")
    save()

    for phase, wanted, real in (("bench", bench, False), ("bench-real", bench and bench_real, True)):
        if not wanted:
            _skip(report, phase, "not asked for", log)
        elif not budget.allows(_PHASE_MINIMUM[phase]):
            _skip(report, phase, "the time budget was spent", log)
        else:
            log(f"{phase}: nnr bench{' --real' if real else ''} ({bench_mode} mode)")
            try:
                report["phases"][phase] = {"run": True, **run_bench_phase(target, real=real, mode=bench_mode, log=log)}
            except Exception as error:  # noqa: BLE001
                report["phases"][phase] = {"run": True, "error": f"{type(error).__name__}: {error}"[:2000]}
                log(f"  {phase} FAILED: {error}")
        save()

    if getattr(target, "type", None) == "cuda":
        report["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(target))
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    save()
    for line in summary_lines(report):
        log(line)
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for the end of the run: what passed, what failed, how long it took."""
    env = report.get("environment", {})
    lines = [
        f"device: {env.get('device_name')} ({env.get('device')}), driver {env.get('driver')}, torch {env.get('torch')}"
    ]
    methods = report.get("phases", {}).get("methods", {})
    if methods:
        lines.append(
            f"methods: {methods.get('passed', 0)}/{len(report.get('methods', []))} passed"
            + (f"; failed: {', '.join(methods['failed'])}" if methods.get("failed") else "")
            + (f"; not run: {len(methods['not_run'])}" if methods.get("not_run") else "")
        )
    validation = report.get("phases", {}).get("validation", {})
    if validation.get("run"):
        lines.append(
            f"validation: {validation.get('passed', 0)}/{len(report.get('validation', []))} passed"
            + (f"; failed: {', '.join(validation['failed'])}" if validation.get("failed") else "")
        )
    for phase in ("gpu-tests", "bench", "bench-real"):
        entry = report.get("phases", {}).get(phase, {})
        if not entry.get("run"):
            lines.append(f"{phase}: not run ({entry.get('reason', 'unknown')})")
        elif "ratios" in entry:
            lines.append(
                f"{phase}: {entry['targets_met']}/{len(entry['ratios'])} targets met"
                + (f"; missed: {', '.join(entry['targets_missed'])}" if entry["targets_missed"] else "")
            )
        else:
            lines.append(f"{phase}: {entry.get('summary') or entry.get('error') or entry.get('reason')}")
    lines.append(f"total: {report.get('seconds', 0):.0f} s")
    return lines


# --- command line ------------------------------------------------------------------------------------------------


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--methods", default="*", help="method ids or shell patterns, comma-separated (default: all)")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per method (default: 3)")
    parser.add_argument("--validate", type=int, default=8, metavar="N", help="methods to validate (default: 8)")
    parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"], help="the Trainer's autocast")
    parser.add_argument("--no-gpu-tests", action="store_true", help="skip pytest -m gpu")
    parser.add_argument("--no-bench", action="store_true", help="skip nnr bench (both runs)")
    parser.add_argument("--no-real", action="store_true", help="skip nnr bench --real (SmolLM2)")
    parser.add_argument(
        "--bench-mode",
        default="default",
        choices=["default", "quick", "tiny"],
        help="nnr bench's size (default: default)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=480.0,
        metavar="SECONDS",
        help="wall-clock budget of the whole run (default: 480)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"the JSON report (default: {DEFAULT_OUTPUT})"
    )


def _run(args: argparse.Namespace) -> int:
    methods = [m.strip() for m in str(args.methods).split(",") if m.strip()] or ["*"]
    report = run_gpu_check(
        args.device,
        methods=methods,
        steps=args.steps,
        validate_count=args.validate,
        gpu_tests=not args.no_gpu_tests,
        bench=not args.no_bench,
        bench_real=not args.no_real,
        bench_mode=args.bench_mode,
        amp=args.amp,
        budget_seconds=args.budget,
        output=args.output,
    )
    print(args.output)
    failed = report["phases"]["methods"]["failed"] or report["phases"].get("validation", {}).get("failed")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """``nnr gpu-check``."""
    parser = subparsers.add_parser(
        "gpu-check",
        help="every method, the validator, gpu tests and nnr bench on the accelerator: one JSON report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    parser.set_defaults(handler=_run)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reprogrammability.gpu_check``: the same as ``nnr gpu-check``."""
    parser = argparse.ArgumentParser(
        prog="python -m reprogrammability.gpu_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_arguments(parser)
    return _run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
