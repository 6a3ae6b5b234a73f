"""Demonstration selection and ordering for in-context learning.

* ``fixed``: given pool indices;
* ``random``: one seeded draw of k examples shared by every query (one prompt per run, as Zhao
  et al. 2021 evaluate);
* ``random-per-query``: a fresh seeded draw per query (Brown et al. 2020);
* ``nearest``: the k pool examples most similar to the query, cosine similarity of sentence
  embeddings (KATE, Liu et al. 2022, arXiv 2101.06804).

Orderings: ``given``; ``random``; ``similar-last`` (KATE's default: the most similar example sits
next to the query); ``similar-first``.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "Pool",
    "SELECTIONS",
    "ORDERINGS",
    "select_demonstrations",
    "order_demonstrations",
    "HashingEmbedder",
    "EncoderEmbedder",
    "cosine_similarity_matrix",
]

SELECTIONS = ("fixed", "random", "random-per-query", "nearest")
ORDERINGS = ("given", "random", "similar-last", "similar-first")


@dataclass
class Pool:
    """Labelled examples demonstrations are drawn from: ``texts[i]`` (str or dict) with class ``labels[i]``."""

    texts: list
    labels: list[int]
    _embeddings: Tensor | None = field(default=None, repr=False)

    def __init__(self, texts: Sequence[Any], labels: Sequence[int]):
        if len(texts) != len(labels):
            raise ValueError(f"pool: {len(texts)} texts but {len(labels)} labels")
        self.texts = list(texts)
        self.labels = [int(y) for y in labels]
        self._embeddings = None
        self._embedder_id = None

    def __len__(self) -> int:
        return len(self.texts)

    def embeddings(self, embedder: Callable[[list[str]], Tensor]) -> Tensor:
        """Pool embeddings, computed once per embedder."""
        if self._embeddings is None or self._embedder_id != id(embedder):
            texts = [t if isinstance(t, str) else " ".join(map(str, t.values())) for t in self.texts]
            self._embeddings = torch.as_tensor(embedder(texts)).float()
            self._embedder_id = id(embedder)
        return self._embeddings


def cosine_similarity_matrix(a: Tensor, b: Tensor) -> Tensor:
    """(N, D) × (M, D) → (N, M) cosine similarities."""
    a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    b = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return a @ b.t()


def _balanced_draw(pool: Pool, k: int, rng: random.Random) -> list[int]:
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(pool.labels):
        by_class.setdefault(y, []).append(i)
    for members in by_class.values():
        rng.shuffle(members)
    classes, chosen, round_ = sorted(by_class), [], 0
    while len(chosen) < k:
        added = False
        for c in classes:
            if round_ < len(by_class[c]) and len(chosen) < k:
                chosen.append(by_class[c][round_])
                added = True
        if not added:
            break
        round_ += 1
    rng.shuffle(chosen)
    return chosen


def select_demonstrations(
    pool: Pool,
    queries: list[str],
    k: int,
    selection: str,
    indices: Sequence[int] | None = None,
    embedder: Callable | None = None,
    seed: int = 0,
    balanced: bool = False,
) -> list[list[int]]:
    """Pool indices of the k demonstrations of each query (order not yet decided)."""
    if k > len(pool):
        raise ValueError(f"k: {k} demonstrations requested but the pool has {len(pool)} examples")
    if selection == "fixed":
        if indices is None or len(indices) != k:
            raise ValueError(f"indices: selection='fixed' needs exactly k={k} pool indices, got {indices}")
        bad = [i for i in indices if not 0 <= i < len(pool)]
        if bad:
            raise ValueError(f"indices: {bad} are outside the pool (size {len(pool)})")
        return [list(indices) for _ in queries]
    if selection == "random":
        rng = random.Random(seed)
        draw = _balanced_draw(pool, k, rng) if balanced else rng.sample(range(len(pool)), k)
        return [list(draw) for _ in queries]
    if selection == "random-per-query":
        out = []
        for q in queries:
            digest = int(hashlib.sha256(f"{seed}|{q}".encode()).hexdigest()[:12], 16)
            rng = random.Random(digest)
            out.append(_balanced_draw(pool, k, rng) if balanced else rng.sample(range(len(pool)), k))
        return out
    if selection == "nearest":
        similarity = cosine_similarity_matrix(torch.as_tensor(embedder(queries)).float(), pool.embeddings(embedder))
        top = similarity.topk(k, dim=1).indices  # most similar first
        return [row.tolist() for row in top]
    raise ValueError(f"selection: {selection!r} is not one of {list(SELECTIONS)}")


def order_demonstrations(
    pool: Pool, queries: list[str], chosen: list[list[int]], ordering: str, embedder: Callable | None, seed: int
) -> list[list[int]]:
    """Put each query's demonstrations in prompt order."""
    if ordering == "given":
        return chosen
    if ordering == "random":
        out = []
        for order in chosen:
            order = list(order)
            random.Random(seed + 7919).shuffle(order)
            out.append(order)
        return out
    if ordering in ("similar-last", "similar-first"):
        sims = cosine_similarity_matrix(torch.as_tensor(embedder(queries)).float(), pool.embeddings(embedder))
        out = []
        for row, order in enumerate(chosen):
            ranked = sorted(order, key=lambda i: float(sims[row, i]), reverse=True)  # most similar first
            out.append(ranked[::-1] if ordering == "similar-last" else ranked)
        return out
    raise ValueError(f"ordering: {ordering!r} is not one of {list(ORDERINGS)}")


class HashingEmbedder:
    """A model-free sentence embedding: hashed bag of lower-cased words (and word bigrams), L2-normalised.

    Deterministic and fast; the tests and examples use it where a sentence encoder would be overkill.
    """

    def __init__(self, dim: int = 512, bigrams: bool = True):
        self.dim, self.bigrams = int(dim), bool(bigrams)

    def _index(self, token: str) -> int:
        return int(hashlib.md5(token.encode()).hexdigest()[:8], 16) % self.dim

    def __call__(self, texts: list[str]) -> Tensor:
        out = torch.zeros(len(texts), self.dim)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            tokens = words + ([f"{a} {b}" for a, b in zip(words, words[1:])] if self.bigrams else [])
            for token in tokens:
                out[row, self._index(token)] += 1.0
        return out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)


class EncoderEmbedder:
    """Mean-pooled last hidden states of a frozen transformers encoder (e.g. all-MiniLM-L6-v2), L2-normalised."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 64, max_length: int = 128):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.batch_size, self.max_length = batch_size, max_length

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> Tensor:
        device = next(self.model.parameters()).device
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(
                texts[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(device)
            hidden = self.model(**enc).last_hidden_state
            weights = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu())
        return torch.cat(chunks) if chunks else torch.zeros(0, 1)
