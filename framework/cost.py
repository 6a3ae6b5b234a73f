"""Inference overhead of a reprogrammer against bare f, declared symbolically by every part and measured.

Each part of ``ŷ = O_ω(f(I(x)))`` declares :class:`InferenceOverhead`: what one query costs *more* than
bare f on the same query, as sympy expressions of the part's shape symbols and f's shape symbols
(carried by :class:`OverheadContext`).

Conventions (so that the symbolic and the measured figures are comparable):

* **FLOPs** are counted the way :class:`torch.utils.flop_counter.FlopCounterMode` counts them: a matmul
  (B, m, k) @ (k, n) costs ``2·B·m·n·k``, a convolution ``2 · output elements · C_in/groups · kernel area``;
  element-wise operations (additions, masks, activations, normalisations) cost nothing. Attention
  costs ``4·L_q·L_k·d_a`` per layer (``Q Kᵀ`` and ``A V``, every score counted, causal or not), also
  for the fused CPU kernel that the stock counter leaves out (:func:`flop_counter`).
  Element-wise work of a part is stated apart, in ``elementwise`` (not measured).
* **Bare f** is f without any manipulation on the query in f's own format: for images, series and
  other float tensors, the query resized to the shape f receives (a padded canvas of f's input size
  costs no extra f FLOPs, only its element-wise additions); for text and token ids, the query's own
  tokens; for a text-side part of a two-tower model, the class prompts without the part.
* **Steady state**: measured on a second run of the same batch, so what an adapter caches across calls
  (a causal-LM scorer's encoded text prefix) costs only its reuse (attention over its keys), not its encoding.
* **Per query**: every figure is for one query (the measured figure divided by the batch size); ``L``
  is the bare query's length in positions (after padding to the batch).

Symbols of f (values in :attr:`OverheadContext.shapes`): ``n_f`` layers, ``W_f`` the weights every
position meets (Σ over the layers' linear maps of d_in·d_out, plus a head applied at every
position), ``d_a`` the attention width (heads × head dimension), ``L`` the query's positions (summed over
the ``R`` rows f runs per query: a scorer runs one row per candidate answer; ``R = 1`` otherwise), ``F_f``
bare f's FLOPs on the query (counted; for parts that run f once more, e.g. to read sentence features).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import sympy as sp

from .errors import InterfaceError, ReprogrammabilityError
from .symbolic import symbols

if TYPE_CHECKING:  # pragma: no cover - types only
    from torch import nn

    from .frozen import FrozenModel
    from .reprogrammer import Reprogrammer

__all__ = [
    "InferenceOverhead",
    "OverheadContext",
    "UndeclaredOverheadError",
    "declared_overhead",
    "flop_counter",
    "once_per_batch",
    "conv_flops",
    "canvas_elementwise",
    "measure_inference_overhead",
    "NO_OVERHEAD",
    "TOLERANCE",
    "judge_overhead",
    "relative_error",
    "L_QUERY",
    "F_QUERY",
    "text_prefix_overhead",
]

Shapes = Mapping[sp.Symbol, Any]
"""Values of shape symbols: integers, or exact rationals for means (a demonstration's mean token count)."""

N_LAYERS, W_POSITION, D_ATTENTION, L_QUERY, ROWS, F_QUERY = symbols("n_f W_f d_a L R F_f")


class UndeclaredOverheadError(ReprogrammabilityError, NotImplementedError):
    """A part does not declare its inference overhead (``inference_overhead(context)``)."""


def _expr(value: sp.Expr | int) -> sp.Expr:
    return sp.sympify(value)


def _evaluate(expression: sp.Expr, shapes: Shapes, what: str) -> int | float:
    value = _expr(expression).subs(dict(shapes))
    free = value.free_symbols
    if free:
        raise ValueError(f"{what}: no value for shape symbol(s) {sorted(map(str, free))}")
    return int(value) if value.is_integer else float(value)  # a per-query share may be a fraction


@dataclass(frozen=True)
class InferenceOverhead:
    """Extra cost of one query against bare f: ``tokens`` (positions through every layer), ``keys``
    (attention keys per layer that pass through no layer: a key/value prefix), ``flops`` (counted as
    :class:`~torch.utils.flop_counter.FlopCounterMode` does) and ``elementwise`` (uncounted additions /
    multiplications), each a sympy expression whose symbols take their values from ``shapes``."""

    tokens: sp.Expr = sp.Integer(0)
    keys: sp.Expr = sp.Integer(0)
    flops: sp.Expr = sp.Integer(0)
    elementwise: sp.Expr = sp.Integer(0)
    shapes: Shapes = field(default_factory=dict)
    description: str = ""

    def __add__(self, other: InferenceOverhead) -> InferenceOverhead:
        if not isinstance(other, InferenceOverhead):
            return NotImplemented
        clash = [s for s in set(self.shapes) & set(other.shapes) if self.shapes[s] != other.shapes[s]]
        if clash:
            raise ValueError(
                f"shapes: symbol(s) {sorted(map(str, clash))} have different values in the two overheads; "
                "rename one part's symbols"
            )
        return InferenceOverhead(
            tokens=_expr(self.tokens + other.tokens),
            keys=_expr(self.keys + other.keys),
            flops=_expr(self.flops + other.flops),
            elementwise=_expr(self.elementwise + other.elementwise),
            shapes={**self.shapes, **other.shapes},
            description="; ".join(d for d in (self.description, other.description) if d),
        )

    def with_shapes(self, shapes: Shapes) -> InferenceOverhead:
        """The same expressions with more symbol values (f's, from the context)."""
        return replace(self, shapes={**shapes, **self.shapes})

    def evaluate(self) -> dict[str, int | float]:
        """``{"tokens", "keys", "flops", "elementwise"}`` at the concrete shapes (integers, or a fraction for a
        per-query share of per-batch work)."""
        return {
            name: _evaluate(getattr(self, name), self.shapes, name)
            for name in ("tokens", "keys", "flops", "elementwise")
        }

    def latex(self) -> dict[str, str]:
        """Each non-zero figure rendered as LaTeX."""
        return {
            name: sp.latex(getattr(self, name))
            for name in ("tokens", "keys", "flops", "elementwise")
            if _expr(getattr(self, name)) != 0
        }

    def summary_latex(self) -> str:
        """One line: ``\\Delta tokens = ..., \\Delta FLOPs = ...`` (``0`` when nothing is extra)."""
        names = {"tokens": r"\Delta_{\mathrm{tok}}", "keys": r"\Delta_{\mathrm{keys}}"}
        names |= {"flops": r"\Delta_{\mathrm{FLOPs}}", "elementwise": r"\Delta_{\mathrm{elem}}"}
        rendered = [f"{names[k]} = {v}" for k, v in self.latex().items()]
        return ",\\; ".join(rendered) if rendered else r"\Delta = 0"


NO_OVERHEAD = InferenceOverhead(description="no extra cost")


@dataclass(frozen=True)
class OverheadContext:
    """What a part needs to state its overhead: f's shape symbols and their values for one query.

    ``shapes`` holds ``n_f``, ``W_f``, ``d_a`` and ``L`` (module docstring); ``count_tokens`` counts the
    tokens f's tokenizer makes of a text (``None`` when f reads no text); ``batch_size`` is the
    number of queries the measured batch holds."""

    shapes: Shapes
    count_tokens: Callable[[str], int] | None = None
    batch_size: int = 1
    prefix_cached: bool = False
    """f's adapter encodes each distinct text prefix once and reuses its keys/values (steady state: extra keys)."""
    input_shape: tuple[int, ...] | None = None
    """One bare query's shape as f reads it (no batch axis), when it is a tensor: (C, H, W) for images."""
    towers: Mapping[str, Shapes] = field(default_factory=dict)
    """f's shapes per named tower of a multi-tower model (CLIP: ``"text"``; ``R`` there is the tower's sequences
    per query, e.g. C class prompts over a batch of B images)."""

    def for_tower(self, tower: str | None) -> OverheadContext:
        """The context of the tower a part acts on (this one for ``None`` or a single-tower model)."""
        if tower is None or tower not in self.towers:
            return self
        return replace(self, shapes=self.towers[tower], towers={})

    notes: tuple[str, ...] = ()

    @property
    def has_attention(self) -> bool:
        return int(self.shapes.get(D_ATTENTION, 0)) > 0

    def extra_positions(
        self, count: sp.Expr | int, shapes: Shapes | None = None, description: str = "", keys: sp.Expr | int = 0
    ) -> InferenceOverhead:
        """``count`` more positions in each of the R rows of a query, through every layer, and ``keys`` more
        attention keys that pass through no layer (a cached or key/value prefix). Per query:
        ``2·R·count·W_f`` for the linear maps and ``4·n_f·d_a·R·((ℓ+count)(ℓ+count+keys) − ℓ²)`` for attention,
        with ``ℓ = L/R`` a row's length."""
        count, extra_keys = _expr(count), _expr(keys)
        row = L_QUERY / ROWS
        attention = 4 * N_LAYERS * D_ATTENTION * ROWS * ((row + count) * (row + count + extra_keys) - row**2)
        return InferenceOverhead(
            tokens=ROWS * count,
            keys=extra_keys,
            flops=sp.expand(2 * ROWS * count * W_POSITION + attention),
            shapes={**self.shapes, **(shapes or {})},
            description=description or "more positions through every layer",
        )

    def extra_keys(
        self, count: sp.Expr | int, shapes: Shapes | None = None, description: str = ""
    ) -> InferenceOverhead:
        """``count`` more attention keys/values in every layer (no extra position through the linear maps):
        ``4·n_f·d_a·L·count``."""
        return self.extra_positions(0, shapes, description or "attention over more keys in every layer", keys=count)


BATCH = symbols("B")[0]
"""Queries per batch: work done once per batch (a prompt generated from parameters alone) is shared by B queries."""


def once_per_batch(
    flops: sp.Expr | int, shapes: Shapes, context: OverheadContext, description: str = ""
) -> InferenceOverhead:
    """``flops`` computed once per forward whatever the batch (a reparameterised prompt): ``flops / B`` per query."""
    return InferenceOverhead(
        flops=_expr(flops) / BATCH,
        shapes={**shapes, BATCH: context.batch_size},
        description=description or "computed once per batch",
    )


def declared_overhead(rp: Reprogrammer, context: OverheadContext) -> list[tuple[str, InferenceOverhead]]:
    """Each part's declaration (``I0:Class``, ..., ``O:Class``); raises :class:`UndeclaredOverheadError`
    naming the first part that declares none."""
    parts: list[tuple[str, Any]] = [(f"I{i}:{type(m).__name__}", m) for i, m in enumerate(rp.manipulations)]
    parts.append((f"O:{type(rp.output).__name__}", rp.output))
    declared = []
    for label, part in parts:
        overhead = part.inference_overhead(context.for_tower(getattr(part, "tower", None)))
        if not isinstance(overhead, InferenceOverhead):
            raise TypeError(f"{label}.inference_overhead: expected an InferenceOverhead, got {type(overhead).__name__}")
        declared.append((label, overhead.with_shapes(context.for_tower(getattr(part, "tower", None)).shapes)))
    return declared


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
    tensor = query.get("x") if isinstance(query, dict) else query
    return tuple(int(n) for n in tensor.shape[1:]) if hasattr(tensor, "shape") else None


def overhead_context(rp: Reprogrammer, x: Any) -> tuple[OverheadContext, dict[str, Any]]:
    """The context of one query batch ``x``, and the bare run's measurements (``flops``, ``positions``,
    ``seconds``, ``batch_size``)."""
    from .validation.common import _batch_size

    frozen = rp.frozen
    towers = _first_layers(rp)
    layers = towers.get(None, [])
    batch = _batch_size(x)
    query = bare_query(rp, x)
    bare = _count(lambda: frozen(query, []), towers, repeats=0)
    tokenizer = getattr(frozen.adapter, "tokenizer", None)

    def count_tokens(text: str) -> int:
        assert tokenizer is not None
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    per_query = max(1, batch)
    shapes = {
        N_LAYERS: len(layers),
        W_POSITION: _position_weights(layers, _per_position_head(frozen)),
        D_ATTENTION: _attention_width(frozen, layers),
        L_QUERY: sp.Rational(bare.by_tower[None][0], per_query) if layers else 0,
        ROWS: _rows_per_query(frozen),
        F_QUERY: sp.Rational(bare.flops, per_query),
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
    return context, {"flops": bare.flops, "positions": bare.positions, "batch_size": batch, "query": query}


def measure_inference_overhead(rp: Reprogrammer, example_input: Any, repeats: int = 3) -> dict[str, Any]:
    """The reprogrammer's extra cost per query against bare f, measured and declared.

    Returns ``extra_tokens`` (positions entering f's first layer, per query), ``extra_flops``
    (:func:`flop_counter` on ``rp(x)`` minus on bare f, per query), ``extra_time_ratio`` (best of
    ``repeats`` wall-clock times of ``rp(x)`` over bare f's; ``nan`` when ``repeats`` is 0),
    ``symbolic_extra_tokens`` and ``symbolic_extra_flops`` (the parts' declarations summed and
    evaluated), plus ``bare_flops`` (per query), ``symbolic`` (LaTeX per part) and ``batch_size``.
    Raises :class:`UndeclaredOverheadError` when a part declares nothing."""
    context, bare = overhead_context(rp, example_input)
    declared = declared_overhead(rp, context)
    evaluated = [o.evaluate() for _, o in declared]  # each part in its own symbols (C, H, W may differ across parts)
    symbolic = {name: sum(e[name] for e in evaluated) for name in ("tokens", "keys", "flops", "elementwise")}
    frozen, towers, batch = rp.frozen, _first_layers(rp), bare["batch_size"]
    was_training = rp.training
    rp.eval()
    try:
        adapted = _count(lambda: rp(example_input), towers, repeats)
        plain = _count(lambda: frozen(bare["query"], []), towers, repeats)
    finally:
        rp.train(was_training)
    ratio = adapted.seconds / plain.seconds if repeats > 0 and plain.seconds > 0 else float("nan")
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
        "shapes": {str(k): int(v) for k, v in context.shapes.items()},
    }


def relative_error(symbolic: float, measured: float, floor: float) -> float:
    """``|symbolic − measured| / max(|measured|, floor)``; ``floor`` keeps a near-zero extra from dividing by ~0."""
    return abs(symbolic - measured) / max(abs(measured), floor, 1.0)


def conv_flops(c_in: sp.Expr | int, c_out: sp.Expr | int, kernel: int, positions: sp.Expr | int) -> sp.Expr:
    """A convolution as the counter counts it: ``2·k²·c_in·c_out·positions`` (positions: the output's
    H·W for a convolution, the input's H·W for a transposed convolution)."""
    return _expr(2 * kernel * kernel * _expr(c_in) * _expr(c_out) * _expr(positions))


def canvas_elementwise(channels: int, height: int, width: int, operations: int = 1) -> InferenceOverhead:
    """An additive program on a (C, H, W) canvas: ``operations·C·H·W`` element-wise operations, no FLOPs
    in the counter's convention, and no extra f FLOPs (f reads a canvas of its own input size)."""
    c, h, w = symbols("C H W")
    return InferenceOverhead(
        elementwise=operations * c * h * w,
        shapes={c: channels, h: height, w: width},
        description="element-wise program on f's canvas",
    )


def text_prefix_overhead(
    context: OverheadContext, instruction: str, demonstrations: Sequence[str], k: int, query_template: str = "{text}"
) -> InferenceOverhead:
    """A text prefix of ``k`` demonstrations of mean length ``L_d`` tokens (the mean over ``demonstrations``)
    after an instruction of ``L_I`` tokens, and ``L_T`` template tokens around each query (``query_template``
    with the query's ``{text}`` left out): ``k·L_d + L_I`` more keys when f's adapter caches the encoded prefix
    (:attr:`OverheadContext.prefix_cached`), else as many more positions; ``L_T`` more positions per row."""
    if context.count_tokens is None:
        raise InterfaceError("context.count_tokens: a text prefix's length needs f's tokenizer; f has none")
    count = context.count_tokens
    k_, l_d, l_i, l_t = symbols("k L_d L_I L_T")
    lengths = [count(text) for text in demonstrations]
    mean = sp.Rational(sum(lengths), len(lengths)) if lengths else sp.Integer(0)
    before, _, after = query_template.partition("{text}")
    shapes: dict[sp.Symbol, Any] = {k_: int(k), l_d: mean, l_i: count(instruction) if instruction else 0}
    shapes[l_t] = sum(count(piece) for piece in (before, after) if piece.strip())
    prefix = k_ * l_d + l_i
    if context.prefix_cached:
        return context.extra_positions(l_t, shapes, f"{k} demonstrations encoded once and cached", keys=prefix)
    return context.extra_positions(prefix + l_t, shapes, f"{k} demonstrations: more positions")


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
