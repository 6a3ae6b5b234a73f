"""Measuring a reprogrammer's inference overhead against bare f, and judging the parts' declarations by it.

The conventions (what counts as a FLOP, what bare f is, per query, steady state) and the declarations are in
:mod:`.cost`; here each part's declaration is evaluated on one query batch and compared with the positions entering
f's first layer and :class:`~torch.utils.flop_counter.FlopCounterMode`'s count on the reprogrammer and on bare f.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import sympy as sp

from .cost import (
    D_ATTENTION,
    DECODE_STEPS,
    F_MARGINAL,
    F_QUERY,
    L_QUERY,
    N_LAYERS,
    ROWS,
    W_HEAD,
    W_POSITION,
    OverheadContext,
    declared_overhead,
)
from .errors import InterfaceError

if TYPE_CHECKING:  # pragma: no cover - types only
    from torch import nn

    from .frozen import FrozenModel
    from .reprogrammer import Reprogrammer

__all__ = [
    "flop_counter",
    "bare_query",
    "overhead_context",
    "measure_inference_overhead",
    "relative_error",
    "TOLERANCE",
    "FLOOR",
    "judge_overhead",
]


def flop_counter() -> Any:
    """A :class:`~torch.utils.flop_counter.FlopCounterMode` (no display) that also counts the fused CPU
    attention kernel (``4·B·H·L_q·L_k·d_head``, the formula the counter uses for the CUDA kernels)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def fused_attention(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
        return int(sdpa_flop_count(query, key, value))  # type: ignore[no-untyped-call]  # torch leaves it untyped

    mapping: dict[Any, Any] = {}
    fused = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if fused is not None:
        mapping[fused] = fused_attention
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _position_weights(layers: list[nn.Module], head: nn.Module | None) -> int:
    """``W_f``: Σ d_in·d_out over the linear maps inside ``layers`` (and ``head``, applied at every position)."""
    from torch import nn

    total = 0
    modules = [m for layer in layers for m in layer.modules()] + ([] if head is None else list(head.modules()))
    for module in modules:
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif type(module).__name__ == "Conv1D":  # transformers' GPT-2 linear map: weight (d_in, d_out)
            weight = getattr(module, "weight", None)
            total += int(weight.numel()) if weight is not None else 0
    return total


def _attention_width(frozen: FrozenModel, layers: Sequence[nn.Module]) -> int:
    """``d_a`` = heads × head dimension, read from the first layer's attention module, else from f's config."""
    for module in layers[0].modules() if layers else ():
        heads = getattr(module, "num_heads", None) or getattr(module, "num_attention_heads", None)
        head_dim = getattr(module, "head_dim", None) or getattr(module, "attention_head_size", None)
        if isinstance(heads, int) and isinstance(head_dim, int):
            return heads * head_dim
    config = getattr(frozen.model, "config", None)
    heads = getattr(config, "num_attention_heads", None)
    geometry = frozen.adapter.attention_geometry(frozen.model)
    if geometry is None:
        return 0
    if heads is not None:
        return int(heads) * geometry.head_dim
    return geometry.hidden_size


def _layers(frozen: FrozenModel, tower: str | None = None) -> list[nn.Module]:
    try:
        return list(frozen.adapter.layers(frozen.model, tower) if tower else frozen.adapter.layers(frozen.model))
    except Exception:  # noqa: BLE001 - a model without a hidden interface has no positions to count
        return []


def _per_position_head(frozen: FrozenModel) -> nn.Module | None:
    """The language-model head when f scores every position: a transformers LM whose ``forward`` cannot
    limit its scores to the read positions (no ``logits_to_keep``), with the transform in front of its
    output embeddings (BERT's ``cls.predictions``); ``None`` otherwise."""
    import inspect

    getter = getattr(frozen.model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    if head is None or "logits_to_keep" in inspect.signature(type(frozen.model).forward).parameters:
        return None
    name = next((n for n, m in frozen.model.named_modules() if m is head), "")
    parent = name.rpartition(".")[0]
    return frozen.model.get_submodule(parent) if parent else head


def _rows_per_query(frozen: FrozenModel) -> int:
    """Rows f runs per query: one per candidate answer for a scorer of full continuations, else 1."""
    candidates = getattr(frozen.adapter, "candidates", None)
    if candidates and getattr(frozen.adapter, "continuation", None) == "full":
        return len(candidates)
    return 1


def bare_query(rp: Reprogrammer, x: Any) -> Any:
    """The query as bare f reads it (module docstring): float inputs after the input-location parts
    (f's own shape), text and token ids as given."""
    import torch

    from .axes import Location

    parts = [m for m in rp.manipulations if m.location is Location.INPUT]
    if not parts or isinstance(x, (str, list, tuple)):
        return x
    with torch.no_grad():
        shaped = x
        for part in parts:
            shaped = part(shaped)
    if isinstance(x, torch.Tensor) and not x.is_floating_point():
        if isinstance(shaped, torch.Tensor) and not shaped.is_floating_point():
            return x  # token ids stay the query's own tokens
    if isinstance(x, torch.Tensor) and isinstance(shaped, torch.Tensor) and shaped.shape[0] != x.shape[0]:
        if shaped.shape[0] % x.shape[0] == 0:  # each query prompted several times: bare f reads it once
            return shaped.view(x.shape[0], -1, *shaped.shape[1:])[:, 0]
    return shaped


@dataclass
class _Run:
    flops: int = 0
    positions: int = 0
    """Positions entering the first layer of every tower, summed over the forwards."""
    seconds: float = 0.0
    by_tower: dict[str | None, list[int]] = field(default_factory=dict)
    """Per tower: [positions, rows] entering its first layer."""
    calls: list[tuple[int, int]] = field(default_factory=list)
    """(rows, positions per row) of every call of the default tower's first layer."""


def _first_layers(rp: Reprogrammer) -> dict[str | None, list[nn.Module]]:
    """The layers of f's default tower and of every other tower a part acts on (each listed once)."""
    found: dict[str | None, list[nn.Module]] = {None: _layers(rp.frozen)}
    seen = {id(found[None][0])} if found[None] else set()
    for tower in sorted({m.tower for m in rp.manipulations if m.tower}):
        layers = _layers(rp.frozen, tower)
        if layers and id(layers[0]) not in seen:
            found[tower] = layers
            seen.add(id(layers[0]))
    return {k: v for k, v in found.items() if v}


def _count(run: Callable[[], Any], towers: dict[str | None, list[nn.Module]], repeats: int) -> _Run:
    """FLOPs, and positions and rows entering each tower's first layer (summed over every forward) of ``run()``
    in steady state (after one warm-up call), and its best time over ``repeats``."""
    import torch

    result = _Run(by_tower={tower: [0, 0] for tower in towers})
    with torch.no_grad():
        run()  # steady state: what the adapter caches across calls is warm

    def counter_for(tower: str | None) -> Callable[..., None]:
        def count_positions(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            hidden = args[0] if args else kwargs.get("hidden_states")
            if isinstance(hidden, torch.Tensor) and hidden.dim() >= 2:
                result.by_tower[tower][0] += int(hidden.shape[0]) * int(hidden.shape[1])
                result.by_tower[tower][1] += int(hidden.shape[0])
                if tower is None:
                    result.calls.append((int(hidden.shape[0]), int(hidden.shape[1])))

        return count_positions

    handles = [
        layers[0].register_forward_pre_hook(counter_for(tower), with_kwargs=True) for tower, layers in towers.items()
    ]
    try:
        # with gradients on: the counter's module tracker hooks every tensor that requires a gradient, which fails
        # for one made under no_grad (a prompt expanded from a parameter); the forward's FLOPs are the same
        with torch.enable_grad(), flop_counter() as counter:
            run()
    finally:
        for handle in handles:
            handle.remove()
    result.flops = int(counter.get_total_flops())
    result.positions = sum(positions for positions, _ in result.by_tower.values())
    best = float("inf")
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
    result.seconds = best
    return result


def _query_shape(query: Any) -> tuple[int, ...] | None:
    """One query's shape without the batch axis: of a tensor, or of a graph's node features ``x`` (N, F)."""
    tensor: Any = query.get("x") if isinstance(query, dict) else query
    return tuple(int(n) for n in tensor.shape[1:]) if hasattr(tensor, "shape") else None


def _read_head_weights(frozen: FrozenModel) -> int:
    """``W_h`` (module docstring)."""
    getter = getattr(frozen.model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    weight = getattr(head, "weight", None)
    if weight is None or _per_position_head(frozen) is not None:
        return 0
    return int(weight.numel())


def _generation_shapes(frozen: FrozenModel, calls: list[tuple[int, int]]) -> dict[sp.Symbol, Any]:
    """``G`` (decode steps per prompt) and ``R`` (rows per prompt: sampled paths) of a generating f, read from the
    calls of its first layer (a prefill, then one-position steps); empty otherwise."""
    prefills = [rows for rows, positions in calls if positions > 1]
    if getattr(frozen.adapter, "max_new_tokens", None) is None or not prefills:
        return {}
    steps = sp.Rational(len(calls) - len(prefills), len(prefills))
    return {DECODE_STEPS: steps, ROWS: sp.Rational(sum(prefills), len(prefills))}


def _marginal_flops(
    frozen: FrozenModel, query: Any, flops: int, batch: int, towers: dict[str | None, list[nn.Module]]
) -> sp.Expr:
    """``F_q``: (F(batch) − F(first query)) / (B − 1) for a tensor batch; F_f (per query) otherwise."""
    import torch

    if not isinstance(query, torch.Tensor) or batch < 2:
        return sp.Rational(flops, max(1, batch))
    try:
        first = _count(lambda: frozen(query[:1], []), towers, repeats=0)
    except Exception:  # noqa: BLE001 - f that cannot run one query alone: the per-query mean stands in
        return sp.Rational(flops, batch)
    return sp.Rational(flops - first.flops, batch - 1)


def _bare_run(rp: Reprogrammer, query: Any, towers: dict[str | None, list[nn.Module]]) -> tuple[_Run, list[Any]]:
    """Bare f's run on the query, and ``[]``; when f cannot read the query and only an embedding part brings it to f
    (a time series into a language model), f on the tokens that *entry* part makes, its own FLOPs left out, and
    ``[entry]``: the entry part's work is then its overhead."""
    import torch

    from .axes import Location

    frozen = rp.frozen
    try:
        return _count(lambda: frozen(query, []), towers, repeats=0), []
    except InterfaceError:
        entry = next((m for m in rp.manipulations if m.location is Location.EMBEDDING), None)
        if entry is None:
            raise
    bare = _count(lambda: frozen(query, [entry]), towers, repeats=0)
    with torch.enable_grad(), flop_counter() as counter:
        entry(frozen.adapter.embed(frozen.model, frozen.adapter.prepare(frozen.model, query)))
    bare.flops -= int(counter.get_total_flops())
    return bare, [entry]


def overhead_context(rp: Reprogrammer, x: Any) -> tuple[OverheadContext, dict[str, Any]]:
    """The context of one query batch ``x``, and the bare run's measurements (``flops``, ``positions``,
    ``seconds``, ``batch_size``)."""
    from .validation.common import _batch_size

    frozen = rp.frozen
    towers = _first_layers(rp)
    layers = towers.get(None, [])
    batch = _batch_size(x)
    query = bare_query(rp, x)
    bare, reference = _bare_run(rp, query, towers)
    tokenizer = getattr(frozen.adapter, "tokenizer", None)

    def count_tokens(text: str) -> int:
        assert tokenizer is not None
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    per_query = max(1, batch)
    generation = _generation_shapes(frozen, bare.calls)
    shapes = {
        N_LAYERS: len(layers),
        W_POSITION: _position_weights(layers, _per_position_head(frozen)),
        D_ATTENTION: _attention_width(frozen, layers),
        L_QUERY: sp.Rational(bare.by_tower[None][0], per_query) if layers else 0,
        ROWS: generation.pop(
            ROWS, _rows_per_query(frozen) if not reference else sp.Rational(bare.by_tower[None][1], per_query)
        ),
        F_QUERY: sp.Rational(bare.flops, per_query),
        W_HEAD: _read_head_weights(frozen),
        **generation,
    }
    tower_shapes = {
        tower: {
            N_LAYERS: len(tower_layers),
            W_POSITION: _position_weights(tower_layers, None),
            D_ATTENTION: _attention_width(frozen, tower_layers),
            L_QUERY: sp.Rational(bare.by_tower[tower][0], per_query),
            ROWS: sp.Rational(bare.by_tower[tower][1], per_query),
            F_QUERY: shapes[F_QUERY],
        }
        for tower, tower_layers in towers.items()
        if tower is not None
    }
    context = OverheadContext(
        shapes=shapes,
        count_tokens=count_tokens if tokenizer is not None else None,
        batch_size=batch,
        prefix_cached=bool(getattr(frozen.adapter, "use_cache", False)),
        towers=tower_shapes,
        input_shape=_query_shape(query),
    )
    said = (
        f"bare f: f on the tokens {type(reference[0]).__name__} makes of the query, its FLOPs left out"
        if reference
        else "bare f"
    )
    return context, {
        "flops": bare.flops,
        "positions": bare.positions,
        "batch_size": batch,
        "query": query,
        "reference_parts": reference,
        "reference": said,
    }


def measure_inference_overhead(rp: Reprogrammer, example_input: Any, repeats: int = 3) -> dict[str, Any]:
    """The reprogrammer's extra cost per query against bare f, measured and declared.

    Returns ``extra_tokens`` (positions entering f's first layer, per query), ``extra_flops``
    (:func:`flop_counter` on ``rp(x)`` minus on bare f, per query), ``extra_time_ratio`` (best of
    ``repeats`` wall-clock times of ``rp(x)`` over bare f's; ``nan`` when ``repeats`` is 0),
    ``symbolic_extra_tokens`` and ``symbolic_extra_flops`` (the parts' declarations summed and
    evaluated), plus ``bare_flops`` (per query), ``symbolic`` (LaTeX per part), ``batch_size``, ``shapes`` (f's
    symbols' values) and ``reference`` (what bare f is: f itself, or f on the tokens an entry part makes).
    Raises :class:`UndeclaredOverheadError` when a part declares nothing."""
    context, bare = overhead_context(rp, example_input)
    stated = declared_overhead(rp, context)  # an undeclared part fails before anything runs
    frozen, towers, batch = rp.frozen, _first_layers(rp), bare["batch_size"]
    if any(F_MARGINAL in sp.sympify(o.flops).free_symbols for _, o in stated):  # F_q costs two more runs of f
        marginal = _marginal_flops(frozen, bare["query"], bare["flops"], batch, towers)
        context = replace(context, shapes={**context.shapes, F_MARGINAL: marginal})
    was_training = rp.training
    rp.eval()
    try:
        adapted = _count(lambda: rp(example_input), towers, repeats)
        plain = _count(lambda: frozen(bare["query"], bare["reference_parts"]), towers, repeats) if repeats else None
    finally:
        rp.train(was_training)
    # declared after the run: a length that depends on the data (f's generated text) takes its value from it
    declared = declared_overhead(rp, context)
    evaluated = [o.evaluate() for _, o in declared]  # each part in its own symbols (C, H, W may differ across parts)
    symbolic = {name: sum(e[name] for e in evaluated) for name in ("tokens", "keys", "flops", "elementwise")}
    ratio = adapted.seconds / plain.seconds if plain is not None and plain.seconds > 0 else float("nan")
    return {
        "extra_tokens": (adapted.positions - bare["positions"]) / batch,
        "extra_flops": (adapted.flops - bare["flops"]) / batch,
        "extra_time_ratio": ratio,
        "symbolic_extra_tokens": symbolic["tokens"],
        "symbolic_extra_flops": symbolic["flops"],
        "symbolic_extra_keys": symbolic["keys"],
        "symbolic_elementwise": symbolic["elementwise"],
        "bare_flops": bare["flops"] / batch,
        "batch_size": batch,
        "symbolic": {label: o.summary_latex() for label, o in declared},
        "shapes": {str(k): int(v) if sp.sympify(v).is_integer else float(v) for k, v in context.shapes.items()},
        "reference": bare["reference"],
    }


def relative_error(symbolic: float, measured: float, floor: float) -> float:
    """``|symbolic − measured| / max(|measured|, floor)``; ``floor`` keeps a near-zero extra from dividing by ~0."""
    return abs(symbolic - measured) / max(abs(measured), floor, 1.0)


TOLERANCE = 0.05
"""Largest relative difference between the declared and the measured extra tokens and FLOPs."""

FLOOR = 1e-3
"""An extra below this share of bare f's FLOPs counts as zero in the relative error's denominator."""


def judge_overhead(measured: dict[str, Any], tolerance: float = TOLERANCE) -> tuple[str, str]:
    """``(status, reason)`` for one :func:`~reprogrammability.framework.cost.measure_inference_overhead` result."""
    token_error = relative_error(measured["symbolic_extra_tokens"], measured["extra_tokens"], 1.0)
    flop_error = relative_error(
        measured["symbolic_extra_flops"], measured["extra_flops"], FLOOR * measured["bare_flops"]
    )
    said = (
        f"tokens declared {measured['symbolic_extra_tokens']:,} / measured {measured['extra_tokens']:,.2f}, "
        f"FLOPs declared {measured['symbolic_extra_flops']:,} / measured {measured['extra_flops']:,.0f} per query "
        f"(bare f {measured['bare_flops']:,.0f})"
    )
    if token_error > tolerance or flop_error > tolerance:
        parts = "; ".join(f"{label}: {latex}" for label, latex in measured["symbolic"].items())
        return "failed", f"declared and measured differ by more than {tolerance:.0%}: {said}; declarations {parts}"
    return "passed", said
