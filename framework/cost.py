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
  tokens; for a text-side part of a two-tower model, the class prompts without the part; where f cannot read the
  query at all (a time series into a language model), f on the tokens the entry part (the first embedding part)
  makes, that part's own FLOPs being its overhead.
* **Steady state**: measured on a second run of the same batch, so what an adapter caches across calls
  (a causal-LM scorer's encoded text prefix) costs only its reuse (attention over its keys), not its encoding.
* **Per query**: every figure is for one query (the measured figure divided by the batch size); ``L``
  is the bare query's length in positions (after padding to the batch).

Symbols of f (values in :attr:`OverheadContext.shapes`): ``n_f`` layers, ``W_f`` the weights every
position meets (Σ over the layers' linear maps of d_in·d_out, plus a head applied at every
position), ``d_a`` the attention width (heads × head dimension), ``L`` the query's positions (summed over
the ``R`` rows f runs per query: a scorer runs one row per candidate answer; ``R = 1`` otherwise), ``F_f``
bare f's FLOPs on the query (counted; for parts that run f once more, e.g. to read sentence features), ``F_q``
f's FLOPs per *additional* query (bare f on the batch minus on its first query, over B − 1: F_f less the work f
does once per batch, such as a CLIP text tower's class prompts; F_f where the query cannot be split; counted only
when a declaration uses it).

``W_h``: the weights of a language model's output head (d·V) where it scores only the positions f reads (once per
row, or per generated token); 0 where it scores every position (``W_f`` holds it then) or f has none.
A generating f (an adapter with ``max_new_tokens``) runs each row's prompt once (a prefill) and then ``G``
one-position decode steps over its cache; ``L`` then counts the prefill and the decode positions, so a row's
prompt is ``L/R − G`` positions long.

Lengths that depend on the data (generated reasoning, a prompt of the input's statistics) are shape symbols whose
values a part reads from its last forward. The measurement and the judgement are in :mod:`.cost_measure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import sympy as sp

from .errors import InterfaceError, ReprogrammabilityError
from .symbolic import symbols

if TYPE_CHECKING:  # pragma: no cover - types only
    from .reprogrammer import Reprogrammer

__all__ = [
    "InferenceOverhead",
    "OverheadContext",
    "UndeclaredOverheadError",
    "declared_overhead",
    "once_per_batch",
    "conv_flops",
    "sequence_flops",
    "canvas_elementwise",
    "NO_OVERHEAD",
    "L_QUERY",
    "F_QUERY",
    "F_MARGINAL",
    "BATCH",
    "N_LAYERS",
    "W_POSITION",
    "D_ATTENTION",
    "ROWS",
    "DECODE_STEPS",
    "W_HEAD",
    "text_prefix_overhead",
]

Shapes = Mapping[sp.Symbol, Any]
"""Values of shape symbols: integers, or exact rationals for means (a demonstration's mean token count)."""

N_LAYERS, W_POSITION, D_ATTENTION, L_QUERY, ROWS, F_QUERY = symbols("n_f W_f d_a L R F_f")
F_MARGINAL, DECODE_STEPS, W_HEAD = symbols("F_q G W_h")


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
    def generates(self) -> bool:
        """f generates text: ``G`` decode steps follow each prompt (module docstring)."""
        return bool(self.shapes.get(DECODE_STEPS, 0))

    def generation(
        self, prompt: sp.Expr | int, steps: sp.Expr | int, shapes: Shapes, description: str
    ) -> InferenceOverhead:
        """One more generation by f (one row): a prefill of ``prompt`` positions, then ``steps`` decode steps, each
        step reading the head: ``2·W_f·(P + s) + 2·W_h·(1 + s) + 4·n_f·d_a·(P² + s·P + s(s+1)/2)`` FLOPs."""
        p, g = _expr(prompt), _expr(steps)
        attention = 4 * N_LAYERS * D_ATTENTION * (p**2 + g * p + g * (g + 1) / 2)
        return InferenceOverhead(
            tokens=p + g,
            flops=2 * W_POSITION * (p + g) + 2 * W_HEAD * (1 + g) + attention,
            shapes={**self.shapes, **shapes},
            description=description,
        )

    @property
    def has_attention(self) -> bool:
        return int(self.shapes.get(D_ATTENTION, 0)) > 0

    def extra_positions(
        self, count: sp.Expr | int, shapes: Shapes | None = None, description: str = "", keys: sp.Expr | int = 0
    ) -> InferenceOverhead:
        """``count`` more positions in each of the R rows of a query, through every layer, and ``keys`` more
        attention keys that pass through no layer (a cached or key/value prefix). Per query:
        ``2·R·count·W_f`` for the linear maps and ``4·n_f·d_a·R·((ℓ+count)(ℓ+count+keys) − ℓ²)`` for attention,
        with ``ℓ = L/R`` a row's length. For a generating f (``G`` decode steps, module docstring) ``ℓ = L/R − G`` is
        the prompt's length and each decode step also attends to the ``count + keys`` more keys."""
        count, extra_keys = _expr(count), _expr(keys)
        steps = DECODE_STEPS if self.generates else sp.Integer(0)
        row = L_QUERY / ROWS - steps
        prompt = (row + count) * (row + count + extra_keys) - row**2
        attention = 4 * N_LAYERS * D_ATTENTION * ROWS * (prompt + steps * (count + extra_keys))
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


def conv_flops(c_in: sp.Expr | int, c_out: sp.Expr | int, kernel: int, positions: sp.Expr | int) -> sp.Expr:
    """A convolution as the counter counts it: ``2·k²·c_in·c_out·positions`` (positions: the output's
    H·W for a convolution, the input's H·W for a transposed convolution)."""
    return _expr(2 * kernel * kernel * _expr(c_in) * _expr(c_out) * _expr(positions))


def sequence_flops(positions: sp.Expr | int) -> sp.Expr:
    """One sequence of ``n`` positions through f's layers: ``2·W_f·n`` (each position through the weights) plus
    ``4·n_f·d_a·n²`` (attention scores and mixing over the sequence's own n keys in every layer)."""
    n = _expr(positions)
    return 2 * W_POSITION * n + 4 * N_LAYERS * D_ATTENTION * n**2


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


_MEASUREMENT = frozenset(
    {"flop_counter", "bare_query", "overhead_context", "measure_inference_overhead", "relative_error"}
    | {"judge_overhead", "TOLERANCE", "FLOOR"}
)


def __getattr__(name: str) -> Any:
    """The measurement lives in :mod:`.cost_measure` (it imports this module; loaded on first use)."""
    if name in _MEASUREMENT:
        from . import cost_measure

        return getattr(cost_measure, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
