"""One trainer for any :class:`Reprogrammer`.

It optimises only the learned parts (I and O), fits statistical alignments from the frozen
model's outputs (re-fitting each epoch from the logits the epoch already computed when the
alignment asks for it), supports zeroth-order gradient estimators for black-box access, uses
bf16 autocast on CUDA, seeds everything, shows a progress bar and proves at the end that the
frozen model is unchanged.

Performance options (each off unless it is the documented default): bf16 autocast on CUDA
(``amp``), channels-last memory format (``channels_last``), ``torch.compile`` of the frozen model
(``compile``). The frozen model's parameters never require gradients, so a step costs one forward
and one backward to the input; the training loop keeps its running loss and accuracy on the
device (no host-device synchronisation per step; ``float()`` only at the end of an epoch).

Bad data never trains silently: a NaN or ±inf in a batch stops :meth:`Trainer.fit` with a
:class:`~reprogrammability.framework.errors.NonFiniteError` naming the argument before any step uses it
(checked on the host, no device synchronisation); a non-finite loss stops it (on the CPU before its step
is applied, on an accelerator at the end of the epoch), learned tensors are checked once more at the end,
and :meth:`Reprogrammer.save_learned` refuses non-finite tensors: nothing non-finite is reported or saved.
Class labels for the default cross-entropy must be whole numbers in ``[0, C_t)`` (no ignore index); see
:mod:`~reprogrammability.framework.checks`.

Distributed training: launched by ``torchrun`` (``WORLD_SIZE`` > 1) or with a process group
already initialised, :meth:`Trainer.fit` trains the learned parts (I and O; the frozen model is
not a submodule of the reprogrammer, so DistributedDataParallel never sees it) with
DistributedDataParallel, shards the training data with a DistributedSampler, fits statistical
alignments on the logits gathered from every rank (so ω is identical everywhere), and shows the
progress bar on rank 0 only. ``batch_size`` is per process.
"""

from __future__ import annotations

import atexit
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from . import checks
from .axes import Alignment
from .errors import InputError, NonFiniteError
from .reprogrammer import Reprogrammer

if TYPE_CHECKING:
    from tqdm.auto import tqdm

