"""The timing core of ``nnr bench``: clocks, interleaved rounds, paired ratios and peak step memory.

Every variant of a suite runs one step per round with the order rotated every round, so a busy
machine slows all of them alike; a ratio is taken per round and the median over rounds reported.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any, Callable


class Clock:
    """Stamps (wall seconds, process CPU seconds); on CUDA each stamp synchronises first."""

    def __init__(self, device: Any, primary: str = "auto"):
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        if primary not in ("auto", "cpu", "wall"):
            raise ValueError(f"clock: {primary!r} is not one of ['auto', 'cpu', 'wall']")
        self.primary = ("wall" if self.cuda else "cpu") if primary == "auto" else primary

    def now(self) -> tuple[float, float]:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def pick(self, pair: tuple[float, float]) -> float:
        return pair[0] if self.primary == "wall" else pair[1]


def per_step(clock: Clock, step: Callable[[], Any], count: int) -> tuple[float, float]:
    """Run ``step`` ``count`` times; the median (wall, cpu) seconds of one step."""
    stamps = [clock.now()]
    for _ in range(count):
        step()
        stamps.append(clock.now())
    walls = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
    cpus = [b[1] - a[1] for a, b in zip(stamps, stamps[1:])]
    return statistics.median(walls), statistics.median(cpus)


def interleaved(
    variants: dict[str, Callable[[], tuple[float, float]]], rounds: int, warmup: int, log: Callable[[str], None]
) -> dict[str, list[tuple[float, float]]]:
    """Call every variant once per round, rotating the order; keep the (wall, cpu) figures of the timed rounds."""
    names = list(variants)
    times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            figure = variants[name]()
            if r >= warmup:
                times[name].append(figure)
        if r + 1 == warmup + rounds or (r + 1) % max(1, (warmup + rounds) // 4) == 0:
            log(f"  round {r + 1}/{warmup + rounds}" + (f" ({warmup} warm-up)" if warmup else ""))
    return times


def paired_ratio(clock: Clock, times: dict[str, list[tuple[float, float]]], top: str, bottom: str) -> dict[str, Any]:
    """Median over rounds of top/bottom (paired by round) on the primary clock, and the medians themselves."""
    num = [clock.pick(t) for t in times[top]]
    den = [clock.pick(t) for t in times[bottom]]
    ratios = [a / b for a, b in zip(num, den) if b > 0]
    walls = [a[0] / b[0] for a, b in zip(times[top], times[bottom]) if b[0] > 0]
    return {
        "value": statistics.median(ratios) if ratios else float("nan"),
        "numerator_s": statistics.median(num),
        "denominator_s": statistics.median(den),
        "extra": {"wall_ratio": statistics.median(walls) if walls else float("nan"), "rounds": len(ratios)},
    }


class _quiet_stderr:
    """Silence file descriptor 2 (the profiler's native start/stop lines) for the duration of a block."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            self.null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(self.null, 2)
        except OSError:  # pragma: no cover - no file descriptors (embedded interpreters)
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
            os.close(self.null)
        return False


def peak_step_memory(step: Callable[[], Any], device: Any) -> float:
    """Bytes: CUDA's allocator peak above the start, or on CPU the peak running sum of the profiler's
    allocation (+) and free (−) events during ``step`` (tensors only)."""
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize()
        start = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - start)
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    running, peak = 0, 0
    for event in events:
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    return float(peak)
