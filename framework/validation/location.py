"""Location ℓ: each part acts at its declared interface of f, and nowhere else."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..axes import Location
from ..interfaces import EmbeddingState
from .common import (
    FAILED,
    PASSED,
    SKIPPED,
    _equal,
    _part_name,
    _shape,
)
from .context import Context
from .recording import _Call, _layer, _subsequence
from .registry import check_each


def _check_location(ctx: Context, location: Location) -> tuple[str, str]:
    at = [(i, p) for i, p in enumerate(ctx.parts) if p.location is location]
    if not at:
        return SKIPPED, f"no input part at location {location}"
    problems: list[str] = []
    found: list[str] = []
    for index, part in at:
        label = _part_name(index, part)
        calls = ctx.calls1[index]
        if not calls:
            problems.append(f"{label} was never called during a forward")
            continue
        check = {
            Location.INPUT: _input_location,
            Location.EMBEDDING: _embedding_location,
            Location.HIDDEN: _hidden_location,
        }[location]
        ok, why = check(ctx, index, part)
        (found if ok else problems).append(f"{label}: {why}")
    guard = getattr(ctx, "guard", None)
    if guard is not None and not problems:
        inside = guard.findings.differs_inside + guard.findings.differs
        if inside:
            problems.append(
                f"between the {location} interface and f's output, f does not compute what an untouched copy of f "
                f"computes from the same interface values ({inside[0]}): the method acts inside f, not only at "
                f"location={location}"
            )
    if problems:
        return FAILED, "; ".join(problems)
    return PASSED, "; ".join(found) + "; f between the interface and its output agrees with an untouched copy"


def _input_location(ctx: Context, index: int, part: nn.Module) -> tuple[bool, str]:
    with_part = ctx.trace_all.input
    try:
        without = ctx._raw_input(skip=index)
    except Exception as error:  # noqa: BLE001 - f cannot take the task input without this part
        calls = ctx.calls1[index]
        if all(_equal(c.input, c.output) for c in calls):
            return False, "it returns what it receives: it does not act on the input"
        return True, (
            f"f's raw input is what it makes of x ({_shape(with_part)}); without it f's prepare refuses x "
            f"({type(error).__name__})"
        )
    if _equal(with_part, without):
        return False, "f's raw input (after prepare) is identical with and without it: it does not act on the input"
    return True, f"f's raw input changes: {_shape(without)} -> {_shape(with_part)}"


def _embedding_location(ctx: Context, index: int, part: nn.Module) -> tuple[bool, str]:
    if not _equal(ctx.trace_all.input, ctx.prepared):
        return False, "it changes f's raw input (token ids or pixels), which is location=input"
    without = ctx._trace_without(index)
    if without is not None and ctx.trace_all.key_value_length != without.key_value_length:
        return False, "it changes the attention key/value prefix, which is location=hidden"
    calls = ctx.calls1[index]
    if not all(isinstance(c.output, EmbeddingState) for c in calls):
        return False, "it does not return an EmbeddingState"
    if all(_equal(c.input, c.output) for c in calls):
        return False, "its output state equals its input state: the embedding is unchanged"
    ids = ctx.prepared.get("input_ids") if isinstance(ctx.prepared, dict) else None
    for call in calls:
        seen = call.output.extra.get("input_ids")
        if ids is not None and isinstance(seen, Tensor) and seen.shape == ids.shape and part.tower is None:
            if not _equal(seen, ids.to(seen.device)):
                return (
                    False,
                    "it edits the token ids carried with the embedding state; token ids belong to location=input",
                )
    disguised = _token_substitution(ctx, part, calls)
    if disguised:
        return False, disguised
    first = ""
    a, b = ctx.trace_all.hidden.get(0), without.hidden.get(0) if without is not None else None
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        first = (
            f"; the state entering the first block goes {tuple(b.shape)} -> {tuple(a.shape)}"
            if a.shape != b.shape
            else ("; the state entering the first block changes" if not _equal(a, b) else "")
        )
    tower = f" (tower {part.tower!r})" if part.tower is not None else ""
    u, v = calls[0].input.embeds, calls[0].output.embeds
    return (
        True,
        f"token ids untouched; the embedding state{tower} changes {tuple(u.shape)} -> {tuple(v.shape)}{first}",
    )


def _token_substitution(ctx: Context, part: nn.Module, calls: list[_Call]) -> Optional[str]:
    """If every vector it adds or changes is exactly a row of f's token-embedding table, it edits tokens, not embeddings."""
    if part.tower is not None:
        return None
    table_module = ctx.frozen.adapter.embedding_module(ctx.frozen.model)
    if not isinstance(table_module, nn.Embedding):
        return None
    table = table_module.weight.detach()

    def rows(vectors: Tensor) -> bool:
        vectors = vectors.reshape(-1, vectors.shape[-1])[:64]
        if vectors.numel() == 0 or vectors.shape[-1] != table.shape[-1]:
            return False
        distance = torch.cdist(vectors.double(), table.double(), compute_mode="donot_use_mm_for_euclid_dist")
        return bool((distance.min(dim=1).values == 0).all())

    for call in calls:
        u, v = call.input.embeds, call.output.embeds
        if u.shape == v.shape:
            changed = (u != v).any(-1)
            if bool(changed.any()) and rows(v[changed]):
                return (
                    "every embedding vector it changes is exactly a row of f's token-embedding table: it substitutes "
                    "tokens (location=input), it does not manipulate the embedding"
                )
        else:
            kept = _subsequence(u, v)
            new = [t for t in range(v.shape[1]) if t not in set(kept or [])]
            if kept and new and rows(v[:, new]) and rows(u):
                return (
                    "it inserts rows of f's token-embedding table into a sequence of token embeddings: that is a "
                    "text prompt on the token ids (location=input), not an embedding manipulation"
                )
    return None


