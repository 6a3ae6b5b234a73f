"""Operator τ: observe each part where it acts and decide additive, concatenative or parametric (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

import torch
from torch import Tensor

from ..axes import Operator
from ..interfaces import EmbeddingState
from .common import (
    FAILED,
    PASSED,
    SKIPPED,
    _close,
    _equal,
    _max_diff,
    _names,
    _operators,
    _part_name,
    _shape,
    _tolerance,
    _trainable,
)
from .recording import _blocks, _Call, _fields, _Probe, _subsequence, _View, _view
from .registry import check_each

if TYPE_CHECKING:
    from .context import Context


def _elementwise_scale(probe: _Probe, call: _Call, view: _View) -> tuple[Optional[Tensor], str]:
    """The response of a same-shape part to small input changes t: ``I(u + t) − I(u) = a ⊙ t`` for a fixed
    element-wise ``a`` (a normalisation; 1 for a plain sum). Returns ``a``, or None and why not."""
    u, v = view.u, view.v
    generator = torch.Generator().manual_seed(probe.seed + 101)
    size = max(float(u.detach().float().abs().mean()), 1e-2)
    responses = []
    for _ in range(2):
        t = (
            (torch.rand(u.shape, generator=generator) + 0.5).to(u)
            * size
            * torch.where(torch.rand(u.shape, generator=generator) < 0.5, -1.0, 1.0).to(u)
        )
        responses.append((probe.replay(call, view, u + t) - v) / t)
    a, b = responses
    if not _close(a, b):
        return (
            None,
            f"its response to a change of the input is not element-wise (it mixes elements: max {_max_diff(a, b):.3g})",
        )
    return a, ""


def _additive_evidence(probe: _Probe) -> tuple[bool, str]:
    """Whether the calls show I(u) = A u + δ: A a fixed map that carries the input (element-wise, e.g. a
    normalisation, or a placement onto a canvas), δ a term independent of u (see the module docstring)."""
    part = probe.part
    learnable = bool(_trainable(part))
    notes = []
    second = None
    for j, c1 in enumerate(probe.first):
        where = f" at layer {c1.layer}" if c1.layer is not None else ""
        if c1.kind == "key_values":
            return (
                False,
                "it provides an attention key/value prefix, which lengthens the attended sequence (concatenative)",
            )
        view = _view(c1)
        if view is None:
            return (
                False,
                f"it maps {_shape(c1.input)} to {_shape(c1.output)}: text, token ids and other non-tensors cannot be added to",
            )
        u1, v1 = view.u, view.v
        if not (u1.is_floating_point() and v1.is_floating_point()):
            return False, f"it acts on discrete values ({u1.dtype}) such as token ids, which cannot be added to"
        if c1.kind in ("embedding", "hidden") and v1.shape != u1.shape:
            return (
                False,
                f"it changes the shape{where} {tuple(u1.shape)} -> {tuple(v1.shape)}; an additive part keeps it",
            )
        if c1.kind == "embedding":
            s_in, s_out = c1.input, c1.output
            if not _equal(s_in.token_positions, s_out.token_positions) or not _equal(
                s_in.attention_mask, s_out.attention_mask
            ):
                return False, "it moves the token positions or changes the attention mask; an additive part keeps them"
        if c1.kind == "input" and (
            _squeezed(v1).dim() != _squeezed(u1).dim() or v1.shape[0] % max(u1.shape[0], 1) != 0
        ):
            return False, f"it changes the number of dimensions {tuple(u1.shape)} -> {tuple(v1.shape)}"
        u2 = probe.other_value(j, view)
        if u2 is None:
            notes.append("two-probe tests skipped: the probe batches differ in shape")
            if learnable:
                d1 = probe.replay(c1, view, u1, perturbed=True) - v1
                if float(d1.abs().max()) <= _tolerance(v1):
                    return False, f"its trainable parameters do not enter its output{where}"
            continue
        v2 = probe.replay(c1, view, u2)
        if not _equal(u1, u2) and _close(v2, v1):
            return (
                False,
                f"its output does not depend on what it receives{where}: it replaces the input rather than adding to it",
            )
        mixed = probe.replay(c1, view, 0.5 * u1 + 0.5 * u2)
        expected = 0.5 * v1 + 0.5 * v2
        if mixed.shape != expected.shape or not _close(mixed, expected):
            gap = _max_diff(mixed, expected) if mixed.shape == expected.shape else float("nan")
            return (
                False,
                f"it is not affine in what it receives{where}: I(½u₁+½u₂) differs from ½I(u₁)+½I(u₂) by {gap:.3g}",
            )
        if v1.shape == u1.shape:
            scale, why = _elementwise_scale(probe, c1, view)
            if scale is None:
                return False, why + where
            tiny = float(scale.abs().min())
            if tiny <= 1e-6:
                return False, (
                    f"it discards part of its input{where} (the input is overwritten where the response is 0): "
                    "I(u) = a ⊙ u + δ needs a ≠ 0 everywhere"
                )
            offset = v1 - scale * u1
            if float(offset.abs().max()) <= _tolerance(v1):
                return False, f"it only rescales its input{where}; nothing is added"
        else:
            notes.append(f"onto a larger canvas {tuple(u1.shape)} -> {tuple(v1.shape)}")
        if learnable:
            # the parameters' effect must not depend on the input; for states and hidden states the whole
            # second probe is used (token ids included), for task inputs the other fields (boxes, graphs) are kept
            if c1.kind in ("embedding", "hidden"):
                second = probe.second
                c2 = second[j]
                view2 = _view(c2)
                if view2 is None:
                    raise ValueError(f"the {c2.kind} the part received on the second probe has no comparable tensor")
                base2, other2 = view2.v, probe.replay(c2, view2, view2.u, perturbed=True)
            else:
                base2, other2 = v2, probe.replay(c1, view, u2, perturbed=True)
            d1 = probe.replay(c1, view, u1, perturbed=True) - v1
            d2 = other2 - base2
            if float(d1.abs().max()) <= _tolerance(v1):
                return False, f"its trainable parameters do not enter its output{where}"
            if d1.shape != d2.shape or not _close(d1, d2):
                return False, (
                    f"its parameters do not enter as a term independent of the input{where}: changing them moves "
                    f"I(u₁) and I(u₂) by different amounts (max difference {_max_diff(d1, d2):.3g})"
                )
    kind = probe.first[0].kind
    how = "changing its parameters shifts every input by the same amount" if learnable else "a fixed term is added"
    extra = f" ({'; '.join(sorted(set(notes)))})" if notes else ""
    return True, f"adds a term at the {kind} interface: I(u) = a ⊙ u + δ, affine and element-wise, {how}{extra}"


def _squeezed(t: Tensor) -> Tensor:
    """``t`` without its size-1 dimensions after the batch (a channel axis added to a waveform is not a new axis)."""
    return t.reshape(t.shape[0], *[n for n in t.shape[1:] if n != 1]) if t.dim() > 1 else t


def _concat_tensor(u: Tensor, v: Tensor, axis: int, where: str) -> tuple[bool, str]:
    """``v`` is ``u`` with positions inserted along ``axis`` (batch 0); the batch may be repeated K times (one row per prompt)."""
    if u.shape[axis] == 0:
        return (
            False,
            f"it receives an empty sequence{where} and generates all {v.shape[axis]} positions (nothing is kept)",
        )
    if v.shape[axis] <= u.shape[axis]:
        return False, f"the sequence does not grow{where} ({u.shape[axis]} -> {v.shape[axis]} positions)"
    inner, outer = u.movedim(axis, 1), v.movedim(axis, 1)
    repeat = ""
    if outer.shape[0] != inner.shape[0] and inner.shape[0] and outer.shape[0] % inner.shape[0] == 0:
        k = outer.shape[0] // inner.shape[0]
        for expanded, how in (
            (inner.repeat_interleave(k, dim=0), "one after another"),
            (inner.repeat(k, *[1] * (inner.dim() - 1)), "batch after batch"),
        ):
            if _subsequence(expanded, outer) is not None:
                inner, repeat = expanded, f", each input paired with {k} prompts ({how})"
                break
    positions = _subsequence(inner, outer)
    if positions is None:
        return False, (
            f"the original {u.shape[axis]} positions are not kept unchanged and in order inside the "
            f"{v.shape[axis]} positions it returns{where}"
        )
    runs = _blocks(positions, v.shape[axis])
    prompt = v.shape[axis] - u.shape[axis]
    where_blocks = ", ".join(f"{length} at {start}" for start, length in runs)
    return True, (
        f"inserts P={prompt} prompt positions{where} ({where_blocks}); the original {u.shape[axis]} are kept unchanged "
        f"and in order{repeat}"
    )


def _token_rows(value: Any) -> Optional[list[Tensor]]:
    """The real tokens of each row of a token-id batch (dict with ``input_ids``/``attention_mask``, or a tensor)."""
    fields = _fields(value)
    ids = fields.get("input_ids") if fields is not None else value
    if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.dim() != 2:
        return None
    mask = fields.get("attention_mask") if fields is not None else None
    if not isinstance(mask, Tensor) or mask.shape != ids.shape:
        return [row for row in ids]
    return [row[m.bool()] for row, m in zip(ids, mask)]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(t, str) for t in value)
    )


def _concat_text(before: Any, after: Any) -> tuple[bool, str]:
    texts_in = [before] if isinstance(before, str) else list(before)
    texts_out = [after] if isinstance(after, str) else list(after) if isinstance(after, (list, tuple)) else None
    if texts_out is None or len(texts_out) != len(texts_in) or not all(isinstance(t, str) for t in texts_out):
        return False, f"it maps {len(texts_in)} strings to {_shape(after)}; expected one longer string per input"
    for a, b in zip(texts_in, texts_out):
        if len(b) <= len(a):
            return False, f"the text does not grow ({len(a)} -> {len(b)} characters)"
        if a not in b:
            return False, f"the input text {a[:40]!r} is not kept as one contiguous block in {b[:80]!r}"
    grown = sorted({len(b) - len(a) for a, b in zip(texts_in, texts_out)})
    return (
        True,
        f"keeps every input text as a contiguous block of a longer text (+{_names([str(g) for g in grown], 3)} characters)",
    )


def _concat_tokens(before: list[Tensor], after: list[Tensor]) -> tuple[bool, str]:
    if len(before) != len(after):
        return False, f"it maps {len(before)} token sequences to {len(after)}"
    grown = {len(b) - len(a) for a, b in zip(before, after)}
    if len(grown) != 1 or next(iter(grown)) <= 0:
        return False, f"the token sequences grow by {sorted(grown)} tokens; a prompt adds the same P > 0 tokens to each"
    for a, b in zip(before, after):
        j = 0
        for token in a.tolist():
            rest = b[j:].tolist()
            if token not in rest:
                return False, "the original tokens are not kept unchanged and in order inside the prompted sequence"
            j += rest.index(token) + 1
    return (
        True,
        f"inserts P={next(iter(grown))} tokens into every sequence; the original tokens are kept unchanged and in order",
    )


def _concatenative_evidence(probe: _Probe, prepare: Callable[[Any], Any]) -> tuple[bool, str]:
    """Whether the calls show the input kept unchanged and in order inside a longer sequence (see the module docstring)."""
    reasons = []
    part = probe.part
    for j, c1 in enumerate(probe.first):
        where = f" at layer {c1.layer}" if c1.layer is not None else ""
        if c1.kind == "key_values":
            pairs_kv = c1.output
            lengths = {k.shape[2] for k, _ in pairs_kv} | {v.shape[2] for _, v in pairs_kv}
            if len(lengths) != 1 or next(iter(lengths)) <= 0:
                return False, f"its key/value prefix has lengths {sorted(lengths)}; a prompt needs one length P > 0"
            reasons.append(
                f"prepends a key/value prefix of length P={next(iter(lengths))} to {len(pairs_kv)} attention layers"
            )
            continue
        u, v = c1.input, c1.output
        view_method = getattr(part, "validation_view", None)
        if callable(view_method):
            u, v = view_method(u, v)
        if _is_text(u) and _is_text(v):
            ok, why = _concat_text(u, v)
        elif (
            c1.kind == "input" and (_is_text(u) or _token_rows(u) is not None) and (after := _token_rows(v)) is not None
        ):
            before = _token_rows(u) if not _is_text(u) else _token_rows(prepare(u))
            ok, why = (
                (False, "the task input could not be tokenised") if before is None else _concat_tokens(before, after)
            )
        elif isinstance(u, EmbeddingState) and isinstance(v, EmbeddingState):
            ok, why = _concat_tensor(u.embeds, v.embeds, 1, where)
        elif c1.kind == "hidden" and isinstance(u, Tensor) and isinstance(v, Tensor):
            ok, why = _concat_hidden(probe, j, c1, where)
        elif isinstance(u, Tensor) and isinstance(v, Tensor):
            if u.dim() != v.dim():
                return False, f"it changes the number of dimensions {tuple(u.shape)} -> {tuple(v.shape)}"
            grown = [d for d in range(1, u.dim()) if v.shape[d] != u.shape[d]]
            if len(grown) != 1:
                return False, (
                    f"a concatenation lengthens exactly one axis, but {tuple(u.shape)} -> {tuple(v.shape)} changes "
                    f"{len(grown)} axes"
                )
            ok, why = _concat_tensor(u, v, grown[0], where)
        else:
            hint = (
                ""
                if callable(view_method)
                else (
                    " (a part whose operator acts on something other than what forward receives can say where with "
                    "validation_view(received, returned) -> (before, after))"
                )
            )
            return (
                False,
                f"it maps {_shape(u)} to {_shape(v)}; a concatenation returns a longer sequence of the same kind{hint}",
            )
        if not ok:
            return False, why
        reasons.append(why)
    return True, "; ".join(sorted(set(reasons)))


def _concat_hidden(probe: _Probe, j: int, call: _Call, where: str) -> tuple[bool, str]:
    """A hidden edit is concatenative when it lengthens the hidden sequence keeping it, or (deep prompts) when it
    replaces only prompt positions inserted at the embedding by values that do not depend on the input."""
    a, b = call.input, call.output
    if b.dim() != a.dim() or b.shape[0] != a.shape[0] or b.shape[2:] != a.shape[2:]:
        return False, f"it changes the hidden shape{where} {tuple(a.shape)} -> {tuple(b.shape)}"
    if b.shape[1] > a.shape[1]:
        return _concat_tensor(a, b, 1, where)
    if b.shape[1] < a.shape[1]:
        return False, f"the hidden sequence shrinks{where} ({a.shape[1]} -> {b.shape[1]} positions)"
    changed = (a != b).reshape(a.shape[0], a.shape[1], -1).any(-1).any(0)
    positions = [t for t in range(a.shape[1]) if bool(changed[t])]
    if not positions:
        return False, f"it changes nothing{where}"
    prompts = probe.prompt_positions or set()
    outside = [t for t in positions if t not in prompts]
    if outside:
        return False, (
            f"it keeps the length{where} and overwrites original positions {_names([str(t) for t in outside], 4)} "
            "(a concatenation keeps the original content; deep prompts replace only prompt positions inserted earlier)"
        )
    view = _view(call)
    other = probe.other_value(j, view) if view is not None else None
    if view is None or other is None:
        return False, f"its output{where} could not be compared across probes"
    b2 = probe.replay(call, view, other)
    index = torch.tensor(positions, device=b.device)
    if not _close(b.index_select(1, index), b2.index_select(1, index)):
        return False, f"the prompt positions it replaces{where} depend on the input"
    runs = _blocks([t for t in range(a.shape[1]) if t not in positions], a.shape[1])
    return True, (
        f"replaces the prompt block(s) {', '.join(f'{n} at {s}' for s, n in runs)}{where} by input-independent values "
        "and keeps every other position unchanged (deep prompt)"
    )


def _check_operator(ctx: Context, operator: Operator) -> tuple[str, str]:
    declared = [(i, p) for i, p in enumerate(ctx.parts) if operator in _operators(p)]
    if not declared:
        return SKIPPED, f"no input part declares operator {operator}"
    problems: list[str] = []
    found: list[str] = []
    for index, part in declared:
        label = _part_name(index, part)
        probe = ctx._probe(index)
        if not probe.first:
            problems.append(f"{label} was never called during a forward")
            continue
        ops = set(_operators(part))
        additive = _additive_evidence(probe)
        concatenative = _concatenative_evidence(probe, ctx._prepare)
        if operator is Operator.ADDITIVE:
            if ops == {Operator.ADDITIVE}:
                ok, why = additive
            elif Operator.CONCATENATIVE in ops:
                ok, why = additive if additive[0] else concatenative
            else:  # additive + parametric: a sum whose term may depend on the input
                first = probe.first[0]
                view = _view(first)
                u, v = (view.u, view.v) if view is not None else (None, None)
                ok = (
                    u is not None
                    and v is not None
                    and u.is_floating_point()
                    and (v.shape == u.shape or (first.kind == "input" and _squeezed(v).dim() == _squeezed(u).dim()))
                    and not concatenative[0]
                )
                why = (
                    "keeps the shape and adds to its input (the added term may depend on it: declared with parametric)"
                    if ok
                    else f"declared additive+parametric but it maps {_shape(first.input)} to {_shape(first.output)} "
                    "(an additive part keeps the shape of what it receives)"
                )
        elif operator is Operator.CONCATENATIVE:
            ok, why = concatenative
        else:
            if ops != {Operator.PARAMETRIC}:
                ok, why = (
                    True,
                    f"declared together with {'+'.join(sorted(o.value for o in ops - {Operator.PARAMETRIC}))}, checked there",
                )
            elif additive[0]:
                ok, why = False, f"it is additive ({additive[1]}); declare operator=additive"
            elif concatenative[0]:
                ok, why = False, f"it is concatenative ({concatenative[1]}); declare operator=concatenative"
            else:
                ok, why = True, f"neither additive ({additive[1]}) nor concatenative ({concatenative[1]})"
        (found if ok else problems).append(f"{label}: {why}")
    if problems:
        return FAILED, "; ".join(problems)
    return PASSED, "; ".join(found)


check_each(
    "operator τ",
    _check_operator,
    (
        "operator-additive",
        Operator.ADDITIVE,
        "an additive part keeps the shape, is affine in what it receives and adds a term that does not depend on it",
        "τ=additive promises I(u) = a ⊙ u + δ: the input is carried and something is added, nothing else",
    ),
    (
        "operator-concatenative",
        Operator.CONCATENATIVE,
        "a concatenative part lengthens the sequence by the prompt length and keeps the original content unchanged "
        "and in order",
        "τ=concatenative promises [P; u]: the input is kept whole and a prompt is placed next to it",
    ),
    (
        "operator-parametric",
        Operator.PARAMETRIC,
        "a part declared parametric is neither additive nor concatenative",
        "parametric is the catch-all; a part that is additive or concatenative must say so",
    ),
)
