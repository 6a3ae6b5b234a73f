"""``nnr predict``: several task programs on one frozen model over a folder of images, each image's task in a manifest.

    nnr predict bank.py:make_bank --manifest images/manifest.csv

``make_bank()`` returns a :class:`~reprogrammability.implementations.serving.ProgramBank` (f plus the loaded
programs). The manifest is a CSV with columns ``file,task`` or a JSON list of ``{"file": ..., "task": ...}``;
files are relative to ``--root`` (default: the manifest's folder). Images of one size run as one mixed-task
batch. Prints ``file,task,prediction`` (the class name when the task has labels).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("predict", help="run several task programs on one frozen model over images")
    parser.add_argument("bank", help="file.py:factory or package.module:factory returning a ProgramBank")
    parser.add_argument("--manifest", type=Path, required=True, help="CSV (file,task) or JSON list of {file, task}")
    parser.add_argument(
        "--root", type=Path, default=None, help="folder the manifest's files are in (default: its folder)"
    )
    parser.set_defaults(handler=run)


def read_manifest(path: Path) -> list[tuple[str, str]]:
    """``[(file, task), ...]`` from a CSV with a ``file,task`` header or a JSON list of objects."""
    if not path.is_file():
        raise FileNotFoundError(f"--manifest: no file at {path}")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"--manifest: {path} must hold a JSON list of {{'file': ..., 'task': ...}} objects")
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    entries = []
    for number, row in enumerate(rows, 1):
        if not row.get("file") or not row.get("task"):
            raise ValueError(f"--manifest: entry {number} of {path} needs both 'file' and 'task', got {dict(row)}")
        entries.append((str(row["file"]), str(row["task"])))
    if not entries:
        raise ValueError(f"--manifest: {path} lists no images")
    return entries


def load_image(path: Path):
    """An image file as a (3, H, W) float tensor in [0, 1]."""
    import numpy as np
    import torch
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"--manifest: image {path} does not exist")
    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def run(args: argparse.Namespace) -> int:
    import torch

    from reprogrammability.framework.validation.example import load_target
    from reprogrammability.implementations.serving import ProgramBank

    factory = load_target(args.bank)
    bank = factory() if callable(factory) else None
    if not isinstance(bank, ProgramBank):
        raise TypeError(f"bank: {args.bank} must return a ProgramBank, got {type(bank).__name__}")
    entries = read_manifest(args.manifest)
    for number, (file, task) in enumerate(entries, 1):
        if task not in bank:
            raise LookupError(
                f"--manifest: entry {number} ({file}) names unknown task {task!r}; the bank holds: {', '.join(bank.tasks)}"
            )
    root = args.root or args.manifest.parent
    images = [load_image(root / file) for file, _ in entries]
    by_size: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_size.setdefault(tuple(image.shape), []).append(index)
    predictions: list[Any] = [None] * len(entries)
    for index in by_size.values():
        names = [entries[i][1] for i in index]
        for i, label in zip(index, bank.labels(torch.stack([images[i] for i in index]), names)):
            predictions[i] = label
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["file", "task", "prediction"])
    for (file, task), label in zip(entries, predictions):
        writer.writerow([file, task, label])
    return 0
