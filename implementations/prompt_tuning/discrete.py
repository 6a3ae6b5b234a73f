"""AutoPrompt (Shin et al., EMNLP 2020, arXiv 2010.15980): discrete trigger tokens found by gradient-guided search.

The prompt is a template ``x [T]_1 … [T]_k [P]``: k trigger tokens are inserted into the token ids
(location input) and the model's score at the prediction slot [P] ([MASK] for masked LMs, the last
token for causal LMs) is verbalised. The triggers are learned by search, not by gradient descent:

1. with the embeddings e_j of the current triggers, take the gradient ∇_{e_j} L of the loss on a batch;
2. the candidates for slot j are the top-k tokens w of ``−e_w · ∇_{e_j} L`` (a first-order estimate of
   the loss decrease from swapping slot j to w);
3. evaluate the loss with each candidate in slot j and keep the best if it beats the current triggers.

The trigger ids are stored as an ``nn.Parameter`` of k entries (float32 holding integers) so the
framework counts k learned (discrete) parameters; gradients never flow into it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Literal, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x

__all__ = ["TriggerTokens", "AutoPromptSearch", "TRIGGER_POSITIONS"]

TRIGGER_POSITIONS = ("end", "before_mask", "start")


class TriggerTokens(InputManipulation):
    """Insert k trigger token ids into each sequence: after its last real token (``end``), just before its
    ``[MASK]`` (``before_mask``) or after its first token (``start``, i.e. after [CLS]/[BOS] when present).

    Inputs: a dict with ``input_ids`` (B, T) and ``attention_mask``, a (B, T) id tensor, or strings
    (tokenised with ``tokenizer``). Output: the same dict with the triggers in, right-padded with
    ``pad_id``. Trainable (discrete) parameters: k.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def __init__(
        self,
        trigger_ids: Sequence[int],
        *,
        position: Literal["end", "before_mask", "start"] = "end",
        pad_id: int = 0,
        mask_id: int | None = None,
        tokenizer: Any = None,
    ):
        super().__init__()
        ids = [int(i) for i in trigger_ids]
        if not ids or any(i < 0 for i in ids):
            raise ValueError(f"trigger_ids: expected at least one non-negative token id, got {list(trigger_ids)}")
        if position not in TRIGGER_POSITIONS:
            raise ValueError(f"position: {position!r} is not one of {list(TRIGGER_POSITIONS)}")
        if position == "before_mask" and mask_id is None:
            raise ValueError("mask_id: required for position='before_mask'")
        self.triggers = nn.Parameter(torch.tensor(ids, dtype=torch.float32))
        self.position, self.pad_id, self.mask_id = position, int(pad_id), mask_id
        self.tokenizer = tokenizer

    @property
    def num_triggers(self) -> int:
        return self.triggers.numel()

    def trigger_ids(self) -> Tensor:
        """(k,) long."""
        return self.triggers.detach().round().long()

    @torch.no_grad()
    def set_trigger(self, slot: int, token_id: int) -> None:
        self.triggers[slot] = float(token_id)

    def _as_ids(self, x: Any) -> dict[str, Tensor]:
        if isinstance(x, str) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], str)):
            if self.tokenizer is None:
                raise InterfaceError("tokenizer: string inputs to TriggerTokens need a tokenizer")
            encoded = self.tokenizer([x] if isinstance(x, str) else list(x), padding=True, return_tensors="pt")
            return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
        if isinstance(x, Tensor):
            return {"input_ids": x, "attention_mask": torch.ones_like(x)}
        if isinstance(x, dict) and "input_ids" in x:
            ids = x["input_ids"]
            return {"input_ids": ids, "attention_mask": x.get("attention_mask", torch.ones_like(ids))}
        raise InterfaceError(f"x: expected strings, token ids or a dict with 'input_ids', got {type(x).__name__}")

    def insert(self, x: Any) -> tuple[dict[str, Tensor], Tensor]:
        """The inputs with the triggers in, and where they went: (B, k) positions."""
        batch = self._as_ids(x)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if ids.dim() != 2:
            raise ShapeError(f"input_ids: expected shape (B, T), got {tuple(ids.shape)}")
        triggers = self.trigger_ids().to(ids.device)
        k = triggers.numel()
        rows, places = [], []
        for b in range(ids.shape[0]):
            real = ids[b][mask[b].bool()]
            if self.position == "end":
                at = real.numel()
            elif self.position == "start":
                at = min(1, real.numel())
            else:
                hits = (real == self.mask_id).nonzero()
                if hits.numel() != 1:
                    raise InterfaceError(
                        f"x: example {b} needs exactly one mask token (id {self.mask_id}), has {hits.numel()}"
                    )
                at = int(hits[0])
            rows.append(torch.cat([real[:at], triggers, real[at:]]))
            places.append(torch.arange(at, at + k))
        width = max(r.numel() for r in rows)
        out_ids = ids.new_full((len(rows), width), self.pad_id)
        out_mask = mask.new_zeros((len(rows), width))
        for b, row in enumerate(rows):
            out_ids[b, : row.numel()] = row
            out_mask[b, : row.numel()] = 1
        return {"input_ids": out_ids, "attention_mask": out_mask}, torch.stack(places).to(ids.device)

    def forward(self, x: Any) -> dict[str, Tensor]:
        return self.insert(x)[0]

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p trigger tokens: L_p more positions through every layer."""
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: self.num_triggers}, "trigger tokens")

    def symbolic(self) -> SymbolicForm:
        (k,) = symbols("k")
        where = {
            "end": (x, sp.Symbol("T_{1..k}")),
            "start": (sp.Symbol("T_{1..k}"), x),
            "before_mask": (x, sp.Symbol("T_{1..k}"), sp.Symbol("MASK")),
        }
        return SymbolicForm(
            concat(*where[self.position]),
            k,
            {k: self.num_triggers},
            description="k discrete trigger tokens (searched, not back-propagated)",
        )


@contextlib.contextmanager
def _embedding_gradients(module: nn.Module, kept: list[Tensor]) -> Iterator[None]:
    """Make the frozen embedding output a leaf that records its gradient (the weights stay frozen)."""

    def hook(mod, args, output):
        leaf = output.detach().requires_grad_(True)
        kept.append(leaf)
        return leaf

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class AutoPromptSearch:
    """Gradient-guided search over the triggers of a reprogrammer's :class:`TriggerTokens` part.

    Also the reprogrammer's update rule for the trainer: ``estimate(reprogrammer, inputs, targets,
    loss_fn)`` does one search step and returns the loss (``Trainer(rp, gradient_estimator=search)``;
    the AutoPrompt build attaches one as ``reprogrammer.gradient_estimator``).

    Args:
        num_candidates: top-k candidate tokens per step.
        allowed: optional (V,) bool mask of tokens a trigger may take (e.g. no special tokens).
        loss_fn: ``loss(ŷ, y)`` for :meth:`step` and :meth:`search`; cross-entropy by default.
    """

    def __init__(
        self,
        num_candidates: int = 10,
        allowed: Tensor | None = None,
        seed: int = 0,
        loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
    ):
        if num_candidates <= 0:
            raise ValueError(f"num_candidates: expected a positive number, got {num_candidates}")
        self.num_candidates = num_candidates
        self.allowed = allowed
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.loss_fn = loss_fn or F.cross_entropy
        self.queries = 0

    @staticmethod
    def triggers_of(reprogrammer: Any) -> TriggerTokens:
        triggers = [m for m in reprogrammer.inputs if isinstance(m, TriggerTokens)]
        if len(triggers) != 1:
            raise ValueError("reprogrammer: expected exactly one TriggerTokens part")
        return triggers[0]

    def _loss(self, reprogrammer: Any, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        self.queries += 1
        return loss_fn(reprogrammer(inputs).float(), targets)

    def step(
        self, reprogrammer: Any, inputs: Any, targets: Tensor, slot: int | None = None, loss_fn: Callable | None = None
    ) -> dict[str, float]:
        """One search step on a batch: the loss before and after, and whether the trigger in ``slot`` changed."""
        loss_fn = loss_fn or self.loss_fn
        part = self.triggers_of(reprogrammer)
        frozen = reprogrammer.frozen
        embedding = frozen.adapter.embedding_module(frozen.model)
        k = part.num_triggers
        slot = int(torch.randint(0, k, (1,), generator=self.generator)) if slot is None else slot
        if not 0 <= slot < k:
            raise ValueError(f"slot: expected 0..{k - 1}, got {slot}")
        _, places = part.insert(inputs)
        kept: list[Tensor] = []
        with _embedding_gradients(embedding, kept):
            loss = self._loss(reprogrammer, inputs, targets, loss_fn)
        (grad,) = torch.autograd.grad(loss, kept[-1])
        rows = torch.arange(grad.shape[0], device=grad.device)
        slot_grad = grad[rows, places[:, slot].to(grad.device)].mean(0)  # (D,)
        scores = -(embedding.weight.detach() @ slot_grad)  # (V,)
        if self.allowed is not None:
            scores = scores.masked_fill(~self.allowed.to(scores.device), float("-inf"))
        current = int(part.trigger_ids()[slot])
        scores[current] = float("-inf")
        candidates = scores.topk(min(self.num_candidates, scores.numel() - 1)).indices.tolist()
        best, best_loss = current, float(loss.detach())
        with torch.no_grad():
            for token in candidates:
                part.set_trigger(slot, token)
                value = float(self._loss(reprogrammer, inputs, targets, loss_fn))
                if value < best_loss:
                    best, best_loss = token, value
        part.set_trigger(slot, best)
        return {
            "loss_before": float(loss.detach()),
            "loss_after": best_loss,
            "changed": float(best != current),
            "slot": slot,
        }

    def estimate(self, reprogrammer: Any, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        """The trainer's update hook: one search step (the trigger ids are set directly, no gradient)."""
        return torch.tensor(self.step(reprogrammer, inputs, targets, loss_fn=loss_fn)["loss_after"])

    def search(self, reprogrammer: Any, batches: Sequence[tuple[Any, Tensor]], steps: int) -> list[dict[str, float]]:
        """``steps`` search steps cycling over ``batches`` of (inputs, targets)."""
        if steps < 0 or not batches:
            raise ValueError("steps/batches: expected steps ≥ 0 and at least one batch")
        return [self.step(reprogrammer, *batches[step % len(batches)]) for step in range(steps)]
