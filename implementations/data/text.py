"""Text classification data as :class:`~.types.LabelledData` with ``inputs`` a ``list[str]``.

* :func:`load_text_task`: our own small sets (CC0), shipped in ``implementations/data/text``:
  ``"sentiment"`` (400 sentences, negative/positive, 300 train / 100 test) and ``"topic"``
  (160 sentences, world/sports/business/science, 120 / 40). The split is fixed (every fourth
  sentence of each class is in test) and stored in the files.
* :func:`load_glue_tsv`: GLUE-style TSV files (SST-2: ``sentence<TAB>label``; pair tasks such as
  RTE/MRPC with two text columns; unlabeled test files give label −1).
* :func:`load_ag_news_csv`: AG News CSV (no header; ``"class 1-4","title","description"``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Sequence

import torch

from .types import LabelledData

__all__ = [
    "TEXT_TASKS",
    "AG_NEWS_CLASSES",
    "SST2_CLASSES",
    "text_data_dir",
    "load_text_task",
    "load_glue_tsv",
    "load_ag_news_csv",
]

TEXT_TASKS = ("sentiment", "topic")
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
SST2_CLASSES = ("negative", "positive")


def text_data_dir() -> Path:
    """Folder of the shipped text tasks (JSON files)."""
    return Path(__file__).resolve().parent / "text"


def load_text_task(task: str = "sentiment", split: str = "train") -> LabelledData:
    """One of our labelled text sets: ``task`` in :data:`TEXT_TASKS`, ``split`` "train", "test" or "all".

    Labels: sentiment 0 = negative, 1 = positive (SST-2 convention); topic 0 = world, 1 = sports,
    2 = business, 3 = science (AG News order).
    """
    if task not in TEXT_TASKS:
        raise ValueError(f"task: expected one of {TEXT_TASKS}, got {task!r}")
    if split not in ("train", "test", "all"):
        raise ValueError(f"split: expected 'train', 'test' or 'all', got {split!r}")
    path = text_data_dir() / f"{task}.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    rows = payload["train"] + payload["test"] if split == "all" else payload[split]
    return LabelledData(
        [text for text, _ in rows],
        torch.tensor([label for _, label in rows], dtype=torch.long),
        tuple(payload["classes"]),
        name=task,
        split=split,
        metadata={"source": str(path), "license": payload.get("license", "CC0-1.0")},
    )


def _resolve_label(value: str, classes: Sequence[str], path: Path, line: int) -> int:
    value = value.strip()
    if value == "":
        return -1
    if value in classes:
        return list(classes).index(value)
    return _class_index(value, len(classes), f"path: {path} line {line}: label", f"an index or one of {tuple(classes)}")


def _class_index(value: str, num_classes: int, what: str, allowed: str, first: int = 0) -> int:
    """``value`` as a 0-based class index (``first`` numbers class 0 in the file); the errors name ``what``."""
    try:
        index = int(value) - first
    except ValueError:
        raise ValueError(f"{what} {value!r} is not {allowed}") from None
    if not 0 <= index < num_classes:
        raise ValueError(f"{what} {value} out of range {first}..{num_classes - 1 + first}")
    return index


def load_glue_tsv(
    path: str | os.PathLike,
    text_columns: Sequence[str] = ("sentence",),
    label_column: str = "label",
    classes: Sequence[str] = SST2_CLASSES,
    name: str | None = None,
) -> LabelledData:
    """A GLUE TSV file with a header row (SST-2 by default: ``sentence``, ``label`` 0/1).

    One text column gives ``inputs`` as ``list[str]``; two (e.g. ``("sentence1", "sentence2")``)
    give ``list[tuple[str, str]]``. Files without ``label_column`` (GLUE test sets) get labels −1.
    Quotes are not special in GLUE TSVs (``csv.QUOTE_NONE``); texts are stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no TSV file at {path}")
    if not 1 <= len(text_columns) <= 2:
        raise ValueError(f"text_columns: expected one or two column names, got {tuple(text_columns)}")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"path: {path} is empty")
        missing = [c for c in text_columns if c not in header]
        if missing:
            raise ValueError(f"text_columns: {missing} not in the header of {path}: {header}")
        text_index = [header.index(c) for c in text_columns]
        label_index = header.index(label_column) if label_column in header else None
        inputs: list = []
        labels: list[int] = []
        for number, row in enumerate(reader, start=2):
            if not row or all(not cell for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"path: {path} line {number}: {len(row)} fields, the header has {len(header)}")
            texts = tuple(row[i].strip() for i in text_index)
            inputs.append(texts[0] if len(texts) == 1 else texts)
            labels.append(-1 if label_index is None else _resolve_label(row[label_index], classes, path, number))
    return LabelledData(
        inputs,
        torch.tensor(labels, dtype=torch.long),
        tuple(classes),
        name=name or path.stem,
        split=path.stem,
        metadata={"source": str(path)},
    )


def load_ag_news_csv(
    path: str | os.PathLike, classes: Sequence[str] = AG_NEWS_CLASSES, join: str = " "
) -> LabelledData:
    """AG News CSV (Zhang, Zhao & LeCun 2015, arXiv:1509.01626): rows ``class (1..4), title, description``.

    ``inputs`` = title + ``join`` + description, with the corpus's ``\\`` line-break escapes turned
    into spaces; labels are 0-based (0 World, 1 Sports, 2 Business, 3 Sci/Tech).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no CSV file at {path}")
    inputs: list[str] = []
    labels: list[int] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) < 2:
                raise ValueError(
                    f"path: {path} line {number}: expected 'class, title, description', got {len(row)} fields"
                )
            where = f"path: {path} line {number}: class"
            label = _class_index(row[0], len(classes), where, f"an integer 1..{len(classes)}", first=1)
            parts = [" ".join(cell.replace("\\n", " ").replace("\\", " ").split()) for cell in row[1:]]
            inputs.append(join.join(p for p in parts if p))
            labels.append(label)
    return LabelledData(
        inputs,
        torch.tensor(labels, dtype=torch.long),
        tuple(classes),
        name="ag_news",
        split=path.stem,
        metadata={"source": str(path)},
    )
