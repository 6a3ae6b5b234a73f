"""``nnr bench``: how fast reprogramming is, against its limit and against what people use instead.

A reprogramming step on a frozen model cannot cost less than one forward pass plus one backward
pass to the input (no weight gradients, no optimiser state for the model). Every suite measures
ratios in one run, on the same model and batch, with interleaved repeated timing: after warm-up,
one step of every variant per round with the order rotated every round (so a busy machine slows
all of them alike), the ratio taken per round and the median over rounds reported. The Trainer is
timed inside its own loop (a data loader that stamps the clock), each of its steps paired with a
bare step run right before it. Low-noise cross-checks are reported next to the ratios: the work a
reprogramming step adds to the bare step, and the re-fit of ILM/BLM, each timed alone.

The suites (one module each in :mod:`reprogrammability.bench.suites`; ``nnr bench --help`` lists
every ratio with its target): ``visual`` (padding program + FLM step against the bare model's forward
and backward-to-input, through the Trainer, and against full fine-tuning), ``options`` (channels-last,
bf16 autocast, torch.compile, host syncs per step), ``prompt`` (prompt and prefix tuning against
peft's), ``icl`` (shared-prefix cache against re-encoding), ``mapping`` (ILM/BLM against FLM).

Layout: :mod:`~reprogrammability.bench.timing` (clocks, interleaved rounds, paired ratios, memory),
:mod:`~reprogrammability.bench.settings` (the modes), :mod:`~reprogrammability.bench.suite` (what a
suite is), :mod:`~reprogrammability.bench.fixtures` (shared models and loaders),
:mod:`~reprogrammability.bench.runner` (the run), :mod:`~reprogrammability.bench.report` (the files),
:mod:`~reprogrammability.bench.command` (``nnr bench``).

Clocks: on CPU the process's CPU time (robust on a shared machine; wall time is recorded too), on
CUDA the wall time with a synchronisation at each stamp. Peak step memory: CUDA's allocator peak,
or on CPU the peak of the running sum of the allocations and frees that torch's profiler records
during one step (tensors only, not the Python heap). The machine's load average goes into the report.

Modes: default (EfficientNet-Lite0 at canvas 112, batch 16; a Llama-like LM with hidden size 256 and
4 layers; 5 to 8 minutes on one thread of a busy CPU), ``--quick`` (smaller shapes, under a minute)
and ``--tiny`` (tiny random models, seconds: for tests of the mechanics, not for figures). The vision
model has random weights: the time of a step does not depend on their values. ``--threads`` defaults
to 1 (CPU time of one thread is the steadiest figure on a shared machine).

Writes ``<stem>.json`` (everything), ``.md`` (the table) and ``.png`` (ratios against targets) into
``--output`` (``benchmarks/results/perf``), the stem naming the run (``bench``, ``bench-quick``,
``bench-quick-options-compile``, ``bench-cuda`` ...); refuses to overwrite unless ``--overwrite``.
"""

from __future__ import annotations

from .command import DEFAULT_OUTPUT, register, run
from .fixtures import padding_flm, random_images, timed_loader, tiny_llama, vision_model
from .report import plot, table, write_report
from .runner import machine, result_stem, run_bench
from .settings import MODES, Settings
from .suite import Ratio, Suite, SuiteContext, make_ratio
from .suites import REGISTRY, SUITES, TARGETS
from .suites.icl import suite_icl
from .suites.mapping import suite_mapping
from .suites.options import count_host_syncs, framework_overhead, host_syncs_per_step, suite_options
from .suites.prompt import suite_prompt
from .suites.visual import suite_visual
from .timing import Clock, interleaved, paired_ratio, peak_step_memory, per_step

__all__ = [
    "DEFAULT_OUTPUT",
    "MODES",
    "REGISTRY",
    "SUITES",
    "TARGETS",
    "Clock",
    "Ratio",
    "Settings",
    "Suite",
    "SuiteContext",
    "count_host_syncs",
    "framework_overhead",
    "host_syncs_per_step",
    "interleaved",
    "machine",
    "make_ratio",
    "paired_ratio",
    "padding_flm",
    "peak_step_memory",
    "per_step",
    "plot",
    "random_images",
    "register",
    "result_stem",
    "run",
    "run_bench",
    "suite_icl",
    "suite_mapping",
    "suite_options",
    "suite_prompt",
    "suite_visual",
    "table",
    "timed_loader",
    "tiny_llama",
    "vision_model",
    "write_report",
]