__all__ = ["Trainer", "TrainerConfig", "TrainResult", "GradientEstimator", "resolve_device", "seed_everything"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else CPU; any other name must be a device present on this machine."""
    return checks.check_device(device, "device")


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

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(0.01, gt=0, le=1e6)
    """Step size, 0 < learning_rate ≤ 10⁶ (larger steps overflow float32 in the optimiser)."""
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0)
    scheduler: Literal["none", "cosine", "multistep"] = "none"
    milestones: tuple[float, ...] = (0.5, 0.72)
    """Fractions of training at which ``multistep`` divides the learning rate by 10."""
    gradient_clip: Optional[float] = Field(None, gt=0)
    max_steps: Optional[int] = Field(None, ge=1)
    device: str = "auto"
    amp: Literal["auto", "bf16", "off"] = "auto"
    """Mixed precision: ``auto`` (or ``True``) bf16 autocast on CUDA, none on CPU; ``bf16`` bf16 autocast on
    any device (on CPU: to exercise the CUDA path, or on CPUs with bf16 units); ``off`` (or ``False``) none."""
    channels_last: bool = False
    """Channels-last memory format for the model's 4-D tensors and for 4-D input batches (convnets on CUDA)."""
    compile: bool = False
    """``torch.compile`` the frozen model in place (``nn.Module.compile``; weights and state-dict names unchanged)."""
    distributed: Literal["auto", "off"] = "auto"
    """``auto``: DistributedDataParallel when launched by torchrun (``WORLD_SIZE`` > 1) or when a process
    group is initialised; ``off``: always a single process."""
    seed: int = 0
    progress: bool = True
    num_workers: int = Field(0, ge=0)

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_from_bool(cls, value: Any) -> Any:
        """``True``/``False`` are the older spellings of ``auto``/``off``."""
        return {True: "auto", False: "off"}.get(value, value) if isinstance(value, bool) else value


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


def _channels_last(batch: Any) -> Any:
    """4-D floating-point tensors (image batches) in channels-last memory format; anything else unchanged."""
    if isinstance(batch, Tensor):
        if batch.dim() == 4 and batch.is_floating_point():
            return batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: _channels_last(v) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return type(batch)(_channels_last(v) for v in batch)
    return batch


def _collate(items: list[tuple[Any, Any]]) -> tuple[Any, Tensor]:
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


class _Pairs(Dataset[tuple[Any, Tensor]]):
    def __init__(self, inputs: Any, targets: Any):
        if len(inputs) != len(targets):
            raise ValueError(f"data: {len(inputs)} inputs but {len(targets)} targets")
        self.inputs, self.targets = inputs, torch.as_tensor(targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[Any, Tensor]:
        return self.inputs[i], self.targets[i]


# -- distributed helpers ------------------------------------------------------------------------
def _launched_distributed() -> bool:
    """True under torchrun (or any launcher that sets ``WORLD_SIZE`` > 1) or with a process group initialised."""
    if not torch.distributed.is_available():
        return False
    if torch.distributed.is_initialized():
        return torch.distributed.get_world_size() > 1
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _init_distributed(device: torch.device) -> tuple[int, int]:
    """Initialise the default process group from torchrun's environment when needed; ``(rank, world_size)``.

    Backend: NCCL for CUDA devices, gloo otherwise. A group the Trainer created is destroyed at exit.
    """
    dist = torch.distributed
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        atexit.register(_destroy_process_group)
    return dist.get_rank(), dist.get_world_size()


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _all_gather_cat(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` (N_r, ...) of every rank in rank order (the N_r may differ)."""
    dist = torch.distributed
    world = dist.get_world_size()
    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s) for s in sizes]
    padded = tensor.new_zeros((max(counts), *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded.contiguous())
    return torch.cat([g[:n] for g, n in zip(gathered, counts)])


class _WithSource(nn.Module):
    """``forward = reprogrammer.forward_with_source``, so DistributedDataParallel hooks the step that trains."""

    def __init__(self, reprogrammer: Reprogrammer):
        super().__init__()
        self.reprogrammer = reprogrammer

    def forward(self, x: Any) -> tuple[Any, Any]:
        return self.reprogrammer.forward_with_source(x)


class Trainer:
    """Train and evaluate a :class:`Reprogrammer`.

    Args:
        reprogrammer: the method to train; only its I and O parameters are optimised.
        config: a :class:`TrainerConfig` (or keyword overrides of it).
        loss_fn: ``loss(ŷ, y)``; cross-entropy by default.
        gradient_estimator: a zeroth-order estimator for black-box access; back-propagation otherwise.

    Under torchrun, :meth:`fit` runs data-parallel (see the module docstring); :meth:`evaluate`,
    :meth:`predict` and :meth:`source_outputs` run on the whole data in every process.
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
        if (
            self.config.distributed == "auto"
            and self.device.type == "cuda"
            and self.device.index is None
            and _launched_distributed()
        ):
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per process

    # -- data -----------------------------------------------------------------------------
    def loader(self, data: Any, *, shuffle: bool, seed: int | None = None) -> DataLoader[Any]:
        """A DataLoader from ``(inputs, targets)``, a Dataset, or a DataLoader (returned as is)."""
        return self._loader(data, shuffle=shuffle, seed=seed)

    @staticmethod
    def _dataset(data: Any) -> Dataset[Any]:
        if isinstance(data, tuple) and len(data) == 2:
            inputs, targets = data
            if isinstance(inputs, Tensor):
                targets = torch.as_tensor(targets)
                if inputs.dim() == 0 or targets.dim() == 0 or inputs.shape[0] != targets.shape[0]:
                    raise InputError(
                        f"data: inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must have "
                        "the same number of samples (first dimension)"
                    )
                dataset: Dataset[Any] = TensorDataset(inputs, targets)
            else:
                dataset = _Pairs(inputs, targets)
        elif isinstance(data, Dataset):
            dataset = data
        else:
            raise TypeError(f"data: expected (inputs, targets), a Dataset or a DataLoader, got {type(data).__name__}")
        if hasattr(dataset, "__len__") and len(dataset) == 0:
            raise InputError("data: is empty; expected at least one (input, target) pair")
        return dataset

    def _loader(
        self, data: Any, *, shuffle: bool, seed: int | None = None, shard: tuple[int, int] | None = None
    ) -> DataLoader[Any]:
        """Like :meth:`loader`; ``shard=(rank, world_size)`` gives this rank's part through a DistributedSampler."""
        if isinstance(data, DataLoader):
            return data
        dataset = self._dataset(data)
        seed = self.config.seed if seed is None else seed
        options: dict[str, Any] = {}
        if shard is not None:
            rank, world = shard
            options["sampler"] = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
        else:
            options["shuffle"] = shuffle
            options["generator"] = torch.Generator().manual_seed(seed)
        return DataLoader(
            dataset,
            batch_size=self.config.batch_size,
            collate_fn=_collate,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
            **options,
        )

    def _autocast(self) -> torch.autocast:
        amp = self.config.amp
        if amp == "bf16" or (amp == "auto" and self.device.type == "cuda"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return torch.autocast(self.device.type, enabled=False)

    def _model(self) -> Reprogrammer:
        """The reprogrammer on the trainer's device, with the memory-format and compile options applied."""
        model = self.reprogrammer.to(self.device)
        if self.config.channels_last:
            # converts f's 4-D tensors too (values unchanged); torch's overloads of Module.to omit memory_format
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.config.compile:
            network = model.frozen.model
            if getattr(network, "_compiled_call_impl", None) is None:
                network.compile()
        return model

    def _inputs(self, inputs: Any) -> Any:
        inputs = _to_device(inputs, self.device)
        return _channels_last(inputs) if self.config.channels_last else inputs

    # -- statistical alignments -------------------------------------------------------------
    @torch.no_grad()
    def source_outputs(self, data: Any) -> tuple[Tensor, Tensor]:
        """z = f(I(x)) and y over ``data`` (one pass, no gradients)."""
        return self._source_outputs(self._loader(data, shuffle=False))

    @torch.no_grad()
    def _source_outputs(self, loader: DataLoader[Any]) -> tuple[Tensor, Tensor]:
        model = self._model().eval()
        outputs, targets = [], []
        for inputs, y in loader:
            with self._autocast():
                z = model.source_outputs(self._inputs(inputs))
            outputs.append(z.float())
            targets.append(y.to(self.device, non_blocking=True))
        return torch.cat(outputs), torch.cat(targets)

    @torch.no_grad()
    def _source_outputs_sharded(self, data: Any, rank: int, world: int) -> tuple[Tensor, Tensor]:
        """:meth:`source_outputs` with each rank computing 1/world of ``data``, gathered in the original order."""
        if isinstance(data, DataLoader):
            return self._source_outputs(data)  # a user's loader: every rank runs it whole (same result)
        loader = self._loader(data, shuffle=False, shard=(rank, world))
        count = len(loader.dataset)  # type: ignore[arg-type]
        z, y = self._source_outputs(loader)
        # DistributedSampler(shuffle=False) gives rank r the samples r, r + W, r + 2W, ... (padded to equal length)
        z, y = (torch.stack(_all_gather_cat(t).chunk(world)).transpose(0, 1).flatten(0, 1)[:count] for t in (z, y))
        return z, y

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

    def _scheduler(
        self, optimizer: torch.optim.Optimizer, total_steps: int
    ) -> torch.optim.lr_scheduler.LRScheduler | None:
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
        rank, world = 0, 1
        if c.distributed == "auto" and _launched_distributed():
            rank, world = _init_distributed(self.device)
        seed_everything(c.seed + rank)  # per-rank streams for random manipulations; the shards share ``c.seed``
        model = self._model()
        frozen = model.frozen
        frozen.assert_no_gradients()
        params = [p for p in model.parameters() if p.requires_grad]
        output = model.output
        needs_fit = output.alignment is Alignment.STATISTICAL or not output.is_fitted
        if needs_fit:
            if world > 1:
                output.fit(*self._source_outputs_sharded(train, rank, world))
            else:
                self.fit_alignment(train)
        if (
            world > 1
            and isinstance(train, DataLoader)
            and not isinstance(getattr(train, "sampler", None), DistributedSampler)
        ):
            warnings.warn(
                "train: a DataLoader without a DistributedSampler is used as is, so every process sees all of it; "
                "pass (inputs, targets) or a Dataset to shard it",
                stacklevel=2,
            )
        loader = self._loader(train, shuffle=True, shard=(rank, world) if world > 1 else None)
        steps_per_epoch = len(loader)
        total = steps_per_epoch * c.epochs if c.max_steps is None else min(c.max_steps, steps_per_epoch * c.epochs)
        result = TrainResult()
        start = time.perf_counter()
        if params and total > 0:
            optimizer = self._optimizer(params)
            scheduler = self._scheduler(optimizer, total)
            step: Callable[[Any], tuple[Any, Any]] = model.forward_with_source
            if world > 1 and self.gradient_estimator is None:
                from torch.nn.parallel import DistributedDataParallel

                # only I and O are wrapped: f is held outside the reprogrammer's module tree
                step = DistributedDataParallel(
                    _WithSource(model),
                    device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    static_graph=True,
                )
            bar = _progress(total, enabled=c.progress and rank == 0, desc=model.name)
            for epoch in range(c.epochs):
                sampler = loader.sampler
                if isinstance(sampler, DistributedSampler):
                    sampler.set_epoch(epoch)
                model.train()
                seen = 0
                loss_sum: Tensor | float = 0.0  # device tensors after the first step: no synchronisation per step
                correct: Tensor | int = 0
                collected: list[tuple[Tensor, Tensor]] = []
                bad_loss = torch.zeros((), dtype=torch.bool, device=self.device)  # no synchronisation per step
                for inputs, targets in loader:
                    if result.steps >= total:
                        break
                    targets, label_bound = self._check_batch(inputs, targets, "train")
                    inputs, targets = self._inputs(inputs), targets.to(self.device, non_blocking=True)
                    optimizer.zero_grad(set_to_none=True)
                    if self.gradient_estimator is not None:
                        self._check_label_bound(label_bound, _declared_classes(output), "train")
                        loss = self.gradient_estimator.estimate(model, inputs, targets, self.loss_fn)
                        if world > 1:  # average the estimated gradients over the ranks
                            for p in params:
                                if p.grad is not None:
                                    torch.distributed.all_reduce(p.grad)
                                    p.grad.div_(world)
                        with torch.no_grad():
                            logits, source = model.forward_with_source(inputs)
                    else:
                        with self._autocast():
                            logits, source = step(inputs)
                            self._check_label_bound(label_bound, logits, "train")
                            loss = self.loss_fn(logits.float(), targets)
                        loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward has no annotations
                    bad_loss |= ~torch.isfinite(loss.detach()).all()
                    if checks.host_flag_set(bad_loss):  # free on the CPU; elsewhere read at the epoch's end
                        self._raise_nonfinite_loss(epoch, result.steps)
                    if c.gradient_clip:
                        nn.utils.clip_grad_norm_(params, c.gradient_clip)
                    optimizer.step()
                    if scheduler is not None:
                        scheduler.step()
                    if output.refit_each_epoch:
                        collected.append((source.detach().float(), targets))
                    batch = targets.shape[0]
                    seen += batch
                    loss_sum += loss.detach() * batch  # stays on the device: no synchronisation per step
                    if not targets.is_floating_point():  # classification; regression targets have no accuracy
                        correct += (logits.detach().argmax(-1) == targets).sum()
                    result.steps += 1
                    bar.update(1)
                if world > 1:  # every rank reports the metrics of the whole epoch
                    totals = torch.stack(
                        [torch.as_tensor(v, dtype=torch.float64, device=self.device) for v in (loss_sum, correct, seen)]
                    )
                    torch.distributed.all_reduce(totals)
                    loss_sum, correct, seen = totals[0], totals[1], int(totals[2])
                if seen == 0:
                    break
                if bool(bad_loss):
                    self._raise_nonfinite_loss(epoch, None)
                if output.refit_each_epoch and collected:
                    z, y = torch.cat([z for z, _ in collected]), torch.cat([y for _, y in collected])
                    if world > 1:  # ω from the logits of every rank, so it is identical everywhere
                        z, y = _all_gather_cat(z), _all_gather_cat(y)
                    output.fit(z, y)
                record = {"epoch": epoch + 1, "loss": float(loss_sum) / seen, "train_accuracy": float(correct) / seen}
                if eval is not None:
                    record.update({f"eval_{k}": v for k, v in self.evaluate(eval).items()})
                record["seconds"] = time.perf_counter() - start
                result.history.append(record)
                bar.set_postfix({k: round(v, 4) for k, v in record.items() if k not in ("epoch", "seconds")})
            bar.close()
            del step
        elif eval is not None:
            result.history.append({"epoch": 0, **{f"eval_{k}": v for k, v in self.evaluate(eval).items()}})
        result.seconds = time.perf_counter() - start
        result.queries = getattr(self.gradient_estimator, "queries", 0)
        for name, tensor in model.learned_state().items():
            checks.check_finite(tensor, f"learned tensor {name!r}", "training diverged: lower learning_rate")
        frozen.assert_unchanged()
        return result

    def _check_batch(self, inputs: Any, targets: Tensor, name: str) -> tuple[Tensor, int | None]:
        """A batch checked on the host before it moves to the device: not empty, finite, no uint8 images; for the
        default cross-entropy, integer class labels ≥ 0. Returns the targets and their largest label (or None)."""
        if self.device.type != "cpu":  # on the CPU the frozen model's boundary check sees the same tensors
            checks.model_input(inputs, f"{name} inputs")
        if self.loss_fn is not nn.functional.cross_entropy or (targets.is_floating_point() and targets.dim() != 1):
            if targets.is_floating_point() and targets.device.type == "cpu":
                checks.check_finite(targets, f"{name} targets")
            return targets, None  # soft labels, regression targets or a custom loss: values are the loss's business
        targets = checks.check_labels(targets, f"{name} targets")
        return targets, checks.label_bound(targets)

    @staticmethod
    def _check_label_bound(label_bound: int | None, logits: Tensor | int | None, name: str) -> None:
        """Labels must be below the number of predicted classes (``logits``' last size, or a count)."""
        classes = logits if isinstance(logits, int) or logits is None else None
        if isinstance(logits, Tensor) and logits.dim() >= 1:
            classes = logits.shape[-1]
        if label_bound is not None and classes is not None and label_bound >= classes:
            raise InputError(
                f"{name} targets: label {label_bound} is out of range; the reprogrammer predicts {classes} "
                f"classes, allowed labels are 0..{classes - 1}"
            )

    def _raise_nonfinite_loss(self, epoch: int, step: int | None) -> None:
        where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
        raise NonFiniteError(
            f"loss: not finite (NaN or inf) in {where}; the training inputs are finite, so the learned parts "
            f"diverged: lower learning_rate (now {self.config.learning_rate}) or set gradient_clip. Nothing was saved"
        )

    @torch.no_grad()
    def predict(self, data: Any) -> Tensor:
        """Target-task scores ŷ (N, C_t) for ``data``."""
        model = self._model().eval()
        scores = []
        for inputs, _ in self._loader(data, shuffle=False):
            with self._autocast():
                scores.append(model(self._inputs(inputs)).float())
        return torch.cat(scores)

    @torch.no_grad()
    def evaluate(self, data: Any) -> dict[str, float]:
        """Accuracy and mean loss on ``data``."""
        model = self._model().eval()
        seen, loss_sum, correct = 0, 0.0, 0
        for inputs, targets in self._loader(data, shuffle=False):
            targets, label_bound = self._check_batch(inputs, targets, "data")
            inputs, targets = self._inputs(inputs), targets.to(self.device, non_blocking=True)
            with self._autocast():
                logits = model(inputs).float()
            self._check_label_bound(label_bound, logits, "data")
            loss_sum += float(self.loss_fn(logits, targets)) * targets.shape[0]
            if not targets.is_floating_point():  # classification; regression targets have no accuracy
                correct += int((logits.argmax(-1) == targets).sum())
            seen += targets.shape[0]
        if seen == 0:
            raise ValueError("data: is empty")
        return {"accuracy": correct / seen, "loss": loss_sum / seen}


def _declared_classes(output: nn.Module) -> int | None:
    """The number of target classes an output alignment declares, when it declares one."""
    for attribute in ("num_target", "num_classes", "out_features"):
        value = getattr(output, attribute, None)
        if isinstance(value, int):
            return value
    linear = getattr(output, "linear", None)
    return getattr(linear, "out_features", None) if isinstance(linear, nn.Linear) else None


def _progress(total: int, *, enabled: bool, desc: str) -> tqdm[Any]:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="step", leave=False, dynamic_ncols=True)
