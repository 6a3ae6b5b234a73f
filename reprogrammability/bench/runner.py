"""Run the suites of ``nnr bench`` and name the run: the report as a dict (machine, settings, ratios)."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict
from typing import Any, Callable, Sequence

from .settings import MODES
from .suite import SuiteContext
from .suites import REGISTRY, SUITES
from .timing import Clock


def machine(device) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        info["load_average"] = None
    if getattr(device, "type", "") == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_bench(
    suites: Sequence[str] = SUITES,
    mode: str = "default",
    device: str = "auto",
    clock: str = "auto",
    threads: int | None = 1,
    real: bool = False,
    with_compile: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the suites; the report (machine, settings, ratios with targets, per-suite details) as a dict."""
    import torch

    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {sorted(MODES)}")
    unknown = [x for x in suites if x not in SUITES]
    if unknown:
        raise ValueError(f"suite: {unknown} not in {list(SUITES)}")
    log = log or (lambda message: None)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_suites(suites, mode, device, clock, real, with_compile, log)
    finally:
        torch.set_num_threads(previous_threads)


def _run_suites(suites, mode, device, clock, real, with_compile, log) -> dict[str, Any]:
    from reprogrammability.framework.training import resolve_device, seed_everything

    settings = MODES[mode]
    target = resolve_device(device)
    timer = Clock(target, clock)
    seed_everything(0)
    report: dict[str, Any] = {
        "stem": result_stem(mode, suites, target.type, real, with_compile),
        "mode": mode,
        "suites_run": [x for x in SUITES if x in suites],
        "clock": timer.primary,
        "machine": machine(target),
        "settings": asdict(settings),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "ratios": [],
        "suites": {},
    }
    context = SuiteContext(settings, target, timer, log, real=real, with_compile=with_compile)
    begin = time.perf_counter()
    for name in SUITES:
        if name not in suites:
            continue
        start = time.perf_counter()
        ratios, details = REGISTRY[name].run(context)
        details["seconds"] = time.perf_counter() - start
        log(f"{name}: {details['seconds']:.0f} s")
        report["ratios"].extend(r.as_dict() for r in ratios)
        report["suites"][name] = details
    report["seconds"] = time.perf_counter() - begin
    try:
        report["machine"]["load_average_end"] = list(os.getloadavg())
    except OSError:  # pragma: no cover
        pass
    return report


def result_stem(
    mode: str, suites: Sequence[str], device_type: str = "cpu", real: bool = False, with_compile: bool = False
) -> str:
    """``bench[-mode][-suites][-device][-real][-compile]``: one file name per kind of run."""
    parts = ["bench"]
    if mode != "default":
        parts.append(mode)
    if set(suites) != set(SUITES):
        parts.extend(x for x in SUITES if x in suites)
    if device_type != "cpu":
        parts.append(device_type)
    if real:
        parts.append("real")
    if with_compile:
        parts.append("compile")
    return "-".join(parts)
