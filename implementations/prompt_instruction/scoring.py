"""Scoring label words with a frozen causal LM, with a shared-prefix key/value cache.

:class:`CausalLMScorer` is the adapter (the frozen f) for prompting a causal LM. Every prompt is
tokenised segment by segment, ``[BOS] prefix | query | continuation`` (as lm-evaluation-harness
splits a request into context and continuation), and f returns

* without candidates: the next-token logits after the query, (B, V);
* with candidate continuations ``w_1..w_C`` (the label words written by the template's ``output``):
  ``continuation="first"``: ``log p(w_c[0] | prompt)``, (B, C, 1); ``continuation="full"``: the
  per-token log-likelihoods ``log p(w_c[j] | prompt, w_c[<j])``, (B, C, L) zero-padded.

**Shared-prefix cache.** A prefix (instruction + demonstrations) is encoded once, its per-layer
keys and values kept, and every query (row) attends to them: the query runs alone with
``past_key_values`` = the prefix, positions continuing at ``P``. A new ``DynamicCache`` is built
from the stored tensors for every forward, so one query's keys never enter another's cache; the
result equals re-encoding ``prefix + query`` (same token ids) up to float error.

:class:`LabelWordScoring` is the rule-based output alignment over label words: first-token,
summed (lm-evaluation-harness ``acc``) or length-normalised (per token, or per character as
``acc_norm``) log-likelihood.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.symbolic import SymbolicForm, op, z

from .templates import PromptBatch

__all__ = [
    "ScoringInput",
    "CausalLMScorer",
    "LabelWordScoring",
    "CONTINUATION_MODES",
    "NORMALIZATIONS",
    "harness_metrics",
    "accuracy",
    "encode_segment",
]

CONTINUATION_MODES = ("first", "full")
NORMALIZATIONS = ("none", "token", "char")


def encode_segment(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens."""
    if not text:
        return []
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _adds_bos(tokenizer: Any) -> bool:
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos


@dataclass
class ScoringInput:
    """Tokenised prompts: per row a prefix (tuple, shared rows share it) and a non-empty query."""

    prefix_ids: list[tuple[int, ...]]
    query_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.query_ids)

    def detach(self) -> "ScoringInput":  # FrozenModel.trace stores inputs
        return self

    def clone(self) -> "ScoringInput":
        return ScoringInput(list(self.prefix_ids), [list(q) for q in self.query_ids])


@dataclass
class _Prefix:
    """Per-layer keys/values (1 or N, H, P, d), with the attention bias over them and the next position."""

    key_values: list[tuple[Tensor, Tensor]]
    length: int
    next_position: int
    bias: Tensor | None = None


