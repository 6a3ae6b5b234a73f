"""Prompts composed from learned components by attention on the input (CODA-Prompt; Smith et al., CVPR 2023,
arXiv 2211.13218), for rehearsal-free continual learning.

    q(x) = f_cls(x)                                     the frozen ViT's class token of the plain image
    α_m(x) = cos(q(x) ⊙ A_m, K_m)                       one weight per component m
    p(x) = Σ_m α_m(x) P_m ∈ R^{L_p × D}                 the prompt, inserted after the class token

The components P_m, keys K_m and attention vectors A_m are learned end to end. They come in groups,
one per task: while task t is learned, the groups of earlier tasks are frozen and the groups of later
tasks are not used yet; a new group starts orthogonal to the earlier ones (Gram–Schmidt), and
:meth:`ComposedPrompt.orthogonality_penalty` is the paper's regulariser ‖B Bᵀ − I‖² on the current group.
The paper inserts p(x) as prefix keys/values in layers 1–5; here it is inserted as prompt tokens at the
embedding interface (the framework's key/value prefixes cannot depend on x), as in VPT-shallow.
"""

from __future__ import annotations

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import VisionTransformerAdapter
from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import L_QUERY, ROWS, InferenceOverhead, OverheadContext, sequence_flops
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols

__all__ = ["ComposedPrompt", "QueryingVisionAdapter", "querying_frozen", "QUERY"]

QUERY = "query"


class QueryingVisionAdapter(VisionTransformerAdapter):
    """A ViT adapter whose embedding state also carries q(x): the frozen model's readout of the plain image."""

    name = "transformers-vit-querying"

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        """Bare f: the plain image once (the query q(x) is read only when a prompt is composed from it)."""
        return self.forward_embedded(model, VisionTransformerAdapter.embed(self, model, x))

    def embed(self, model: nn.Module, x: Tensor) -> EmbeddingState:
        state = super().embed(model, x)
        with torch.no_grad():
            query = self.forward_embedded(model, state)
        state.extra[QUERY] = query.detach()
        return state


def querying_frozen(frozen: FrozenModel) -> FrozenModel:
    if isinstance(frozen.adapter, QueryingVisionAdapter):
        return frozen
    return FrozenModel(frozen.model, adapter=QueryingVisionAdapter(readout=frozen.adapter.readout_mode))


def _orthogonal_to(previous: Tensor, count: int, width: int, generator: torch.Generator) -> Tensor:
    """``count`` random unit vectors of size ``width``, orthogonal to the rows of ``previous`` and each other."""
    basis = list(torch.linalg.qr(previous.t().double())[0].t().float()) if previous.numel() else []  # span of the rows
    found = []
    while len(found) < count:
        v = torch.randn(width, generator=generator)
        for b in basis:
            v = v - (v @ b) * b
        if v.norm() > 1e-6:
            basis.append(v / v.norm())
            found.append(v / v.norm())
    return torch.stack(found)


