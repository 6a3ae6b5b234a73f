"""Batch independence and input dependence: each prediction is a function of its own input, and of nothing
else in the batch.

Items are taken out of a batch along its first axis (tensors, lists of strings, dicts of such). The
trained method predicts, in evaluation mode, the probe batch x₁, the same batch reversed, x₁ with every
other item replaced by an item of the second probe batch, and x₁'s first item alone; each item's row of
ŷ must agree across these batches up to a tolerance from the dtype (kernels may sum in another order for
another batch size). A method whose task needs the input must give different predictions to different
inputs.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from .common import FAILED, PASSED, SKIPPED, _batch_size, _clone, _error, _max_diff, _shape, _tolerance
from .context import Context
from .guard import difference
from .registry import check


class _NotSplittable(TypeError):
    pass


def _take(inputs: Any, index: list[int], batch: int) -> Any:
    """Items ``index`` of a batch (first axis of tensors, items of lists, values of dicts that are batches)."""
    if isinstance(inputs, Tensor):
        if inputs.dim() == 0 or inputs.shape[0] != batch:
            raise _NotSplittable(f"a tensor {tuple(inputs.shape)} is not a batch of {batch}")
        return inputs[torch.as_tensor(index, device=inputs.device)]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != batch:
            raise _NotSplittable(f"a {type(inputs).__name__} of {len(inputs)} is not a batch of {batch}")
        return type(inputs)(inputs[i] for i in index)
    if isinstance(inputs, dict):
        taken = {}
        for key, value in inputs.items():
            batched = (isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch) or (
                isinstance(value, (list, tuple)) and len(value) == batch
            )
            taken[key] = _take(value, index, batch) if batched else value
        return taken
    raise _NotSplittable(f"inputs of type {type(inputs).__name__} cannot be split into items")


def _mix(first: Any, second: Any, from_second: set[int], batch: int) -> Any:
    """Item i from ``second`` when i is in ``from_second``, else from ``first``."""
    if isinstance(first, Tensor):
        if first.shape != second.shape:
            raise _NotSplittable("the two probe batches differ in shape")
        mask = torch.zeros(batch, dtype=torch.bool, device=first.device)
        mask[sorted(from_second)] = True
        return torch.where(mask.view(-1, *[1] * (first.dim() - 1)), second, first)
    if isinstance(first, (list, tuple)):
        return type(first)(second[i] if i in from_second else first[i] for i in range(batch))
    if isinstance(first, dict):
        mixed = {}
        for key, value in first.items():
            other = second.get(key) if isinstance(second, dict) else None
            batched = (isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch) or (
                isinstance(value, (list, tuple)) and len(value) == batch
            )
            mixed[key] = _mix(value, other, from_second, batch) if batched and other is not None else value
        return mixed
    raise _NotSplittable(f"inputs of type {type(first).__name__} cannot be split into items")


def _predict(ctx: Context, inputs: Any) -> Tensor:
    ctx.rp.eval()
    with torch.no_grad():
        scores = ctx.rp(_clone(inputs))
    if not isinstance(scores, Tensor):
        raise TypeError(f"ŷ is a {type(scores).__name__}, not a tensor of scores")
    return scores.detach()


def _rows_differ(a: Tensor, b: Tensor) -> Optional[float]:
    """The largest difference between two rows (or row blocks) when it exceeds the tolerance, else None."""
    if a.shape != b.shape:
        return float("inf")
    if not a.is_floating_point():
        return None if torch.equal(a, b) else float("inf")
    gap = _max_diff(a, b)
    return gap if gap > _tolerance(a, b) else None


@check("batch-independence", "batch")
def batch_independence(ctx: Context) -> tuple[str, str]:
    """each item's prediction is the same when the rest of the batch is permuted, replaced or absent

    Why: a prediction that depends on the other items of the batch (batch statistics, shared programs) is not a
    function of its input"""
    batch = _batch_size(ctx.x1)
    if batch < 2:
        return SKIPPED, "not applicable: the probe batch has a single item"
    try:
        base = _predict(ctx, ctx.x1)
        reverse = list(reversed(range(batch)))
        reordered = _take(ctx.x1, reverse, batch)
        replaced_items = set(range(1, batch, 2))
        mixed = _mix(ctx.x1, ctx.x2, replaced_items, batch)
        alone = _take(ctx.x1, [0], batch)
    except _NotSplittable as error:
        return SKIPPED, f"not applicable: {error}"
    if base.dim() == 0 or base.shape[0] != batch:
        return FAILED, f"ŷ has shape {tuple(base.shape)}; expected one row per item ({batch})"
    problems = []
    try:
        permuted = _predict(ctx, reordered)
    except Exception as error:  # noqa: BLE001
        return FAILED, f"the method cannot predict the same batch in another order: {_error(error)}"
    for position, item in enumerate(reverse):
        gap = _rows_differ(permuted[position], base[item])
        if gap is not None:
            problems.append(f"item {item}'s prediction changes when the batch is reversed (max difference {gap:.3g})")
            break
    try:
        others = _predict(ctx, mixed)
    except Exception as error:  # noqa: BLE001
        return FAILED, f"the method cannot predict a batch with other items: {_error(error)}"
    for item in sorted(set(range(batch)) - replaced_items):
        gap = _rows_differ(others[item], base[item])
        if gap is not None:
            problems.append(
                f"item {item}'s prediction changes when the other items of the batch are replaced (max difference "
                f"{gap:.3g})"
            )
            break
    try:
        single = _predict(ctx, alone)
    except Exception as error:  # noqa: BLE001
        return FAILED, f"the method cannot predict one item alone: {_error(error)}"
    gap = _rows_differ(single[0], base[0])
    if gap is not None:
        problems.append(
            f"item 0's prediction alone differs from its prediction in the batch (max difference {gap:.3g})"
        )
    if problems:
        return FAILED, "; ".join(problems) + ": predictions leak across the items of a batch"
    return PASSED, (
        f"each of {batch} items is predicted the same with the batch reversed, with other items replaced, and alone"
    )


@check("input-dependence", "batch")
def input_dependence(ctx: Context) -> tuple[str, str]:
    """different inputs get different predictions (the prediction depends on the input)

    Why: a method that ignores its input (a constant program, an alignment that ignores f) solves no task"""
    batch = _batch_size(ctx.x1)
    try:
        items = [_take(ctx.x1, [i], batch) for i in range(batch)]
    except _NotSplittable as error:
        return SKIPPED, f"not applicable: {error}"
    from .common import _equal

    distinct = [i for i in range(1, batch) if not _equal(items[i], items[0])]
    if not distinct:
        return SKIPPED, "not applicable: every item of the probe batch is the same input"
    base = _predict(ctx, ctx.x1)
    if base.dim() == 0 or base.shape[0] != batch:
        return FAILED, f"ŷ has shape {tuple(base.shape)}; expected one row per item ({batch})"
    differing = [i for i in distinct if _rows_differ(base[i], base[0]) is not None]
    if differing:
        return (
            PASSED,
            f"{len(differing)} of {len(distinct)} items with another input than item 0 get another prediction",
        )
    trace = getattr(ctx, "trace_all", None)
    source = trace.output if trace is not None else getattr(ctx, "z0", None)
    source_rows = _rows(source, batch)
    if source_rows is not None and any(difference(source_rows[i], source_rows[0]) for i in distinct):
        if isinstance(source, Tensor) and source.is_floating_point():
            try:
                with torch.no_grad():
                    noise = ctx.rp.output(torch.randn_like(source) * float(source.std().clamp_min(1.0)) * 3)
                    here = ctx.rp.output(source)
            except Exception:  # noqa: BLE001
                noise, here = None, None
            if isinstance(noise, Tensor) and isinstance(here, Tensor) and _rows_differ(noise, here) is None:
                return FAILED, (
                    f"all {batch} different inputs get the same prediction: ŷ does not depend on the input (f's "
                    "outputs differ between the inputs, and the output alignment gives the same ŷ even for random "
                    "outputs of f: the output alignment ignores them)"
                )
        return PASSED, (
            "f's outputs differ between the inputs; the output alignment maps these to the same prediction "
            f"({_shape(source)})"
        )
    untouched = None
    try:
        with torch.no_grad():
            untouched = _rows(ctx.guard.reference(_clone(ctx.x1)), batch)
    except Exception:  # noqa: BLE001 - f may not take the task input without the method's input part
        untouched = None
    if untouched is not None and not any(difference(untouched[i], untouched[0]) for i in distinct):
        return SKIPPED, "not applicable: f itself, without the method, gives the same output to these inputs"
    return FAILED, (
        f"all {batch} different inputs get the same prediction: ŷ does not depend on the input (f's outputs are the "
        "same for every input too, though f without the method tells them apart: the input manipulation discards "
        "the input)"
    )


def _rows(value: Any, batch: int) -> Optional[list[Any]]:
    """The items of a batched output (rows of a tensor, items of a list), or None."""
    if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == batch:
        return list(value)
    if isinstance(value, (list, tuple)) and len(value) == batch:
        return list(value)
    return None
