"""The catalog as a networkx graph, and lineage queries on it.

Nodes (attribute ``kind``):

* ``method``: id = the method id; ``paper``: id = the paper id;
* ``axis``: one node per axis value, id ``"<axis>:<value>"`` (``"location:embedding"``), for the four
  coordinates and for ``paradigm``, ``modality``, ``access`` and ``f_weights``.

Edges (attribute ``kind``, and ``type`` for relations):

* ``relation``: method -> method it builds on (``type`` = extends, specialises, generalises, combines,
  variant-of), declared on the later method;
* ``about``: paper -> method it applies, analyses or extends (``type`` = the paper's kind);
* ``value``: method or paper -> axis value node (``type`` = the axis).

All attribute values are strings or ints, so the graph writes to GraphML as is.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Sequence

import networkx as nx

from .models import AXIS_FIELDS

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = [
    "build_graph",
    "axis_node",
    "builds_on",
    "built_upon_by",
    "lineage_path",
    "sharing_coordinates",
    "relation_subgraph",
]

_DESCRIPTIVE = ("paradigm", "modality", "access", "f_weights")


def axis_node(axis: str, value: object) -> str:
    """Node id of an axis value: ``axis_node("location", "embedding") == "location:embedding"``."""
    return f"{axis}:{getattr(value, 'value', value)}"


def _add_values(graph: nx.MultiDiGraph, node: str, values: dict[str, Sequence[Any]]) -> None:
    for axis, axis_values in values.items():
        for value in axis_values:
            target = axis_node(axis, value)
            if target not in graph:
                graph.add_node(target, kind="axis", axis=axis, value=str(getattr(value, "value", value)), label=target)
            graph.add_edge(node, target, kind="value", type=axis)


def build_graph(catalog: "CatalogData") -> nx.MultiDiGraph:
    """Methods, papers and axis values with relation, about and value edges (see the module docstring)."""
    graph = nx.MultiDiGraph(name="reprogrammability catalog")
    for method in catalog.methods.values():
        graph.add_node(
            method.id,
            kind="method",
            label=method.label,
            name=method.name,
            year=method.year,
            paradigm=method.paradigm.value,
            coordinates=str(method.coordinates),
            implementation=method.implementation,
        )
    for paper in catalog.papers.values():
        graph.add_node(
            paper.id,
            kind="paper",
            label=paper.title,
            name=paper.title,
            year=paper.year,
            paradigm="+".join(p.value for p in paper.paradigm),
            coordinates=str(paper.coordinates),
            paper_kind=paper.kind.value,
        )
    for method in catalog.methods.values():
        for relation in method.relations:
            graph.add_edge(
                method.id,
                relation.target,
                key=f"relation:{relation.type.value}",
                kind="relation",
                type=relation.type.value,
            )
        values = {axis: getattr(method.coordinates, axis) for axis in AXIS_FIELDS}
        values.update(
            paradigm=(method.paradigm,),
            modality=_modalities(method),
            access=(method.access,),
            f_weights=(method.f_weights,),
        )
        _add_values(graph, method.id, values)
    for paper in catalog.papers.values():
        for method_id in paper.methods:
            graph.add_edge(paper.id, method_id, kind="about", type=paper.kind.value)
        values = {axis: getattr(paper.coordinates, axis) for axis in AXIS_FIELDS}
        values.update(
            paradigm=paper.paradigm,
            modality=_modalities(paper),
            access=(paper.resolved_access,),
            f_weights=(paper.f_weights,),
        )
        _add_values(graph, paper.id, values)
    return graph


def _modalities(entry: Any) -> tuple[Any, ...]:
    task = entry.task_modality
    return (entry.modality,) + ((task,) if task and task != entry.modality else ())


def relation_subgraph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Methods and the relations between them only (a simple directed graph)."""
    sub = nx.DiGraph()
    sub.add_nodes_from(n for n, kind in graph.nodes(data="kind") if kind == "method")
    for u, v, kind in graph.edges(data="kind"):
        if kind == "relation":
            sub.add_edge(u, v)
    return sub


def _bfs(graph: nx.DiGraph, start: str) -> list[str]:
    seen = {start}
    order: list[str] = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.successors(node)):
            if nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
                queue.append(nxt)
    return order


def builds_on(graph: nx.MultiDiGraph, method_id: str) -> list[str]:
    """Methods ``method_id`` builds on, directly or transitively, nearest first."""
    return _bfs(relation_subgraph(graph), method_id)


def built_upon_by(graph: nx.MultiDiGraph, method_id: str) -> list[str]:
    """Methods that build on ``method_id``, directly or transitively, nearest first."""
    return _bfs(relation_subgraph(graph).reverse(copy=False), method_id)


def lineage_path(graph: nx.MultiDiGraph, source: str, target: str) -> list[str]:
    """Shortest chain of relations between two methods, ignoring direction; ``[]`` when unconnected."""
    undirected = relation_subgraph(graph).to_undirected(as_view=True)
    try:
        return list(nx.shortest_path(undirected, source, target))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return []


def sharing_coordinates(graph: nx.MultiDiGraph, method_id: str, axes: Sequence[str] = AXIS_FIELDS) -> list[str]:
    """Other methods whose values equal ``method_id``'s on every axis in ``axes`` (read from value edges)."""
    unknown = [a for a in axes if a not in (*AXIS_FIELDS, *_DESCRIPTIVE)]
    if unknown:
        raise ValueError(f"axes: {unknown} are not among {[*AXIS_FIELDS, *_DESCRIPTIVE]}")

    def values(node: str) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {axis: set() for axis in axes}
        for _, target, data in graph.out_edges(node, data=True):
            if data.get("kind") == "value" and data.get("type") in found:
                found[data["type"]].add(target)
        return {axis: frozenset(v) for axis, v in found.items()}

    mine = values(method_id)
    return sorted(
        other
        for other, kind in graph.nodes(data="kind")
        if kind == "method" and other != method_id and values(other) == mine
    )