class CausalLMScorer(TextAdapter):
    """The frozen causal LM as a scorer of prompts (see the module docstring).

    Args:
        tokenizer: a transformers tokenizer.
        candidates: continuation strings, one per class (``Template.candidates(label_words)``); ``None``
            returns next-token logits.
        continuation: ``"first"`` (one forward per query, first token of each candidate) or ``"full"``
            (one row per query and candidate, every token).
        use_cache: encode each distinct prefix once and reuse its keys/values; ``False`` re-encodes
            ``prefix + query`` for every row (the reference).
        add_bos: prepend the tokenizer's BOS to every prompt; ``"auto"`` when the tokenizer itself does.
        batch_size: rows per forward.
        prefix_layout: for key/value prefixes given by a hidden manipulation, a callable returning
            ``(bias (P,) or None, next_position)`` (structured prompting's rescaled attention).
    """

    name = "causal-lm-scorer"

    def __init__(
        self,
        tokenizer: Any,
        candidates: Sequence[str] | None = None,
        continuation: str = "full",
        use_cache: bool = True,
        add_bos: bool | str = "auto",
        batch_size: int = 32,
        max_cached_prefixes: int = 64,
        prefix_layout: Callable[[], tuple[Tensor | None, int]] | None = None,
    ):
        super().__init__(tokenizer=tokenizer, readout="last")
        if tokenizer is None:
            raise InterfaceError("tokenizer: CausalLMScorer needs a tokenizer")
        if continuation not in CONTINUATION_MODES:
            raise ValueError(f"continuation: {continuation!r} is not one of {list(CONTINUATION_MODES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.candidates = None if candidates is None else list(candidates)
        self.candidate_ids = None
        if self.candidates is not None:
            if not self.candidates:
                raise ValueError("candidates: give at least one continuation string")
            self.candidate_ids = [encode_segment(tokenizer, c) for c in self.candidates]
            empty = [c for c, ids in zip(self.candidates, self.candidate_ids) if not ids]
            if empty:
                raise ValueError(f"candidates: {empty} tokenise to nothing")
        self.continuation = continuation
        self.use_cache = bool(use_cache)
        self.add_bos = _adds_bos(tokenizer) if add_bos == "auto" else bool(add_bos)
        self.batch_size = int(batch_size)
        self.prefix_layout = prefix_layout
        self._memo: OrderedDict[tuple, _Prefix] = OrderedDict()
        self._max_memo = int(max_cached_prefixes)
        self._edits_active = False
        self.query_end_positions: Tensor | None = None
        """Index of each row's last query token in the current forward (hidden edits read it)."""
        self.stats = {"prefix_encodings": 0, "forwards": 0}

    # -- inputs ---------------------------------------------------------------------------
    def prepare(self, model: nn.Module, x: Any) -> ScoringInput:
        if isinstance(x, ScoringInput):
            return x
        if isinstance(x, PromptBatch):
            prefixes, queries = x.prefixes, x.queries
        elif isinstance(x, str) or (isinstance(x, (list, tuple)) and x and all(isinstance(t, str) for t in x)):
            queries = [x] if isinstance(x, str) else list(x)
            prefixes = [""] * len(queries)
        elif isinstance(x, (Tensor, dict)) or hasattr(x, "keys"):
            prepared = super().prepare(model, x)
            ids, mask = prepared["input_ids"].cpu(), prepared["attention_mask"].cpu()
            rows = [row[m.bool()].tolist() for row, m in zip(ids, mask)]
            return self._split([()] * len(rows), rows)
        else:
            raise InterfaceError(
                f"x: expected a prompt string, a list of them, a PromptBatch or token ids, got {type(x).__name__}"
            )
        bos = [self.tokenizer.bos_token_id] if self.add_bos else []
        cache: dict[str, tuple[int, ...]] = {}
        prefix_ids = []
        for p in prefixes:
            if p not in cache:
                cache[p] = tuple(bos + encode_segment(self.tokenizer, p))
            prefix_ids.append(cache[p])
        query_ids = [encode_segment(self.tokenizer, q) for q in queries]
        return self._split(prefix_ids, query_ids)

    @staticmethod
    def _split(prefix_ids: list[tuple[int, ...]], query_ids: list[list[int]]) -> ScoringInput:
        prefixes, queries = [], []
        for row, (p, q) in enumerate(zip(prefix_ids, query_ids)):
            if not q:  # the query must hold at least the token that predicts the continuation
                if not p:
                    raise InterfaceError(f"x[{row}]: the prompt tokenises to nothing")
                p, q = p[:-1], [p[-1]]
            prefixes.append(tuple(p))
            queries.append(list(q))
        return ScoringInput(prefixes, queries)

    # -- the frozen guarantee of the cache: edits disable it --------------------------------
    @contextlib.contextmanager
    def hidden_edits(self, model: nn.Module, edits) -> Iterator[None]:
        previous = self._edits_active
        self._edits_active = bool(edits)
        try:
            with super().hidden_edits(model, edits):
                yield
        finally:
            self._edits_active = previous

    def clear_cache(self) -> None:
        self._memo.clear()

    # -- running f ------------------------------------------------------------------------
    def forward_input(self, model: nn.Module, x: ScoringInput) -> Tensor:
        if not isinstance(x, ScoringInput):
            x = self.prepare(model, x)
        groups: OrderedDict[tuple[int, ...], list[int]] = OrderedDict()
        for row, p in enumerate(x.prefix_ids):
            groups.setdefault(p, []).append(row)
        results: list[Tensor | None] = [None] * len(x)
        for prefix, rows in groups.items():
            queries = [x.query_ids[r] for r in rows]
            if prefix and self.use_cache and not self._edits_active:
                out = self._score(model, queries, self._cached_prefix(model, prefix), [()] * len(rows))
            else:
                out = self._score(model, queries, None, [prefix] * len(rows))
            for r, value in zip(rows, out):
                results[r] = value
        return torch.stack(results)  # type: ignore[arg-type]

    def embed(self, model: nn.Module, x: ScoringInput) -> EmbeddingState:
        if not isinstance(x, ScoringInput):
            x = self.prepare(model, x)
        ids = torch.zeros(len(x), 1, dtype=torch.long, device=next(model.parameters()).device)
        state = EmbeddingState(embeds=model.get_input_embeddings()(ids), attention_mask=torch.ones_like(ids))
        state.extra.update(scoring=x, embeds=state.embeds)
        return state

    def forward_embedded(self, model: nn.Module, state: EmbeddingState, key_values=None) -> Tensor:
        if state.extra.get("embeds") is not state.embeds:
            raise InterfaceError(
                "CausalLMScorer: embedding-location manipulations are not supported; use TextAdapter for soft prompts"
            )
        x: ScoringInput = state.extra["scoring"]
        if not key_values:
            return self.forward_input(model, x)
        bos = (self.tokenizer.bos_token_id,) if self.add_bos else ()
        if any(p and p != bos for p in x.prefix_ids):
            raise InterfaceError(
                "CausalLMScorer: a key/value prefix cannot be combined with a text prefix (PromptBatch)"
            )
        # the key/value prefix starts the sequence (it holds its own BOS)
        length = key_values[0][0].shape[2]
        bias, next_position = self.prefix_layout() if self.prefix_layout is not None else (None, length)
        prefix = _Prefix([(k[:1], v[:1]) for k, v in key_values], length, next_position, bias)
        return torch.stack(self._score(model, x.query_ids, prefix, [()] * len(x)))

    @torch.no_grad()
    def _cached_prefix(self, model: nn.Module, prefix: tuple[int, ...]) -> _Prefix:
        key = (id(model), prefix)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        device = next(model.parameters()).device
        ids = torch.tensor([prefix], device=device)
        output = model.base_model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            position_ids=torch.arange(len(prefix), device=device)[None],
            use_cache=True,
        )
        cache = output.past_key_values
        if hasattr(cache, "layers"):
            key_values = [(layer.keys.detach(), layer.values.detach()) for layer in cache.layers]
        else:  # older cache API
            key_values = [(k.detach(), v.detach()) for k, v in zip(cache.key_cache, cache.value_cache)]
        self.stats["prefix_encodings"] += 1
        entry = _Prefix(key_values, len(prefix), len(prefix))
        self._memo[key] = entry
        while len(self._memo) > self._max_memo:
            self._memo.popitem(last=False)
        return entry

    def _rows(self, queries: list[list[int]]) -> tuple[list[list[int]], list[int], list[int], list[list[int]]]:
        """Expand queries into rows: (row ids after the prefix, owning query, query length, targets)."""
        rows, owner, qlen, targets = [], [], [], []
        for b, q in enumerate(queries):
            if self.candidate_ids is None or self.continuation == "first":
                rows.append(q)
                owner.append(b)
                qlen.append(len(q))
                targets.append([])
            else:
                for ids in self.candidate_ids:
                    rows.append(q + ids)
                    owner.append(b)
                    qlen.append(len(q))
                    targets.append(ids)
        return rows, owner, qlen, targets

    def _score(
        self, model: nn.Module, queries: list[list[int]], prefix: _Prefix | None, text_prefixes: list[tuple[int, ...]]
    ) -> list[Tensor]:
        """Per query: (V,) logits, (C, 1) first-token or (C, L) per-token log-likelihoods."""
        rows, owner, qlen, targets = self._rows(queries)
        offsets = [len(text_prefixes[b]) for b in owner]
        rows = [list(text_prefixes[b]) + r for b, r in zip(owner, rows)]
        head = model.get_output_embeddings()
        per_row: list[Tensor] = []
        for start in range(0, len(rows), self.batch_size):
            chunk = range(start, min(start + self.batch_size, len(rows)))
            hidden, device = self._forward_rows(
                model, [rows[i] for i in chunk], prefix, [offsets[i] + qlen[i] - 1 for i in chunk]
            )
            for j, i in enumerate(chunk):
                end = offsets[i] + qlen[i] - 1  # position of the last query token
                if not targets[i]:
                    logits = self._logits(model, head, hidden[j, end : end + 1])[0]
                    if self.candidate_ids is None:
                        per_row.append(logits.float())
                    else:
                        first = torch.tensor([ids[0] for ids in self.candidate_ids], device=device)
                        per_row.append(F.log_softmax(logits.float(), -1)[first].unsqueeze(-1))
                else:
                    n = len(targets[i])
                    logp = F.log_softmax(self._logits(model, head, hidden[j, end : end + n]).float(), -1)
                    per_row.append(logp.gather(-1, torch.tensor(targets[i], device=device)[:, None])[:, 0])
        if self.candidate_ids is None or self.continuation == "first":
            return per_row
        width = max(len(ids) for ids in self.candidate_ids)
        out = []
        count = len(self.candidate_ids)
        for b in range(len(queries)):
            block = per_row[b * count : (b + 1) * count]
            out.append(torch.stack([F.pad(t, (0, width - t.shape[0])) for t in block]))
        return out

    @staticmethod
    def _logits(model: nn.Module, head: nn.Module, hidden: Tensor) -> Tensor:
        logits = head(hidden)
        cap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def _forward_rows(
        self, model: nn.Module, rows: list[list[int]], prefix: _Prefix | None, query_ends: list[int]
    ) -> tuple[Tensor, torch.device]:
        """Last hidden states (N, T, D) of right-padded rows, after ``prefix`` when given."""
        from transformers import DynamicCache

        device = next(model.parameters()).device
        n, width = len(rows), max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((n, width), pad, dtype=torch.long, device=device)
        mask = torch.zeros(n, width, dtype=torch.long, device=device)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r, device=device)
            mask[i, : len(r)] = 1
        self.query_end_positions = torch.tensor(query_ends, device=device)
        self.stats["forwards"] += 1
        kwargs: dict[str, Any] = {}
        start = 0
        if prefix is not None:
            start = prefix.next_position
            kwargs["past_key_values"] = DynamicCache(
                ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in prefix.key_values],
                config=model.config,
            )
            kwargs["use_cache"] = True
            if prefix.bias is None:
                attention = torch.cat([mask.new_ones(n, prefix.length), mask], dim=1)
            else:
                dtype = model.get_input_embeddings().weight.dtype
                low = torch.finfo(dtype).min
                causal = torch.full((width, width), low, device=device, dtype=dtype).triu(1)
                own = causal[None] + (1 - mask[:, None, :].to(dtype)) * low
                shared = prefix.bias.to(device, dtype)[None, None, :].expand(n, width, -1)
                attention = torch.cat([shared, own.clamp_min(low)], dim=2)[:, None]
        else:
            attention = mask
        positions = (start + torch.arange(width, device=device))[None].expand(n, -1)
        output = model.base_model(input_ids=ids, attention_mask=attention, position_ids=positions, **kwargs)
        return output.last_hidden_state, device


