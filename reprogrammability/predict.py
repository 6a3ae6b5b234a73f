"""``nnr predict``: several task programs on one frozen model over a folder of inputs, each input's task in a manifest.

    nnr predict --model f.py:make_f --program digits=programs/digits --program parity=programs/parity \
        --manifest inputs/manifest.csv
    nnr predict programs/ --model efficientnet_lite0 --manifest inputs/manifest.csv   # a bank folder
    nnr predict bank.py:make_bank --manifest inputs/manifest.csv                       # a factory

The bank is built from saved task folders (``save_task``: weights + Spec + f's fingerprint + labels +
``recipe.json``), given one by one with ``--program TASK=PATH`` or as a bank folder (one subfolder per
task, named by it), on ``--model``: a registered model name or ``file.py:factory`` returning a
``FrozenModel`` or a module. Or ``BANK`` is ``file.py:factory`` returning a ``ProgramBank``.

The manifest is a CSV with a ``task`` column and a ``file`` or ``text`` column, or a JSON list of such
objects; files are relative to ``--root`` (default: the manifest's folder). A ``text`` entry, or a
``.txt`` file, is a text input; other files are images. Texts run as one mixed-task batch, images as one
per image size. Prints ``input,task,prediction`` (the class name when the task has labels).
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
    parser = subparsers.add_parser("predict", help="run several task programs on one frozen model over inputs")
    parser.add_argument(
        "bank",
        nargs="?",
        default=None,
        help="file.py:factory returning a ProgramBank, or a bank folder of saved tasks (with --model)",
    )
    parser.add_argument(
        "--model", default=None, help="f for saved programs: a registered model name or file.py:factory"
    )
    parser.add_argument(
        "--program",
        action="append",
        default=[],
        metavar="TASK=PATH",
        help="a saved task folder (save_task), repeatable; needs --model",
    )
    parser.add_argument(
        "--manifest", type=Path, required=True, help="CSV (task + file or text) or JSON list of {task, file|text}"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="folder the manifest's files are in (default: its folder)"
    )
    parser.set_defaults(handler=run)


def read_manifest(path: Path) -> list[tuple[str, str, str]]:
    """``[(kind, value, task), ...]`` (kind ``file`` or ``text``) from a CSV with a header or a JSON list of objects."""
    if not path.is_file():
        raise FileNotFoundError(f"--manifest: no file at {path}")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(
                f"--manifest: {path} must hold a JSON list of {{'file' or 'text': ..., 'task': ...}} objects"
            )
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    entries = []
    for number, row in enumerate(rows, 1):
        kinds = [kind for kind in ("file", "text") if row.get(kind)]
        if len(kinds) != 1 or not row.get("task"):
            raise ValueError(
                f"--manifest: entry {number} of {path} needs a 'task' and one of 'file' or 'text', got {dict(row)}"
            )
        entries.append((kinds[0], str(row[kinds[0]]), str(row["task"])))
    if not entries:
        raise ValueError(f"--manifest: {path} lists no inputs")
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


def load_model(reference: str) -> Any:
    """``--model``: a registered model name (its shipped weights) or ``file.py:factory`` (a FrozenModel or a module)."""
    from torch import nn

    from reprogrammability.framework import FrozenModel
    from reprogrammability.framework.validation.example import load_target
    from reprogrammability.implementations.models import create_model, list_models

    if ":" in reference:
        factory = load_target(reference)
        model = factory() if callable(factory) else factory
    elif reference in list_models():
        model = create_model(reference)
    else:
        raise ValueError(f"--model: {reference!r} is neither file.py:factory nor a registered model ({list_models()})")
    if not isinstance(model, (FrozenModel, nn.Module)):
        raise TypeError(f"--model: {reference} must give a FrozenModel or a torch module, got {type(model).__name__}")
    return model


def build_bank(args: argparse.Namespace) -> Any:
    """The bank from a factory, a bank folder or ``--program`` entries (see the module docstring)."""
    from reprogrammability.framework.validation.example import load_target
    from reprogrammability.implementations.serving import ProgramBank, load_bank, saved_tasks

    folder = args.bank is not None and Path(args.bank).is_dir()
    if args.bank is not None and not folder:
        if args.model or args.program:
            raise ValueError("bank: a factory (file.py:factory) builds the whole bank; drop --model and --program")
        factory = load_target(args.bank)
        bank = factory() if callable(factory) else None
        if not isinstance(bank, ProgramBank):
            raise TypeError(f"bank: {args.bank} must return a ProgramBank, got {type(bank).__name__}")
        return bank
    programs: dict[str, Path] = dict(saved_tasks(args.bank)) if folder else {}
    for entry in args.program:
        task, sep, path = entry.partition("=")
        if not sep or not task or not path:
            raise ValueError(f"--program: expected TASK=PATH, got {entry!r}")
        if task in programs:
            raise ValueError(f"--program: task {task!r} given twice")
        programs[task] = Path(path)
    if not programs:
        raise ValueError("bank: give file.py:factory, a bank folder, or --program TASK=PATH (with --model)")
    if not args.model:
        raise ValueError("--model: saved programs need the frozen model they were made for (a name or file.py:factory)")
    return load_bank(load_model(args.model), programs)


def load_input(kind: str, value: str, root: Path) -> Any:
    """A manifest entry's input: a string for text (or a .txt file), a (3, H, W) tensor for an image."""
    if kind == "text":
        return value
    path = root / value
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise FileNotFoundError(f"--manifest: text file {path} does not exist")
        return path.read_text().strip()
    return load_image(path)


def run(args: argparse.Namespace) -> int:
    import torch

    bank = build_bank(args)
    entries = read_manifest(args.manifest)
    for number, (_, value, task) in enumerate(entries, 1):
        if task not in bank:
            raise LookupError(
                f"--manifest: entry {number} ({value}) names unknown task {task!r}; the bank holds: {', '.join(bank.tasks)}"
            )
    root = args.root or args.manifest.parent
    inputs = [load_input(kind, value, root) for kind, value, _ in entries]
    groups: dict[Any, list[int]] = {}
    for index, item in enumerate(inputs):
        groups.setdefault("text" if isinstance(item, str) else tuple(item.shape), []).append(index)
    predictions: list[Any] = [None] * len(entries)
    for key, index in groups.items():
        names = [entries[i][2] for i in index]
        batch = [inputs[i] for i in index] if key == "text" else torch.stack([inputs[i] for i in index])
        for i, label in zip(index, bank.labels(batch, names)):
            predictions[i] = label
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["input", "task", "prediction"])
    for (_, value, task), label in zip(entries, predictions):
        writer.writerow([value, task, label])
    return 0
