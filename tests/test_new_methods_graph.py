"""Issue 13 §4, graph: GPPT on a tiny GCN pre-trained by masked edge prediction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reprogrammability.framework import Trainer
from reprogrammability.implementations.prompt_tuning import gppt
from reprogrammability.implementations.prompt_tuning.graph_pretext import (
    PretextLinkGNN,
    community_graphs,
    pretrain_link_prediction,
)


def _data(count: int, seed: int):
    return community_graphs(count, 10, 6, generator=torch.Generator().manual_seed(seed))


def _pretrained() -> PretextLinkGNN:
    torch.manual_seed(0)
    gnn = PretextLinkGNN(in_features=6, hidden=8)
    graphs, _ = _data(64, 1)
    losses = pretrain_link_prediction(gnn, graphs, steps=80, lr=0.02)
    assert sum(losses[-10:]) < 0.9 * sum(losses[:10])  # the pretext task is learned
    return gnn.eval()


def test_gppt_scores_the_structure_token_against_the_task_tokens():
    gnn = _pretrained()
    graphs, labels = _data(5, 2)
    rp = gppt.build(gnn, num_classes=2)
    (prompt,) = rp.inputs
    tokens = gnn.tokens(graphs)
    H = gnn.encoder.node_embeddings(graphs)
    rows = torch.arange(5)
    # without the prompt f predicts the query node's links: ⟨h_v, h_u⟩ for every node u
    torch.testing.assert_close(rp.frozen(graphs), torch.einsum("bd,bnd->bn", H[rows, graphs["node"]], H))
    # the structure token is an attention-weighted mean over N(v) ∪ {v}
    with torch.no_grad():
        prompt.attention.normal_()
    around = graphs["adj"][rows, graphs["node"]].clone()
    around[rows, graphs["node"]] = 1
    weights = torch.softmax((H @ prompt.attention).masked_fill(around == 0, float("-inf")), dim=-1)
    s = torch.einsum("bn,bnd->bd", weights, H)
    torch.testing.assert_close(prompt.structure_token(tokens), s)
    torch.testing.assert_close(rp(graphs), s @ prompt.task_tokens.t())


def test_gppt_prompt_tuning_classifies_nodes_with_the_frozen_pretext_head():
    gnn = _pretrained()
    fingerprint_before = [p.detach().clone() for p in gnn.parameters()]
    train, train_labels = _data(48, 3)
    test, test_labels = _data(64, 4)
    rp = gppt.build(gnn, num_classes=2)
    fingerprint = rp.frozen.fingerprint()
    (prompt,) = rp.inputs
    with torch.no_grad():
        before = (rp(test).argmax(-1) == test_labels).float().mean()
    prompt.init_from_classes(gnn.tokens(train), train_labels)  # task tokens start at the class means
    one_per_graph = [{key: value[i] for key, value in train.items()} for i in range(len(train_labels))]
    Trainer(rp, epochs=40, batch_size=48, learning_rate=0.05, progress=False).fit((one_per_graph, train_labels))
    with torch.no_grad():
        accuracy = (rp(test).argmax(-1) == test_labels).float().mean()
        loss = F.cross_entropy(rp(train), train_labels)
    assert accuracy >= 0.75 and accuracy > before + 0.1
    assert loss < 0.6
    assert rp.frozen.fingerprint() == fingerprint
    assert all(torch.equal(a, b) for a, b in zip(fingerprint_before, gnn.parameters()))
