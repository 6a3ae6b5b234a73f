"""Boundary checks: the one place where the framework's parts validate what they are given.

Every check names the argument at fault, what it got (bounded: never the full value) and what is
allowed. :class:`FrozenModel`, :class:`StatisticalAlignment`, :class:`Trainer` and the label
mappings call these functions instead of repeating their own copies.

Rules applied at the frozen model's boundary (:func:`model_input`):

* a batch is never empty (a tensor with 0 rows, an empty list or dict);
* ``uint8`` and ``bool`` tensors are refused (images must be floating point in [0, 1]: ``x.float() / 255``);
* floating tensors of another dtype than f's parameters (float64, float16, ...) are cast to f's dtype
  (values unchanged up to rounding);
* floating tensors on the CPU must be finite (no NaN / ±inf); on an accelerator the check is left to
  the :class:`Trainer`, which checks each batch on the CPU before moving it (no device synchronisation);
* token ids (``input_ids`` and integer tensors fed to a model with an embedding table) must be integers
  in ``[0, vocabulary size)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .errors import DTypeError, InputError, NonFiniteError, ShapeError

__all__ = [
    "describe",
    "check_finite",
    "check_labels",
    "check_scores",
    "check_not_empty",
    "check_device",
    "check_count",
    "model_input",
    "nonfinite_entries",
]

_INTEGER_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
"""Dictionary entries that hold integer ids or masks (transformers' conventions)."""


def describe(value: Any) -> str:
    """A short, bounded description of ``value`` for an error message (never a full repr of data)."""
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def nonfinite_entries(tensor: Tensor) -> int:
    """How many entries of ``tensor`` are NaN or ±inf (0 for non-floating tensors)."""
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return 0
    return int((~torch.isfinite(tensor)).sum())


def check_finite(tensor: Tensor, name: str, hint: str = "") -> Tensor:
    """Raise :class:`NonFiniteError` if ``tensor`` holds NaN or ±inf (one device synchronisation)."""
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return tensor
    # fast path: NaN and ±inf propagate through a sum (one pass, no mask); an overflowing sum of finite
    # values is told apart by the exact count below
    wide = torch.float64 if tensor.is_floating_point() and tensor.dtype != torch.float64 else None
    if bool(torch.isfinite(tensor.sum(dtype=wide))):
        return tensor
    bad = nonfinite_entries(tensor)
    if bad:
        kind = "NaN" if bool(torch.isnan(tensor).any()) else "±inf"
        message = f"{name}: {bad} of {tensor.numel()} entries are not finite ({kind}); only finite numbers are allowed"
        raise NonFiniteError(message + (f"; {hint}" if hint else ""))
    return tensor


def check_not_empty(value: Any, name: str) -> None:
    """Raise :class:`InputError` if ``value`` (a tensor batch, a sequence or a mapping) holds no samples."""
    if isinstance(value, Tensor):
        if value.dim() == 0:
            raise ShapeError(f"{name}: expected a batch (B, ...), got a 0-dimensional tensor")
        if value.shape[0] == 0 or value.numel() == 0:
            raise InputError(f"{name}: is empty ({describe(value)}); expected at least one sample")
    elif isinstance(value, (list, tuple, Mapping)) and len(value) == 0:
        raise InputError(f"{name}: is empty; expected at least one sample")


def check_labels(targets: Any, name: str, num_classes: int | None = None) -> Tensor:
    """Class labels as a 1-D ``torch.long`` tensor with values in ``[0, num_classes)``.

    Accepts integer (or bool) tensors, sequences and arrays, and floating ones whose values are whole
    numbers; refuses empty, non-integral, negative (``-1``, ``-100``: no ignore index) and too large labels.
    """
    if isinstance(targets, Tensor):
        labels = targets
    else:
        try:
            labels = torch.as_tensor(targets)
        except (TypeError, ValueError, RuntimeError) as error:
            raise DTypeError(f"{name}: expected integer class labels, got {describe(targets)}") from error
    if labels.dim() != 1:
        raise ShapeError(f"{name}: expected class labels of shape (N,), got {tuple(labels.shape)}")
    if labels.numel() == 0:
        raise InputError(f"{name}: is empty; expected at least one label")
    if labels.is_complex():
        raise DTypeError(f"{name}: expected integer class labels, got {labels.dtype}")
    if labels.is_floating_point():
        check_finite(labels, name)
        if not bool((labels == labels.round()).all()):
            raise DTypeError(f"{name}: expected integer class labels, got non-integral {labels.dtype} values")
    labels = labels.long()
    low, high = (int(v) for v in torch.aminmax(labels))
    allowed = "0, 1, ..." if num_classes is None else f"0..{num_classes - 1}"
    if low < 0 or (num_classes is not None and high >= num_classes):
        wrong = low if low < 0 else high
        raise InputError(f"{name}: label {wrong} is out of range; allowed class labels are {allowed}")
    return labels


def host_flag_set(flag: Tensor) -> bool:
    """Read a boolean flag when that costs no device synchronisation: only for a tensor on the host.

    The Trainer accumulates "a loss was not finite" on the device and reads it at the epoch's end; on the CPU
    it reads it every step through this function, which stops training before a non-finite step is applied.
    """
    return flag.device.type == "cpu" and bool(flag)


def label_bound(targets: Tensor) -> int:
    """The largest label of host-side ``targets`` (checked by :func:`check_labels` before the batch moves)."""
    return int(targets.max())


def check_scores(scores: Any, name: str, num_classes: int) -> Tensor:
    """Scores (N, num_classes), floating point, N ≥ 1, every entry finite."""
    if not isinstance(scores, Tensor):
        raise DTypeError(f"{name}: expected a floating-point tensor (N, {num_classes}), got {describe(scores)}")
    if scores.dim() != 2 or scores.shape[1] != num_classes:
        raise ShapeError(f"{name}: expected shape (N, {num_classes}), got {tuple(scores.shape)}")
    if scores.shape[0] == 0:
        raise InputError(f"{name}: is empty (0 samples); expected at least one")
    if not scores.is_floating_point():
        raise DTypeError(f"{name}: expected floating-point scores, got {scores.dtype}")
    return check_finite(scores, name, "the frozen model's outputs must be finite: check the inputs for NaN/inf")


def check_device(device: Any, name: str = "device") -> torch.device:
    """``"auto"`` (CUDA when present, else CPU) or a torch device that exists on this machine."""
    allowed = "'auto', 'cpu', 'cuda', 'cuda:N'" + (", 'mps'" if _mps_available() else "")
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError) as error:
            raise InputError(f"{name}: {describe(device)} is not a torch device; allowed: {allowed}") from error
    else:
        raise DTypeError(f"{name}: expected a device name, got {describe(device)}; allowed: {allowed}")
    if resolved.type == "cpu":
        return resolved
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(
                f"{name}: {str(resolved)!r} but CUDA is not available on this machine; allowed: 'auto', 'cpu'"
            )
        if resolved.index is not None and resolved.index >= count:
            raise InputError(
                f"{name}: {str(resolved)!r} but this machine has {count} CUDA device(s): cuda:0..cuda:{count - 1}"
            )
        return resolved
    if resolved.type == "mps" and _mps_available():
        return resolved
    raise InputError(f"{name}: {str(resolved)!r} is not available on this machine; allowed: {allowed}")


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """A whole number ≥ ``minimum`` (a number of classes, of items, ...); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        if not (isinstance(value, Tensor) and value.dim() == 0 and not value.is_floating_point()):
            raise DTypeError(f"{name}: expected a whole number ≥ {minimum}, got {describe(value)}")
        value = int(value)
    if value < minimum:
        raise InputError(f"{name}: expected a whole number ≥ {minimum}, got {value}")
    return int(value)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def model_input(
    x: Any,
    name: str = "x",
    *,
    dtype: torch.dtype | None = None,
    vocabulary: int | None = None,
    takes_ids: bool = True,
) -> Any:
    """``x`` checked at the frozen model's boundary (see the module docstring); floating tensors cast to ``dtype``.

    ``x``: a tensor (B, ...), a mapping of tensors (``input_ids``, ``attention_mask``, ``pixel_values``, ...)
    or a sequence of samples (texts). ``vocabulary``: the size of f's token embedding table, if any;
    ``takes_ids=False`` (f has no embedding table) refuses integer tensors: they can only be mistaken images.
    """
    if x is None:
        raise DTypeError(f"{name}: got None; expected a batch (a tensor, a dict of tensors or a list of samples)")
    if isinstance(x, Tensor):
        if not takes_ids and not (x.is_floating_point() or x.is_complex()):
            raise DTypeError(
                f"{name}: {x.dtype} values, but the frozen model has no token embedding; expected floating-point "
                "values (images in [0, 1]: x.float() / 255 for 0..255 data)"
            )
        return _tensor_input(x, name, dtype=dtype, vocabulary=vocabulary, ids=False)
    if isinstance(x, Mapping):
        check_not_empty(x, name)
        changed = {}
        for key, value in x.items():
            if isinstance(value, Tensor):
                checked = _tensor_input(
                    value,
                    f"{name}[{key!r}]",
                    dtype=dtype,
                    vocabulary=vocabulary if key == "input_ids" else None,
                    ids=key in _INTEGER_KEYS,
                )
                if checked is not value:
                    changed[key] = checked
        if not changed:
            return x
        result = dict(x) if type(x) is not dict else x.copy()
        result.update(changed)
        return result
    if isinstance(x, (list, tuple)):
        check_not_empty(x, name)
    return x


def _tensor_input(x: Tensor, name: str, *, dtype: torch.dtype | None, vocabulary: int | None, ids: bool) -> Tensor:
    check_not_empty(x, name)
    if x.dtype in (torch.uint8, torch.bool) and not ids:
        hint = " (images in 0..255: pass x.float() / 255)" if x.dtype is torch.uint8 else ""
        raise DTypeError(
            f"{name}: {x.dtype} is not accepted; expected floating-point values{hint} or integer token ids"
        )
    if x.is_complex():
        raise DTypeError(
            f"{name}: complex tensors are not accepted; expected floating-point values or integer token ids"
        )
    if x.is_floating_point():
        if ids:
            raise DTypeError(f"{name}: {x.dtype} token ids or masks; expected an integer tensor (torch.long)")
        if x.device.type == "cpu":
            check_finite(x, name)
        if dtype is not None and dtype.is_floating_point and x.dtype != dtype:
            x = x.to(dtype)
        return x
    integer = ids or x.dtype in (torch.int64, torch.int32, torch.int16, torch.int8)
    if vocabulary is not None and integer and x.device.type == "cpu":  # host tensors only: no device sync
        low, high = (int(v) for v in torch.aminmax(x))
        if low < 0 or high >= vocabulary:
            wrong = low if low < 0 else high
            raise InputError(f"{name}: token id {wrong} is out of range; allowed ids are 0..{vocabulary - 1}")
    return x