def _hidden_location(ctx: Context, index: int, part: nn.Module) -> tuple[bool, str]:
    if not _equal(ctx.trace_all.input, ctx.prepared):
        return False, "it changes f's raw input, which is location=input"
    without = ctx._trace_without(index)
    if (
        without is not None
        and ctx.trace_all.embedding is not None
        and not _equal(ctx.trace_all.embedding, without.embedding)
    ):
        return False, "it changes the embedding output, which is location=embedding"
    calls = ctx.calls1[index]
    kv = [c for c in calls if c.kind == "key_values"]
    edits = [c for c in calls if c.kind == "hidden"]
    changed_edits = [c for c in edits if not _equal(c.input, c.output)]
    if part.tower is None:
        raw = ctx.trace_all.input if isinstance(ctx.trace_all.input, Tensor) else None
        embedding = ctx.trace_all.embedding
        for call in changed_edits:
            h = call.input
            if isinstance(raw, Tensor) and _equal(h, raw):
                return False, f"the state it edits at layer {call.layer} is f's raw input (location=input)"
            if isinstance(embedding, Tensor) and _equal(h, embedding):
                return False, (
                    f"the state it edits at layer {call.layer} is the embedding output itself (declare location=embedding, "
                    "or edit a later block)"
                )
    lengths = sorted({k.shape[2] for c in kv for k, _ in c.output})
    if not changed_edits and not any(n > 0 for n in lengths):
        return False, "it neither changes a hidden state nor adds attention keys/values"
    what = []
    if changed_edits:
        what.append(f"edits the hidden state entering block(s) {sorted({_layer(c) for c in changed_edits})}")
    if any(n > 0 for n in lengths):
        what.append(f"adds a key/value prefix of length {lengths} (f sees {ctx.trace_all.key_value_length} extra keys)")
    return True, "input and embedding untouched; " + " and ".join(what)


check_each(
    "location ℓ",
    _check_location,
    (
        "location-input",
        Location.INPUT,
        "an input part changes f's raw input (after the adapter's prepare)",
        "ℓ=input means the part changes what f receives and nothing inside f",
    ),
    (
        "location-embedding",
        Location.EMBEDDING,
        "an embedding part leaves the token ids untouched and changes the embedding state f continues from",
        "ℓ=embedding means the part changes the embedding state and nothing before or after it",
    ),
    (
        "location-hidden",
        Location.HIDDEN,
        "a hidden part leaves input and embedding untouched and changes only intermediate states or attention "
        "keys/values",
        "ℓ=hidden means the part changes intermediate states only",
    ),
)