class LabelWordScoring(OutputAlignment):
    """Rule-based alignment: class c scores its label word's log-likelihood.

    ``ŷ_c = log p(w_c[0] | x')`` (``first_token``), ``Σ_j log p(w_c[j] | x', w_c[<j])`` (``"none"``,
    lm-evaluation-harness ``acc``), that sum divided by the token count (``"token"``) or by the
    label word's character length (``"char"``, lm-evaluation-harness ``acc_norm``).

    Input ``z``: next-token logits (B, V) (first token only) or :class:`CausalLMScorer` scores (B, C, L).
    """

    alignment = Alignment.RULE_BASED

    def __init__(
        self,
        candidate_ids: Sequence[Sequence[int]],
        label_words: Sequence[str],
        normalization: str = "none",
        first_token: bool = False,
    ):
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization: {normalization!r} is not one of {list(NORMALIZATIONS)}")
        if len(candidate_ids) != len(label_words) or not label_words:
            raise ValueError(f"label_words: need one per candidate ({len(candidate_ids)}), got {len(label_words)}")
        self.label_words = list(label_words)
        self.normalization, self.first_token = normalization, bool(first_token)
        self.register_buffer("first_ids", torch.tensor([ids[0] for ids in candidate_ids], dtype=torch.long))
        self.register_buffer("token_counts", torch.tensor([len(ids) for ids in candidate_ids], dtype=torch.float32))
        self.register_buffer("char_counts", torch.tensor([max(1, len(w)) for w in label_words], dtype=torch.float32))

    @classmethod
    def for_scorer(cls, scorer: CausalLMScorer, label_words: Sequence[str], **options: Any) -> "LabelWordScoring":
        if scorer.candidate_ids is None:
            raise ValueError("scorer: has no candidates; build it with candidates=template.candidates(label_words)")
        first = options.pop("first_token", scorer.continuation == "first")
        return cls(scorer.candidate_ids, label_words, first_token=first, **options)

    @property
    def num_classes(self) -> int:
        return len(self.label_words)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() == 2:
            if not self.first_token and bool((self.token_counts > 1).any()):
                raise ShapeError(
                    "z: next-token logits (B, V) give only first-token scores, but some label words have several "
                    "tokens; use first_token=True or CausalLMScorer(continuation='full')"
                )
            scores = F.log_softmax(z.float(), dim=-1)[:, self.first_ids]
        elif z.dim() == 3:
            if z.shape[1] != self.num_classes:
                raise ShapeError(f"z: expected shape (B, {self.num_classes}, L), got {tuple(z.shape)}")
            scores = z[..., 0] if self.first_token else z.sum(-1)
        else:
            raise ShapeError(f"z: expected shape (B, V) or (B, C, L), got {tuple(z.shape)}")
        if self.first_token or self.normalization == "none":
            return scores
        return scores / (self.token_counts if self.normalization == "token" else self.char_counts).to(scores)

    def symbolic(self) -> SymbolicForm:
        name = {True: "first", False: {"none": "sum", "token": "token-mean", "char": "char-mean"}[self.normalization]}
        return SymbolicForm(
            expression=op("v", r"\omega_{\mathrm{verb}}")(z),
            description=f"label-word log-likelihood ({name[self.first_token]}), no parameters",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """A gather (and sum) of the scored label words: no FLOPs."""
        return InferenceOverhead(description="label-word gather")

    def extra_repr(self) -> str:
        return (
            f"ω={self.alignment}, words={self.label_words}, first_token={self.first_token}, norm={self.normalization}"
        )


def accuracy(scores: Tensor, targets: Tensor | Sequence[int]) -> float:
    """Fraction of rows whose arg-max class is the target."""
    targets = torch.as_tensor(targets, device=scores.device)
    return float((scores.argmax(-1) == targets).float().mean())


def harness_metrics(
    loglikelihoods: Tensor, targets: Tensor | Sequence[int], choices: Sequence[str]
) -> dict[str, float]:
    """lm-evaluation-harness' multiple-choice metrics from summed continuation log-likelihoods (B, C).

    ``acc``: arg-max of the summed log-likelihood; ``acc_norm``: arg-max of the summed log-likelihood
    divided by each choice's length in characters (``len(choice)``, the choice without its delimiter).
    """
    lengths = torch.tensor([float(len(c)) for c in choices], dtype=loglikelihoods.dtype, device=loglikelihoods.device)
    return {"acc": accuracy(loglikelihoods, targets), "acc_norm": accuracy(loglikelihoods / lengths, targets)}
