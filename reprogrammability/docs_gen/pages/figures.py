"""The taxonomy page's figures, drawn with matplotlib from the catalog's networkx graph (deterministic SVG)."""

from __future__ import annotations

import io
from typing import Any

from ..common import (
    AXES,
    AXIS_SYMBOL,
    PARADIGM_COLOURS,
    RELATION_COLOURS,
    Content,
    Site,
)


def _svg(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"}
    )
    return plt


def lineage_svg(catalog: Any) -> bytes:
    """The methods' lineage from the catalog's networkx graph: x = year, one band per paradigm, arrows = relations."""
    from reprogrammability.catalog.graph import relation_subgraph
    from reprogrammability.framework.axes import Paradigm

    plt = _pyplot()
    graph = catalog.graph()
    relations = relation_subgraph(graph)
    methods = catalog.methods
    bands = [p.value for p in Paradigm]
    columns: dict[tuple[str, int], list[str]] = {}  # (paradigm, year) -> method ids, top to bottom
    for m in sorted(methods.values(), key=lambda e: e.id):
        columns.setdefault((m.paradigm.value, m.year), []).append(m.id)
    base: dict[str, float] = {}
    offset = 0.0
    band_spans = []
    for band in bands:
        height = max((len(ids) for (b, _), ids in columns.items() if b == band), default=1)
        band_spans.append((band, offset, offset + height))
        base[band] = offset
        offset += height + 1.0
    undirected = relations.to_undirected()
    rows: dict[str, float] = {}

    def place() -> None:
        for (band, _), ids in columns.items():
            for i, method_id in enumerate(ids):
                rows[method_id] = base[band] + i + 0.5

    place()
    for _ in range(4):  # barycentre ordering within each column: fewer crossing arrows
        for key, ids in columns.items():

            def centre(method_id: str) -> float:
                near = [rows[n] for n in undirected.neighbors(method_id)]
                return sum(near) / len(near) if near else rows[method_id]

            columns[key] = sorted(ids, key=lambda i: (centre(i), i))
        place()
    positions = {}
    for (_band, year), ids in columns.items():
        for i, method_id in enumerate(ids):
            positions[method_id] = (year + (0.2 if i % 2 else -0.2) * (len(ids) > 1), rows[method_id])
    years = [m.year for m in methods.values()] or [2020]
    fig, ax = plt.subplots(figsize=(2.0 + 1.35 * (max(years) - min(years) + 1), 0.36 * offset + 1.2))
    for band, lo, hi in band_spans:
        ax.axhspan(lo - 0.2, hi + 0.2, color=PARADIGM_COLOURS.get(band, "#999"), alpha=0.06, lw=0)
        ax.text(
            min(years) - 0.95,
            (lo + hi) / 2,
            band.replace("-", "\n"),
            va="center",
            ha="left",
            fontsize=9,
            color=PARADIGM_COLOURS.get(band, "#333"),
            fontweight="bold",
        )
    for u, v in sorted(relations.edges()):
        kinds = sorted({d.get("type") for d in graph.get_edge_data(u, v).values() if d.get("kind") == "relation"})
        colour = RELATION_COLOURS.get(kinds[0] if kinds else "", "#444")
        ax.annotate(
            "",
            xy=positions[v],
            xytext=positions[u],
            arrowprops=dict(
                arrowstyle="-|>",
                color=colour,
                lw=0.9,
                alpha=0.8,
                shrinkA=14,
                shrinkB=14,
                connectionstyle="arc3,rad=0.12",
            ),
        )
    connected = set(relations.nodes()) - {n for n in relations.nodes() if relations.degree(n) == 0}
    for method_id, (x, y) in sorted(positions.items()):
        m = methods[method_id]
        colour = PARADIGM_COLOURS.get(m.paradigm.value, "#333")
        text = ax.text(
            x,
            y,
            m.label,
            ha="center",
            va="center",
            fontsize=8,
            bbox=dict(
                boxstyle="round,pad=0.25",
                fc="white",
                ec=colour,
                lw=1.2 if method_id in connected else 0.6,
                alpha=1.0 if method_id in connected else 0.75,
            ),
        )
        text.set_gid(f"method-{method_id}")
    ax.set_xlim(min(years) - 1.0, max(years) + 0.6)
    ax.set_ylim(offset - 0.6, -0.6)
    ax.set_xticks(range(min(years), max(years) + 1))
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#ddd", lw=0.6)
    from matplotlib.lines import Line2D

    handles = [Line2D([0], [0], color=c, lw=1.5, label=k) for k, c in RELATION_COLOURS.items()]
    ax.legend(
        handles=handles,
        title="arrow: builds on",
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    ax.set_title("Lineage of the catalogued methods (arrows point to the method built on)")
    data = _svg(fig)
    plt.close(fig)
    return data


def coordinates_svg(catalog: Any) -> bytes:
    """Every method's coordinates as a matrix (rows: methods by paradigm; columns: axis values)."""
    from reprogrammability.framework.axes import AXES as ENUMS
    from reprogrammability.framework.axes import Access, Paradigm

    plt = _pyplot()
    graph = catalog.graph()
    columns = [(axis, v.value) for axis in AXES for v in ENUMS[axis]] + [("access", v.value) for v in Access]
    order = {p.value: i for i, p in enumerate(Paradigm)}
    methods = sorted(catalog.methods.values(), key=lambda m: (order[m.paradigm.value], m.year, m.id))
    fig, ax = plt.subplots(figsize=(0.42 * len(columns) + 2.6, 0.2 * len(methods) + 1.6))
    xs, ys, colours = [], [], []
    for row, m in enumerate(methods):
        values = {
            (d["type"], graph.nodes[t]["value"])
            for _, t, d in graph.out_edges(m.id, data=True)
            if d.get("kind") == "value"
        }
        for col, key in enumerate(columns):
            if key in values:
                xs.append(col)
                ys.append(row)
                colours.append(PARADIGM_COLOURS.get(m.paradigm.value, "#333"))
    ax.scatter(xs, ys, s=30, c=colours, zorder=3)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(
        [f"{AXIS_SYMBOL.get(a, '')} {v}".strip() if a != "access" else f"access {v}" for a, v in columns],
        rotation=60,
        ha="right",
    )
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels([m.label for m in methods], fontsize=7)
    for tick, m in zip(ax.get_yticklabels(), methods, strict=True):
        tick.set_color(PARADIGM_COLOURS.get(m.paradigm.value, "#333"))
    boundaries = [i for i in range(1, len(columns)) if columns[i][0] != columns[i - 1][0]]
    for b in boundaries:
        ax.axvline(b - 0.5, color="#999", lw=0.8)
    for row in range(1, len(methods)):
        if methods[row].paradigm != methods[row - 1].paradigm:
            ax.axhline(row - 0.5, color="#999", lw=0.8)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(len(methods) - 0.5, -0.5)
    ax.grid(color="#eee", lw=0.5)
    ax.xaxis.tick_top()
    plt.setp(ax.get_xticklabels(), rotation=60, ha="left")
    data = _svg(fig)
    plt.close(fig)
    return data


def pages(site: Site) -> dict[str, Content]:
    return {"catalog/lineage.svg": lineage_svg(site.catalog), "catalog/coordinates.svg": coordinates_svg(site.catalog)}
