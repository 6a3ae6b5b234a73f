"""The one return type of every loader: :class:`LabelledData`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["LabelledData", "stratified_split"]


@dataclass(eq=False)
class LabelledData(Dataset):
    """A labelled data set held in memory; also a ``torch.utils.data.Dataset`` of ``(input, label)``.

    Fields:
        inputs: images (N, C, H, W) float32 in [0, 1]; time series (N, C, L) float32; texts a
            ``list[str]`` (or ``list[tuple[str, str]]`` for sentence pairs).
        labels: (N,) int64 class indices into ``classes`` (−1 where a file has no label); float32
            targets for regression sets (then ``classes`` is empty).
        classes: class names in index order.
        name, split: where it came from (``"fashion-mnist"``, ``"train"``).
        metadata: anything else (source path, licence, series lengths).
    """

    inputs: Any
    labels: Tensor
    classes: tuple[str, ...]
    name: str = ""
    split: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, Tensor):
            self.labels = torch.as_tensor(np.asarray(self.labels))
        if self.labels.dim() != 1:
            raise ValueError(f"labels: expected shape (N,), got {tuple(self.labels.shape)}")
        self.classes = tuple(self.classes)
        if len(self.inputs) != len(self.labels):
            raise ValueError(f"inputs/labels: lengths differ ({len(self.inputs)} vs {len(self.labels)})")
        if self.classes and not self.labels.dtype.is_floating_point and len(self.labels):
            high = int(self.labels.max())
            if high >= len(self.classes) or int(self.labels.min()) < -1:
                raise ValueError(
                    f"labels: values must be in -1..{len(self.classes) - 1} for {len(self.classes)} classes, "
                    f"got {int(self.labels.min())}..{high}"
                )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, Tensor]:
        return self.inputs[index], self.labels[index]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> Tensor:
        """(K,) number of examples per class."""
        return torch.bincount(self.labels[self.labels >= 0].long(), minlength=len(self.classes))

    def select(self, indices: Sequence[int] | Tensor) -> "LabelledData":
        """The examples at ``indices``, in that order."""
        index = torch.as_tensor(indices, dtype=torch.long)
        if isinstance(self.inputs, Tensor):
            inputs: Any = self.inputs[index]
        else:
            inputs = [self.inputs[i] for i in index.tolist()]
        extra = dict(self.metadata)
        if "lengths" in extra and isinstance(extra["lengths"], Tensor):
            extra["lengths"] = extra["lengths"][index]
        return replace(self, inputs=inputs, labels=self.labels[index], metadata=extra)

    def subset(self, n: int, seed: int = 0, stratified: bool = True) -> "LabelledData":
        """``n`` examples drawn without replacement under ``seed``; balanced over classes when ``stratified``."""
        if not isinstance(n, int) or not 0 < n <= len(self):
            raise ValueError(f"n: expected an int in 1..{len(self)}, got {n!r}")
        rng = np.random.default_rng(seed)
        if not stratified or not self.classes or self.labels.dtype.is_floating_point:
            return self.select(np.sort(rng.choice(len(self), size=n, replace=False)))
        labels = self.labels.numpy()
        pools = [rng.permutation(np.flatnonzero(labels == c)) for c in range(len(self.classes))]
        chosen: list[int] = []
        depth = 0
        while len(chosen) < n:
            for pool in pools:
                if depth < len(pool) and len(chosen) < n:
                    chosen.append(int(pool[depth]))
            depth += 1
        return self.select(np.sort(np.asarray(chosen)))

    def map_inputs(self, fn: Callable[[Any], Any]) -> "LabelledData":
        """Apply ``fn`` to the whole ``inputs`` field (e.g. a batched transform) and return a new object."""
        return replace(self, inputs=fn(self.inputs))

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> Iterator[tuple[Any, Tensor]]:
        """Yield ``(inputs, labels)`` mini-batches; shuffling is reproducible under ``seed``."""
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
        order = np.random.default_rng(seed).permutation(len(self)) if shuffle else np.arange(len(self))
        for start in range(0, len(self), batch_size):
            part = self.select(order[start : start + batch_size])
            yield part.inputs, part.labels

    def __repr__(self) -> str:
        shape = tuple(self.inputs.shape) if isinstance(self.inputs, Tensor) else f"{len(self.inputs)} texts"
        return f"LabelledData(name={self.name!r}, split={self.split!r}, inputs={shape}, classes={len(self.classes)})"


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), each sorted: ``round(test_fraction · n_c)`` of every class goes to test."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(test_fraction * len(members)))
        test.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