class ComposedPrompt(InputManipulation):
    """``[x_cls; Σ_m α_m(x) P_m; x_patches]`` with α_m = cos(q(x) ⊙ A_m, K_m); q(x) from the state's ``extra["query"]``.

    Args:
        dim: D; length: L_p; num_tasks: T; components_per_task: M/T.
    Trainable parameters (task t): the current group's (M/T)·(L_p·D + 2D).
    """

    configuration = Configuration.LEARNABLE
    operator = (Operator.CONCATENATIVE, Operator.PARAMETRIC)  # inserted, and composed from the input
    location = Location.EMBEDDING

    def __init__(self, dim: int, length: int = 8, *, num_tasks: int = 1, components_per_task: int = 10, seed: int = 0):
        super().__init__()
        if min(dim, length, num_tasks, components_per_task) < 1:
            raise ValueError("dim/length/num_tasks/components_per_task: expected positive sizes")
        if num_tasks * components_per_task > dim:
            raise ValueError(
                f"num_tasks·components_per_task: {num_tasks * components_per_task} orthogonal keys need D ≥ that, D={dim}"
            )
        self.dim, self.length, self.per_task = dim, length, components_per_task
        self.generator = torch.Generator().manual_seed(seed)
        self.components = nn.ParameterList(
            nn.Parameter(torch.zeros(components_per_task, length, dim)) for _ in range(num_tasks)
        )
        self.keys = nn.ParameterList(nn.Parameter(torch.zeros(components_per_task, dim)) for _ in range(num_tasks))
        self.attention = nn.ParameterList(nn.Parameter(torch.zeros(components_per_task, dim)) for _ in range(num_tasks))
        self.task = -1
        self.start_task(0)

    @property
    def num_tasks(self) -> int:
        return len(self.components)

    @torch.no_grad()
    def start_task(self, task: int) -> None:
        """Freeze the groups of earlier tasks and start group ``task``, orthogonal to them."""
        if not 0 <= task < self.num_tasks or task <= self.task:
            raise ValueError(f"task: expected a new task in {self.task + 1}..{self.num_tasks - 1}, got {task}")
        for group in (self.components, self.keys, self.attention):
            previous = (
                torch.cat([group[t].reshape(self.per_task, -1) for t in range(task)]) if task else torch.zeros(0, 1)
            )
            width = group[task][0].numel()
            if not task:
                previous = torch.zeros(0, width)
            group[task].copy_(_orthogonal_to(previous, self.per_task, width, self.generator).view_as(group[task]))
            for t in range(self.num_tasks):
                group[t].requires_grad_(t == task)
        self.task = task

    def weights(self, query: Tensor) -> Tensor:
        """α (B, M) over the components in use (tasks ≤ the current one)."""
        used = slice(0, self.task + 1)
        A = torch.cat(list(self.attention[used]))
        K = torch.cat(list(self.keys[used]))
        return F.cosine_similarity(query.unsqueeze(1) * A.unsqueeze(0), K.unsqueeze(0), dim=-1)

    def prompts(self, query: Tensor) -> Tensor:
        """p(x) (B, L_p, D)."""
        P = torch.cat(list(self.components[: self.task + 1]))
        return torch.einsum("bm,mld->bld", self.weights(query.to(P.dtype)), P)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        query = state.extra.get(QUERY)
        if query is None:
            raise InterfaceError("ComposedPrompt: the state carries no query q(x); use QueryingVisionAdapter")
        if query.shape != (state.batch_size, self.dim) or state.embeds.shape[-1] != self.dim:
            raise ShapeError(f"query: expected ({state.batch_size}, {self.dim}), got {tuple(query.shape)}")
        return state.insert(self.prompts(query).to(state.embeds.dtype), 1)

    def orthogonality_penalty(self) -> Tensor:
        """Σ over P, K, A of ‖B Bᵀ − I‖² for the current task's group (B: its rows, flattened)."""
        total = torch.zeros(())
        for group in (self.components, self.keys, self.attention):
            B = group[self.task].reshape(self.per_task, -1)
            total = total + ((B @ B.t()) - torch.eye(self.per_task)).pow(2).sum()
        return total

    def symbolic(self) -> SymbolicForm:
        m, L, D = symbols("M_t L_p D")
        composed = sp.Symbol(r"\sum_m \alpha_m(x) P_m")
        return SymbolicForm(
            concat(sp.Symbol("x_cls"), composed, sp.Symbol("x_patches")),
            m * (L * D + 2 * D),
            {m: self.per_task, L: self.length, D: self.dim},
            description="prompt composed from components by input-conditioned attention",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The query q(x) runs f's layers once more on the plain image's L positions (``R·sequence_flops(L/R)`` = ``2·W_f·L + 4·n_f·d_a·L²/R``; its
        patch embedding is shared with the prompted run); the composed prompt adds L_p positions through every layer,
        and composing it, ``Σ_m α_m P_m``, is a (M, L_p·D) matmul per image: ``2·M·L_p·D`` FLOPs (the M cosine
        weights are element-wise)."""
        m, length, dim = symbols("M L_p D")
        shapes = {m: sum(int(c.shape[0]) for c in self.components[: self.task + 1]), length: self.length, dim: self.dim}
        query = InferenceOverhead(
            tokens=L_QUERY,
            flops=ROWS * sequence_flops(L_QUERY / ROWS) + 2 * m * length * dim,
            elementwise=3 * m * dim,
            shapes={**context.shapes, **shapes},
            description="q(x): f on the plain image; composing the prompt",
        )
        return query + context.extra_positions(length, shapes, f"{self.length} composed prompt positions")
