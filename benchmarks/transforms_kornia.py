"""Image transforms: the hand-written torch ones (implementations/data/transforms.py) against kornia's.

For issue 16: should the data path use kornia (differentiable, batched, device-aware; AutoVP's own
choice) instead of its own resize / crop / normalise? Measures, on the same random batches, the largest
difference of each kornia equivalent from today's output and the CPU time of both (median of interleaved
rounds, one torch thread), and writes ``benchmarks/results/transforms_kornia.json``.

    .venv/bin/python benchmarks/transforms_kornia.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

import kornia
import torch
from kornia.enhance import normalize as kornia_normalize
from kornia.geometry.transform import center_crop as kornia_center_crop
from kornia.geometry.transform import resize as kornia_resize

from reprogrammability.implementations.data import transforms as ours

RESULTS = Path(__file__).resolve().parent / "results" / "transforms_kornia.json"
SEED, ROUNDS, BATCH = 0, 30, 32
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cases(images: torch.Tensor) -> dict[str, tuple]:
    """name -> (ours, kornia's equivalent) as functions of the batch."""
    mean, std = torch.tensor(MEAN), torch.tensor(STD)
    return {
        "resize down 224->112 (antialiased bilinear)": (
            lambda: ours.resize(images, (112, 112)),
            lambda: kornia_resize(images, (112, 112), antialias=True, align_corners=False),
        ),
        "resize up 224->320 (bilinear)": (
            lambda: ours.resize(images, (320, 320)),
            lambda: kornia_resize(images, (320, 320), antialias=True, align_corners=False),
        ),
        "resize shorter side to 160": (
            lambda: ours.resize(images, 160),
            lambda: kornia_resize(images, 160, side="short", antialias=True, align_corners=False),
        ),
        "center crop 224->200": (
            lambda: ours.center_crop(images, 200),
            lambda: kornia_center_crop(images, (200, 200)),
        ),
        "normalize": (lambda: ours.normalize(images, MEAN, STD), lambda: kornia_normalize(images, mean, std)),
    }


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    images = torch.rand(BATCH, 3, 224, 224, generator=torch.Generator().manual_seed(SEED))
    rows = []
    for name, (mine, theirs) in cases(images).items():
        difference = float((mine() - theirs()).abs().max()) if mine().shape == theirs().shape else float("inf")
        times: dict[str, list[float]] = {"ours": [], "kornia": []}
        for r in range(ROUNDS + 2):  # two warm-up rounds, order alternating
            order = [("ours", mine), ("kornia", theirs)][:: 1 if r % 2 else -1]
            for label, fn in order:
                seconds = cpu_seconds(fn)
                if r >= 2:
                    times[label].append(seconds)
        ours_s, kornia_s = statistics.median(times["ours"]), statistics.median(times["kornia"])
        rows.append(
            {
                "transform": name,
                "max_abs_difference": difference,
                "ours_ms": ours_s * 1e3,
                "kornia_ms": kornia_s * 1e3,
                "kornia/ours": kornia_s / ours_s,
            }
        )
        print(f"{name:45s} max|Δ| {difference:9.2e}  ours {ours_s * 1e3:7.2f} ms  kornia {kornia_s * 1e3:7.2f} ms")
    report = {
        "environment": {
            "machine": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "kornia": kornia.__version__,
            "torch_threads": 1,
            "load_average": list(os.getloadavg()),
        },
        "settings": {"seed": SEED, "rounds": ROUNDS, "batch": [BATCH, 3, 224, 224], "clock": "process CPU time"},
        "results": rows,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
