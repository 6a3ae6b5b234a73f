"""What a factory returns (:class:`ValidationExample`), and how a target (factory, method id, file, instance) is resolved."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor

from ..reprogrammer import Reprogrammer
from ..spec import Spec
from .common import (
    _batch_size,
    _clone,
)


@dataclass
class ValidationExample:
    """What a factory may return instead of ``(reprogrammer, inputs, targets)``.

    Args:
        reprogrammer: the method, built on a tiny model.
        inputs: a batch of task inputs (tensor, list of strings, dict of tensors), ideally ≥ 2 items.
        targets: target labels (B,) for the training steps.
        gradient_estimator: for ``access=zeroth-order``: the estimator the trainer uses
            (:class:`~reprogrammability.framework.training.GradientEstimator`). Required for such methods.
        trainer_config: :class:`TrainerConfig` fields (or an instance) for the training steps, e.g.
            ``{"learning_rate": 0.1, "optimizer": "sgd"}``; epochs, steps, device and seed are the validator's.
        loss_fn: ``loss(ŷ, y)``; cross-entropy by default.
        probe_inputs: a second batch with the same shapes as ``inputs`` for the operator probes; by
            default ``inputs`` rolled by one along the batch.
    """

    reprogrammer: Reprogrammer
    inputs: Any
    targets: Any
    gradient_estimator: Any = None
    trainer_config: Any = None
    loss_fn: Optional[Callable[[Tensor, Tensor], Tensor]] = None
    probe_inputs: Any = None

    @classmethod
    def coerce(cls, value: Any, *, where: str = "factory") -> "ValidationExample":
        """Accept a :class:`ValidationExample`, a 3- or 4-tuple; the message names what is wrong."""
        if isinstance(value, ValidationExample):
            example = value
        elif isinstance(value, (tuple, list)) and len(value) in (3, 4):
            reprogrammer, inputs, targets = value[:3]
            example = cls(reprogrammer, inputs, targets, gradient_estimator=value[3] if len(value) == 4 else None)
        else:
            got = f"a {len(value)}-tuple" if isinstance(value, (tuple, list)) else type(value).__name__
            raise TypeError(
                f"{where}: expected (reprogrammer, inputs, targets), (reprogrammer, inputs, targets, "
                f"gradient_estimator) or a ValidationExample, got {got}"
            )
        if not isinstance(example.reprogrammer, Reprogrammer):
            raise TypeError(
                f"{where}: the first element must be a Reprogrammer, got {type(example.reprogrammer).__name__}"
            )
        if example.gradient_estimator is None:
            example.gradient_estimator = getattr(example.reprogrammer, "gradient_estimator", None)
        if not isinstance(example.targets, Tensor):
            example.targets = torch.as_tensor(example.targets)
        if _batch_size(example.inputs) != example.targets.shape[0]:
            raise ValueError(f"{where}: {_batch_size(example.inputs)} inputs but {example.targets.shape[0]} targets")
        return example


@dataclass
class _Target:
    name: str
    build: Callable[[int], ValidationExample]
    expected: Optional[Spec] = None
    expected_source: str = ""
    from_factory: bool = True


def _seed_everything(seed: int) -> None:
    from ..training import seed_everything

    seed_everything(seed)


def _factory_target(
    factory: Callable[[], Any], name: str, expected: Optional[Spec] = None, source: str = ""
) -> _Target:
    def build(seed: int) -> ValidationExample:
        _seed_everything(seed)
        return ValidationExample.coerce(factory(), where=name)

    return _Target(name=name, build=build, expected=expected, expected_source=source)


def _load_file(path: Path) -> Any:
    module_name = f"_nnr_validate_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"target: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_target(reference: str) -> Any:
    """Resolve ``path/to/file.py:factory``, ``package.module:factory`` or a registered method id.

    Returns the factory (or the registry's :class:`MethodInfo`); the error names what is missing.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError(f"target: expected 'file.py:factory', 'module:factory' or a method id, got {reference!r}")
    reference = reference.strip()
    if ":" in reference:
        location, _, attribute = reference.rpartition(":")
        if not attribute:
            raise ValueError(f"target: {reference!r} names no factory after ':'")
        path = Path(location)
        if location.endswith(".py") or path.exists():
            if not path.is_file():
                raise FileNotFoundError(f"target: no file {location!r}")
            module = _load_file(path)
        else:
            module = importlib.import_module(location)
        obj = module
        for part in attribute.split("."):
            if not hasattr(obj, part):
                available = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
                raise AttributeError(f"target: {location} defines no {attribute!r}; callables there: {available[:15]}")
            obj = getattr(obj, part)
        return obj
    if reference.endswith(".py"):
        raise ValueError(f"target: name the factory in {reference!r} as '{reference}:factory'")
    from ...implementations.registry import get_method

    return get_method(reference)


def _resolve(method: Any, inputs: Any, targets: Any, options: dict[str, Any]) -> _Target:
    from ...implementations.registry import MethodInfo

    if isinstance(method, str):
        method = load_target(method)
    info = method if isinstance(method, MethodInfo) else getattr(method, "method_info", None)
    if isinstance(info, MethodInfo):
        if info.example is None:
            raise ValueError(f"method: {info.id!r} is registered without an example= factory; the validator needs one")
        return _factory_target(info.example, info.id, info.spec, source=f"registry entry {info.id!r}")
    if isinstance(method, Reprogrammer):
        if inputs is None or targets is None:
            raise TypeError("inputs/targets: validating a Reprogrammer instance needs probe inputs and targets")
        pristine = copy.deepcopy(method)
        pristine.frozen._snapshot_versions()
        first = [True]

        def build(seed: int) -> ValidationExample:
            _seed_everything(seed)
            if first[0]:
                first[0] = False
                instance = method
            else:
                instance = copy.deepcopy(pristine)
                instance.frozen._snapshot_versions()  # fresh tensors carry fresh version counters
            return ValidationExample.coerce(
                ValidationExample(instance, _clone(inputs), _clone(targets), **options), where="reprogrammer"
            )

        return _Target(name=method.name, build=build, from_factory=False)
    if callable(method):
        if inputs is not None or targets is not None:
            raise TypeError(
                "inputs/targets: a factory returns its own inputs and targets; pass them only with a Reprogrammer"
            )
        name = getattr(method, "__qualname__", None) or getattr(method, "__name__", None) or type(method).__name__
        return _factory_target(method, name)
    raise TypeError(
        f"method: expected a factory, a registered method id, a MethodInfo or a Reprogrammer, got {type(method).__name__}"
    )
