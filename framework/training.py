"""One trainer for any :class:`Reprogrammer`.

It optimises only the learned parts (I and O), fits statistical alignments from the frozen
model's outputs (re-fitting each epoch from the logits the epoch already computed when the
alignment asks for it), supports zeroth-order gradient estimators for black-box access, uses
bf16 autocast on CUDA, seeds everything, shows a progress bar and proves at the end that the
frozen model is unchanged.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .axes import Alignment
from .reprogrammer import Reprogrammer

__all__ = ["Trainer", "TrainerConfig", "TrainResult", "GradientEstimator", "resolve_device", "seed_everything"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device: {device!r} is not a torch device (use 'auto', 'cpu', 'cuda', 'cuda:0')") from error


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class GradientEstimator(Protocol):
    """Black-box access: fills ``.grad`` of the trainable parameters from loss queries only.

    ``estimate`` returns the loss at the current parameters; ``queries`` counts model queries so far.
    """

    queries: int

    def estimate(
        self, reprogrammer: Reprogrammer, inputs: Any, targets: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor]
    ) -> Tensor: ...


class TrainerConfig(BaseModel):
    """Hyper-parameters of :class:`Trainer` (validated; unknown names are rejected)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(0.01, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0)
    scheduler: Literal["none", "cosine", "multistep"] = "none"
    milestones: tuple[float, ...] = (0.5, 0.72)
    """Fractions of training at which ``multistep`` divides the learning rate by 10."""
    gradient_clip: Optional[float] = Field(None, gt=0)
    max_steps: Optional[int] = Field(None, ge=1)
    device: str = "auto"
    amp: bool = True
    """bf16 autocast on CUDA (ignored on CPU)."""
    seed: int = 0
    progress: bool = True
    num_workers: int = Field(0, ge=0)


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` measured: per-epoch history, steps, queries and wall time."""

    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    queries: int = 0
    seconds: float = 0.0

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _collate(items: list) -> tuple[Any, Tensor]:
    inputs, targets = zip(*items)
    if isinstance(inputs[0], Tensor):
        stacked: Any = torch.stack(inputs)
    elif isinstance(inputs[0], dict):
        stacked = {k: torch.stack([i[k] for i in inputs]) for k in inputs[0]}
    else:
        stacked = list(inputs)
    if isinstance(targets[0], Tensor) and targets[0].dim() > 0:  # vector targets (e.g. forecasts (H,))
        return stacked, torch.stack(targets)
    return stacked, torch.as_tensor(targets)


class _Pairs(Dataset):
    def __init__(self, inputs: Any, targets: Any):
        if len(inputs) != len(targets):
            raise ValueError(f"data: {len(inputs)} inputs but {len(targets)} targets")
        self.inputs, self.targets = inputs, torch.as_tensor(targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return self.inputs[i], self.targets[i]


class Trainer:
    """Train and evaluate a :class:`Reprogrammer`.

    Args:
        reprogrammer: the method to train; only its I and O parameters are optimised.
        config: a :class:`TrainerConfig` (or keyword overrides of it).
        loss_fn: ``loss(ŷ, y)``; cross-entropy by default.
        gradient_estimator: a zeroth-order estimator for black-box access; back-propagation otherwise.
    """

    def __init__(
        self,
        reprogrammer: Reprogrammer,
        config: TrainerConfig | None = None,
        *,
        loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
        gradient_estimator: GradientEstimator | None = None,
        **overrides: Any,
    ):
        if not isinstance(reprogrammer, Reprogrammer):
            raise TypeError(f"reprogrammer: expected a Reprogrammer, got {type(reprogrammer).__name__}")
        base = config.model_dump() if config is not None else {}
        self.config = TrainerConfig(**{**base, **overrides})
        self.reprogrammer = reprogrammer
        self.loss_fn = loss_fn or nn.functional.cross_entropy
        self.gradient_estimator = gradient_estimator
        self.device = resolve_device(self.config.device)

    # -- data -----------------------------------------------------------------------------
    def loader(self, data: Any, *, shuffle: bool, seed: int | None = None) -> DataLoader:
        """A DataLoader from ``(inputs, targets)``, a Dataset, or a DataLoader (returned as is)."""
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, tuple) and len(data) == 2:
            inputs, targets = data
            dataset: Dataset = (
                TensorDataset(inputs, torch.as_tensor(targets)) if isinstance(inputs, Tensor) else _Pairs(inputs, targets)
            )
        elif isinstance(data, Dataset):
            dataset = data
        else:
            raise TypeError(f"data: expected (inputs, targets), a Dataset or a DataLoader, got {type(data).__name__}")
        generator = torch.Generator().manual_seed(self.config.seed if seed is None else seed)
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            shuffle=shuffle,
            generator=generator,
            collate_fn=_collate,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def _autocast(self):
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    # -- statistical alignments -------------------------------------------------------------
    @torch.no_grad()
    def source_outputs(self, data: Any) -> tuple[Tensor, Tensor]:
        """z = f(I(x)) and y over ``data`` (one pass, no gradients)."""
        self.reprogrammer.to(self.device).eval()
        outputs, targets = [], []
        for inputs, y in self.loader(data, shuffle=False):
            with self._autocast():
                z = self.reprogrammer.source_outputs(_to_device(inputs, self.device))
            outputs.append(z.float())
            targets.append(y.to(self.device))
        return torch.cat(outputs), torch.cat(targets)

    def fit_alignment(self, data: Any) -> None:
        """Estimate a statistical output alignment from the current program's outputs on ``data``."""
        z, y = self.source_outputs(data)
        self.reprogrammer.output.fit(z, y)

    # -- training ---------------------------------------------------------------------------
    def _optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.learning_rate, momentum=c.momentum, weight_decay=c.weight_decay)
        cls = torch.optim.AdamW if c.optimizer == "adamw" else torch.optim.Adam
        return cls(params, lr=c.learning_rate, weight_decay=c.weight_decay)

    def _scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        c = self.config
        if c.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
        if c.scheduler == "multistep":
            milestones = sorted({max(1, int(m * total_steps)) for m in c.milestones})
            return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
        return None

    def fit(self, train: Any, eval: Any = None) -> TrainResult:
        """Train on ``train``; evaluate on ``eval`` after each epoch when given."""
        c = self.config
        seed_everything(c.seed)
        model = self.reprogrammer.to(self.device)
        frozen = model.frozen
        frozen.assert_no_gradients()
        params = [p for p in model.parameters() if p.requires_grad]
        output = model.output
        needs_fit = output.alignment is Alignment.STATISTICAL or not output.is_fitted
        if needs_fit:
            self.fit_alignment(train)
        loader = self.loader(train, shuffle=True)
        steps_per_epoch = len(loader)
        total = steps_per_epoch * c.epochs if c.max_steps is None else min(c.max_steps, steps_per_epoch * c.epochs)
        result = TrainResult()
        start = time.perf_counter()
        if params and total > 0:
            optimizer = self._optimizer(params)
            scheduler = self._scheduler(optimizer, total)
            bar = _progress(total, enabled=c.progress, desc=model.name)
            for epoch in range(c.epochs):
                model.train()
                seen, loss_sum, correct = 0, 0.0, 0
                collected: list[tuple[Tensor, Tensor]] = []
                for inputs, targets in loader:
                    if result.steps >= total:
                        break
                    inputs, targets = _to_device(inputs, self.device), targets.to(self.device)
                    optimizer.zero_grad(set_to_none=True)
                    if self.gradient_estimator is not None:
                        loss = self.gradient_estimator.estimate(model, inputs, targets, self.loss_fn)
                        with torch.no_grad():
                            logits, source = model.forward_with_source(inputs)
                    else:
                        with self._autocast():
                            logits, source = model.forward_with_source(inputs)
                            loss = self.loss_fn(logits.float(), targets)
                        loss.backward()
                    if c.gradient_clip:
                        nn.utils.clip_grad_norm_(params, c.gradient_clip)
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    if output.refit_each_epoch:
                        collected.append((source.detach().float(), targets))
                    batch = targets.shape[0]
                    seen += batch
                    loss_sum += loss.detach() * batch
                    if not targets.is_floating_point():  # classification; regression targets have no accuracy
                        correct += (logits.detach().argmax(-1) == targets).sum()
                    result.steps += 1
                    bar.update(1)
                if seen == 0:
                    break
                if output.refit_each_epoch and collected:
                    output.fit(torch.cat([z for z, _ in collected]), torch.cat([y for _, y in collected]))
                record = {"epoch": epoch + 1, "loss": float(loss_sum) / seen, "train_accuracy": float(correct) / seen}
                if eval is not None:
                    record.update({f"eval_{k}": v for k, v in self.evaluate(eval).items()})
                record["seconds"] = time.perf_counter() - start
                result.history.append(record)
                bar.set_postfix({k: round(v, 4) for k, v in record.items() if k not in ("epoch", "seconds")})
            bar.close()
        elif eval is not None:
            result.history.append({"epoch": 0, **{f"eval_{k}": v for k, v in self.evaluate(eval).items()}})
        result.seconds = time.perf_counter() - start
        result.queries = getattr(self.gradient_estimator, "queries", 0)
        frozen.assert_unchanged()
        return result

    @torch.no_grad()
    def predict(self, data: Any) -> Tensor:
        """Target-task scores ŷ (N, C_t) for ``data``."""
        model = self.reprogrammer.to(self.device).eval()
        scores = []
        for inputs, _ in self.loader(data, shuffle=False):
            with self._autocast():
                scores.append(model(_to_device(inputs, self.device)).float())
        return torch.cat(scores)

    @torch.no_grad()
    def evaluate(self, data: Any) -> dict[str, float]:
        """Accuracy and mean loss on ``data``."""
        model = self.reprogrammer.to(self.device).eval()
        seen, loss_sum, correct = 0, 0.0, 0
        for inputs, targets in self.loader(data, shuffle=False):
            inputs, targets = _to_device(inputs, self.device), targets.to(self.device)
            with self._autocast():
                logits = model(inputs).float()
            loss_sum += float(self.loss_fn(logits, targets)) * targets.shape[0]
            if not targets.is_floating_point():  # classification; regression targets have no accuracy
                correct += int((logits.argmax(-1) == targets).sum())
            seen += targets.shape[0]
        if seen == 0:
            raise ValueError("data: is empty")
        return {"accuracy": correct / seen, "loss": loss_sum / seen}


def _progress(total: int, *, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="step", leave=False, dynamic_ncols=True)

