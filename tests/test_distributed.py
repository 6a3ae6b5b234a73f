"""The Trainer under torch's DistributedDataParallel: two CPU processes (gloo) launched by torchrun.

The worker script is plain user code (build a reprogrammer, ``Trainer(...).fit``): nothing in it
mentions distributed training. The test checks that both ranks end with bit-identical learned
parts (the padding program and the iterative label mapping's ω), report the same epoch metrics,
that the loss went down, and that the result equals a single-process run whose batches are the
union of the two ranks' batches (DistributedSampler's order), so DDP computed the same training,
only split over two processes.

The two programs differ only in the order of floating-point sums: DDP sums each rank's 8
per-sample gradients and then the two ranks' means, the single process sums all 16 at once. The
problem runs in float64, so this rounding (about 1e-14 here) stays many orders of magnitude below
any real difference (a lost or repeated sample moves the program by about the learning rate), and
the comparison uses the bound that re-ordering can cause (:func:`_reorder_bound`), not a tuned
number.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is not available", allow_module_level=True)

from safetensors.torch import load_file  # noqa: E402

N, BATCH, EPOCHS, WORLD, SEED, LR = 64, 8, 3, 2, 0, 0.5

COMMON = f"""
import torch
from reprogrammability.framework import Reprogrammer
from reprogrammability.implementations.models.tiny import tiny_cnn
from reprogrammability.implementations.reprogramming.label_mapping import IterativeLabelMapping
from reprogrammability.implementations.reprogramming.programs import PaddingProgram


def problem():
    g = torch.Generator().manual_seed(0)
    y = torch.arange({N}) % 4
    # a learnable task: the class sets the brightness of the image (plus noise)
    x = (0.2 * y.float().view(-1, 1, 1, 1) + 0.3 * torch.rand({N}, 3, 24, 24, generator=g)).clamp(0, 1)
    reprogrammer = Reprogrammer(
        tiny_cnn(seed=1).double(),
        PaddingProgram(32, 24).double(),
        IterativeLabelMapping(10, 4).double(),
        paradigm="model-reprogramming",
    )
    return reprogrammer, x.double(), y
"""

WORKER = (
    COMMON
    + f"""
import json, os, sys
from safetensors.torch import save_file
from reprogrammability.framework.training import Trainer

torch.set_num_threads(1)
out = sys.argv[1]
reprogrammer, x, y = problem()
result = Trainer(reprogrammer, epochs={EPOCHS}, batch_size={BATCH}, learning_rate={LR}, seed={SEED},
                 progress=False).fit((x, y))
rank = int(os.environ["RANK"])
save_file(reprogrammer.learned_state(), os.path.join(out, f"rank{{rank}}.safetensors"))
with open(os.path.join(out, f"rank{{rank}}.json"), "w") as handle:
    json.dump({{"history": result.history, "steps": result.steps, "world": torch.distributed.get_world_size(),
               "backend": torch.distributed.get_backend()}}, handle)
"""
)


def _reorder_bound(epsilon: float, scale: float) -> float:
    """Largest difference that re-ordering the gradient sums can cause, after every step of the training.

    Summing n terms in another order changes the sum by at most about n·ε relative to the magnitude of the
    terms (Higham's γ_n); each of the S = EPOCHS · N / (WORLD · BATCH) optimiser steps adds at most that,
    relative to the parameter's scale. n = WORLD · BATCH, the number of per-sample gradients summed per step.
    """
    steps, summands = EPOCHS * N // (WORLD * BATCH), WORLD * BATCH
    return steps * summands * epsilon * scale


def _problem():
    namespace: dict = {}
    exec(compile(COMMON, "<common>", "exec"), namespace)
    return namespace["problem"]()


class _UnionOfRankBatches(torch.utils.data.Sampler):
    """Batches = the union of what each rank's DistributedSampler batch holds at the same step.

    The Trainer iterates the loader once before training to fit the statistical alignment (any order),
    then once per epoch.
    """

    def __init__(self):
        self.passes = -1

    def __iter__(self):
        self.passes += 1
        if self.passes == 0:
            yield from (list(range(i, min(i + BATCH, N))) for i in range(0, N, BATCH))
            return
        epoch = self.passes - 1
        order = torch.randperm(N, generator=torch.Generator().manual_seed(SEED + epoch)).tolist()
        shards = [order[r::WORLD] for r in range(WORLD)]
        for step in range(N // (WORLD * BATCH)):
            yield [i for shard in shards for i in shard[step * BATCH : (step + 1) * BATCH]]

    def __len__(self):
        return N // (WORLD * BATCH)


def test_trainer_runs_data_parallel_under_torchrun_with_identical_ranks(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={WORLD}",
        str(script),
        str(tmp_path),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    states = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(WORLD)]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    assert all(report["world"] == WORLD and report["backend"] == "gloo" for report in reports)
    # each rank took N / (WORLD · BATCH) steps per epoch: the data was sharded, not repeated
    assert [report["steps"] for report in reports] == [EPOCHS * N // (WORLD * BATCH)] * WORLD
    assert set(states[0]) == set(states[1]) and {"inputs.0.program", "output.omega"} <= set(states[0])
    for name in states[0]:
        assert torch.equal(states[0][name], states[1][name]), f"{name} differs between the ranks"
    metrics = [[{k: v for k, v in h.items() if k != "seconds"} for h in report["history"]] for report in reports]
    assert metrics[0] == metrics[1], "the ranks report different epoch metrics"
    losses = [h["loss"] for h in reports[0]["history"]]
    assert losses[0] > losses[1] > losses[2] and losses[-1] < 0.999 * losses[0], losses
    assert states[0]["inputs.0.program"].abs().max() > 0.1  # the program moved away from its zero start

    # the same training in one process, batches = union of the ranks' batches: the same parameters
    from reprogrammability.framework.training import Trainer

    reprogrammer, x, y = _problem()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_sampler=_UnionOfRankBatches())
    single = Trainer(
        reprogrammer,
        epochs=EPOCHS,
        batch_size=BATCH * WORLD,
        learning_rate=LR,
        seed=SEED,
        progress=False,
        distributed="off",
    ).fit(loader)
    expected = reprogrammer.learned_state()
    program, reference = states[0]["inputs.0.program"], expected["inputs.0.program"]
    assert program.dtype == reference.dtype == torch.float64
    bound = _reorder_bound(torch.finfo(torch.float64).eps, float(reference.abs().max()))
    difference = float((program - reference).abs().max())
    assert difference <= bound, f"DDP and the single process differ by {difference:.3g} > {bound:.3g}"
    assert torch.equal(states[0]["output.omega"], expected["output.omega"])
    # the loss is computed in float32 (the Trainer casts the logits), as a mean over BATCH (DDP) or
    # WORLD · BATCH (single process) samples: the two differ by at most γ_{WORLD·BATCH} in float32
    loss_bound = WORLD * BATCH * torch.finfo(torch.float32).eps
    assert [h["loss"] for h in single.history] == pytest.approx(losses, rel=loss_bound, abs=0)
