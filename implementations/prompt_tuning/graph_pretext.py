"""A GNN pre-trained by masked edge prediction, and GPPT's token-pair prompt (Sun, Zhou, He, Wang, Wang,
KDD 2022) that turns node classification into that pretext task.

The frozen model f = (GCN encoder, link head) scores a query node v against candidate nodes:
the encoder gives node states H (B, N, d); the link head receives the token tensor
``T = [t_0; t_1 … t_M]`` (B, 1 + M, d + 1) — the query token, then the candidates — and returns
the link logits ⟨t_0, t_j⟩ (B, M). The last channel of each token flags the query's neighbourhood
N(v) ∪ {v} (for the prompt; the head ignores it). Without a prompt, t_0 = h_v and the candidates are
all nodes: f predicts v's links.

GPPT's graph prompt rewrites the tokens at the link head's input (location hidden)::

    s_v = Σ_{u ∈ N(v) ∪ {v}} softmax_u(a · h_u) h_u        the structure token
    T' = [s_v; e_1 … e_C],   ŷ_c = ⟨s_v, e_c⟩               task tokens e_c, one per class

so the pretext head scores "does node v link to class c"; a and e are learned, f is not.
"""

from __future__ import annotations

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import L_QUERY, ROWS, InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, op, symbols

from .graph import TinyGCN, check_graph

__all__ = ["LinkHead", "PretextLinkGNN", "TokenPairPrompt", "pretrain_link_prediction", "community_graphs"]

_pair = op("pair", r"\mathrm{pair}")


class LinkHead(nn.Module):
    """⟨t_0, t_j⟩ for j = 1..M over the first d channels of the tokens (B, 1 + M, d + 1); no parameters."""

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.dim() != 3 or tokens.shape[1] < 2:
            raise ShapeError(f"tokens: expected (B, 1 + M, d + 1), got {tuple(tokens.shape)}")
        features = tokens[..., :-1]
        return torch.einsum("bd,bmd->bm", features[:, 0], features[:, 1:])


class PretextLinkGNN(nn.Module):
    """f: a GCN encoder and the link head of its pretext task. Input: a graph batch with ``node`` (B,) indices."""

    def __init__(self, in_features: int, hidden: int = 16, layers: int = 2):
        super().__init__()
        self.encoder = TinyGCN(in_features, hidden, layers)
        self.head = LinkHead()

    def tokens(self, graph: dict[str, Tensor]) -> Tensor:
        """T = [h_v; H] with the neighbourhood flag (B, 1 + N, d + 1)."""
        _, adj, mask = check_graph(graph)
        node = graph.get("node")
        if node is None:
            raise ShapeError("graph: expected 'node' (B,), the query node of each graph")
        H = self.encoder.node_embeddings(graph)
        rows = torch.arange(H.shape[0], device=H.device)
        around = adj[rows, node].to(H.dtype) * mask
        around[rows, node] = 1.0
        query = torch.cat([H[rows, node], torch.ones_like(H[:, 0, :1])], dim=-1).unsqueeze(1)
        return torch.cat([query, torch.cat([H, around.unsqueeze(-1)], dim=-1)], dim=1)

    def forward(self, graph: dict[str, Tensor]) -> Tensor:
        return self.head(self.tokens(graph))


def community_graphs(
    count: int, nodes: int, features: int, *, classes: int = 2, generator: torch.Generator | None = None
):
    """Graphs whose nodes form ``classes`` communities (dense inside, sparse across); node features are noisy
    community indicators around class centres that depend only on (classes, features), so sets drawn with
    different generators share their classes. Returns the batch (one query node per graph, in ``node``) and
    the query's community."""
    community = torch.randint(0, classes, (count, nodes), generator=generator)
    same = community.unsqueeze(2) == community.unsqueeze(1)
    p = torch.where(same, torch.tensor(0.6), torch.tensor(0.05))
    upper = (torch.rand(count, nodes, nodes, generator=generator) < p).float().triu(1)
    adj = upper + upper.transpose(1, 2)
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(1000 * classes + features))
    x = centres[community] * 0.5 + torch.randn(count, nodes, features, generator=generator)
    node = torch.randint(0, nodes, (count,), generator=generator)
    labels = community[torch.arange(count), node]
    return {"x": x, "adj": adj, "mask": torch.ones(count, nodes), "node": node}, labels


