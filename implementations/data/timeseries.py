"""UCR/UEA time-series sets shipped inside the sktime wheel, parsed from their ``.ts`` files.

The ``.ts`` format (sktime): ``#`` comment lines, ``@key value`` header lines (``@problemName``,
``@univariate``, ``@dimensions``, ``@equalLength``, ``@classLabel true <names...>`` or
``@targetLabel true``), then ``@data`` and one case per line: comma-separated values per
dimension, dimensions separated by ``:``, the label last. ``?`` marks a missing value (NaN).

:func:`load_ucr` returns :class:`~.types.LabelledData` with inputs (N, C, L) float32. Unequal
lengths are right-padded with NaN to the longest series, and ``metadata["lengths"]`` (N,) keeps
the true lengths. sktime itself is not imported (its import is slow); only its files are read.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import torch

from .types import LabelledData

__all__ = ["sktime_data_dir", "list_ucr", "read_ts", "load_ucr"]


def sktime_data_dir() -> Path:
    """The ``sktime/datasets/data`` folder of the installed sktime (found without importing it)."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "load_ucr needs the package 'sktime' (pip install sktime), whose wheel ships the UCR sets"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def list_ucr() -> list[str]:
    """Names of the bundled classification/regression sets that have ``<name>_TRAIN.ts`` and ``_TEST.ts``."""
    root = sktime_data_dir()
    return sorted(
        p.name for p in root.iterdir() if (p / f"{p.name}_TRAIN.ts").is_file() and (p / f"{p.name}_TEST.ts").is_file()
    )


def _parse_value(token: str) -> float:
    token = token.strip()
    if token in ("?", "", "NaN", "nan"):
        return float("nan")
    return float(token)


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """Parse one ``.ts`` file → (series, labels, header): series[i] is (C, L_i) float64, labels as strings."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no .ts file at {path}")
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    has_label = True
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if line.startswith("@"):
                    key, _, value = line[1:].partition(" ")
                    key = key.lower()
                    if key == "data":
                        in_data = True
                        class_label = header.get("classlabel", "false").split()
                        target = header.get("targetlabel", "false").split()
                        has_label = (class_label[:1] == ["true"]) or (target[:1] == ["true"])
                        if header.get("timestamps", "false").lower() == "true":
                            raise ValueError(f"path: {path} uses time stamps, which read_ts does not support")
                    else:
                        header[key] = value.strip()
                continue
            parts = line.split(":")
            label = parts.pop().strip() if has_label else ""
            dims = [np.array([_parse_value(v) for v in part.split(",")], dtype=np.float64) for part in parts]
            if len({d.shape[0] for d in dims}) != 1:
                raise ValueError(f"path: {path} line {number}: dimensions of one case have different lengths")
            series.append(np.stack(dims))
            labels.append(label)
    if not in_data:
        raise ValueError(f"path: {path} has no @data section")
    return series, labels, header


def load_ucr(name: str, split: str = "train", normalise: bool = False) -> LabelledData:
    """A UCR/UEA set bundled with sktime: ``name`` as in :func:`list_ucr` (GunPoint, ItalyPowerDemand,
    ArrowHead, BasicMotions, JapaneseVowels, OSULeaf, ...), ``split`` "train" or "test".

    Returns inputs (N, C, L) float32, labels (N,) int64 indices into ``classes`` (the order of the
    ``@classLabel`` header), or float32 targets with empty ``classes`` for regression sets.
    ``normalise=True`` z-normalises each series and channel over time (NaNs ignored).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    available = list_ucr()
    if name not in available:
        raise ValueError(f"name: expected one of {available}, got {name!r}")
    path = sktime_data_dir() / name / f"{name}_{split.upper()}.ts"
    series, raw_labels, header = read_ts(path)
    channels = {s.shape[0] for s in series}
    if len(channels) != 1:
        raise ValueError(f"path: {path} mixes cases with {sorted(channels)} dimensions")
    lengths = np.array([s.shape[1] for s in series], dtype=np.int64)
    values = np.full((len(series), channels.pop(), int(lengths.max())), np.nan, dtype=np.float32)
    for i, s in enumerate(series):
        values[i, :, : s.shape[1]] = s
    if normalise:
        mean = np.nanmean(values, axis=2, keepdims=True)
        std = np.nanstd(values, axis=2, keepdims=True)
        values = (values - mean) / np.where(std > 0, std, 1.0)
    class_header = header.get("classlabel", "false").split()
    if class_header[:1] == ["true"]:
        classes = tuple(class_header[1:]) or tuple(sorted(set(raw_labels)))
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(raw_labels) - set(lookup))
        if unknown:
            raise ValueError(f"path: {path} has labels {unknown[:5]} not declared in @classLabel {classes}")
        labels = torch.tensor([lookup[x] for x in raw_labels], dtype=torch.long)
    else:
        classes = ()
        labels = torch.tensor([float(x) for x in raw_labels], dtype=torch.float32)
    return LabelledData(
        torch.from_numpy(values),
        labels,
        classes,
        name=name,
        split=split,
        metadata={
            "source": str(path),
            "lengths": torch.from_numpy(lengths),
            "header": header,
            "license": "BSD-3-Clause (sktime); UCR/UEA archive terms",
        },
    )