def pretrain_link_prediction(
    model: PretextLinkGNN,
    graph: dict[str, Tensor],
    *,
    steps: int = 100,
    lr: float = 0.01,
    mask_rate: float = 0.2,
    seed: int = 0,
) -> list[float]:
    """GPPT's pretext: masked edge prediction. A fraction of edges is hidden from the encoder; their logits
    ⟨h_u, h_v⟩ are pushed up and those of random non-edges down (binary cross-entropy). Returns the losses."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=lr)
    adj = graph["adj"]
    upper = adj.triu(1)
    losses = []
    for _ in range(steps):
        hidden = (torch.rand(upper.shape, generator=generator) < mask_rate).float() * upper
        visible = upper - hidden
        H = model.encoder.node_embeddings({**graph, "adj": visible + visible.transpose(1, 2)})
        logits = H @ H.transpose(1, 2)
        negatives = (torch.rand(upper.shape, generator=generator) < hidden.mean()).float() * (1 - upper).triu(1)
        positive, negative = logits[hidden.bool()], logits[negatives.bool()]
        loss = F.binary_cross_entropy_with_logits(
            torch.cat([positive, negative]), torch.cat([torch.ones_like(positive), torch.zeros_like(negative)])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.zero_grad(set_to_none=True)  # ready to be frozen
    return losses


class TokenPairPrompt(HiddenManipulation):
    """GPPT's prompt at the link head's input: ``[s_v; e_1 … e_C]`` (see the module docstring).

    Trainable parameters: C·d (task tokens) + d (structure attention a).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC

    def __init__(self, num_classes: int, dim: int, *, layer: int = 0, generator: torch.Generator | None = None):
        super().__init__()
        if num_classes < 2 or dim < 1:
            raise ValueError(f"num_classes/dim: expected ≥ 2 classes and d ≥ 1, got {num_classes}, {dim}")
        self.layers = (layer,)
        self.task_tokens = nn.Parameter(torch.randn(num_classes, dim, generator=generator) * 0.1)
        self.attention = nn.Parameter(torch.zeros(dim))

    def structure_token(self, tokens: Tensor) -> Tensor:
        """s_v (B, d): attention-weighted mean of the flagged neighbourhood's node states."""
        candidates, flags = tokens[:, 1:, :-1], tokens[:, 1:, -1]
        scores = (candidates @ self.attention.to(tokens.dtype)).masked_fill(flags <= 0, float("-inf"))
        return torch.einsum("bn,bnd->bd", torch.softmax(scores, dim=-1), candidates)

    def edit_hidden(self, layer: int, tokens: Tensor) -> Tensor:
        if tokens.dim() != 3 or tokens.shape[-1] != self.task_tokens.shape[1] + 1:
            raise ShapeError(f"tokens: expected (B, 1 + M, {self.task_tokens.shape[1] + 1}), got {tuple(tokens.shape)}")
        B = tokens.shape[0]
        s = self.structure_token(tokens)
        e = self.task_tokens.to(tokens.dtype).unsqueeze(0).expand(B, -1, -1)
        query = torch.cat([s, torch.ones_like(s[:, :1])], dim=-1).unsqueeze(1)
        classes = torch.cat([e, torch.zeros_like(e[..., :1])], dim=-1)
        return torch.cat([query, classes], dim=1)

    @torch.no_grad()
    def init_from_classes(self, tokens: Tensor, labels: Tensor) -> None:
        """e_c := the mean structure token of the labelled nodes of class c (the paper's initialisation)."""
        s = self.structure_token(tokens)
        for c in range(self.task_tokens.shape[0]):
            if (labels == c).any():
                self.task_tokens[c] = s[labels == c].mean(0)

    def symbolic(self) -> SymbolicForm:
        C, d = symbols("C d")
        expression = _pair(sp.Symbol("s_v"), sp.Symbol("e_{1..C}"))
        return SymbolicForm(
            expression,
            C * d + d,
            {C: self.task_tokens.shape[0], d: self.task_tokens.shape[1]},
            description="structure token and task tokens at the pretext head",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The head reads ``1 + C`` tokens instead of the ``L = 1 + M`` of bare f (the query and its M candidate
        nodes): ``C + 1 − L`` positions and ``2·C·d − 2·M·d`` FLOPs there; the structure token's softmax-weighted
        mean over the M candidates adds ``2·M·d`` back (its scores, a matrix-vector product a, are M·d element-wise
        multiply-adds, which the counter does not count). Net: ``2·C·d`` FLOPs."""
        c, d = symbols("C d")
        candidates = L_QUERY / ROWS - 1
        return InferenceOverhead(
            tokens=ROWS * (c + 1) - L_QUERY,
            flops=2 * c * d,
            elementwise=2 * candidates * d,
            shapes={**context.shapes, c: self.task_tokens.shape[0], d: self.task_tokens.shape[1]},
            description="task tokens replace the candidate nodes at the link head",
        )
