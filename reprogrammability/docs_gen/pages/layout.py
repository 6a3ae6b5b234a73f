"""The contributor page's figure: the package's parts on the layers of ``.importlinter``, with the imports
between them read from the sources at build time (``contributing/layers.svg``)."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from ..common import REPO_ROOT, Content, Site
from ..import_graph import all_modules, part_imports, part_of
from .figures import _pyplot, _svg

LONG_MODULE = 600
"""Lines above which a module should be split, unless it is one concept that reads top to bottom."""


def declared_layers(root: Path = REPO_ROOT) -> list[list[str]]:
    """The layers of ``.importlinter``'s ``layers`` contract, lowest first, as part names."""
    config = configparser.ConfigParser()
    config.read(root / ".importlinter", encoding="utf-8")
    text = config["importlinter:contract:layers"]["layers"]
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return [[part_of(name.strip()) for name in row.split("|")] for row in reversed(rows)]


def layer_imports(root: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """Every import between two parts: ``source``, ``target``, ``modules`` and ``direction`` (down, across,
    up: a lower layer importing a higher one, which ``.importlinter`` lists as debt, or none: outside the layers)."""
    level = {part: i for i, row in enumerate(declared_layers(root)) for part in row}
    rows = []
    for (source, target), count in part_imports(root).items():
        if source.startswith("_"):
            continue  # ``python -m reprogrammability``
        if source in level and target in level:
            step = level[source] - level[target]
            direction = "down" if step > 0 else "up" if step < 0 else "across"
        else:
            direction = "none"
        rows.append({"source": source, "target": target, "modules": count, "direction": direction})
    return rows


def long_modules(root: Path = REPO_ROOT, limit: int = LONG_MODULE) -> list[tuple[str, int]]:
    """``(module, lines)`` of the modules longer than ``limit`` lines, longest first."""
    counted = []
    for module, path in all_modules(root).items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            counted.append((module, lines))
    return sorted(counted, key=lambda item: (-item[1], item[0]))


def layers_svg(root: Path = REPO_ROOT) -> bytes:
    """Boxes: the parts on their layers (lowest at the bottom; parts outside the layers on top, grey); arrows:
    imports, labelled with the number of importing modules; red and dashed: an import upwards (debt)."""
    plt = _pyplot()
    layers = declared_layers(root)
    imports = layer_imports(root)
    parts = {part for row in layers for part in row}
    others = sorted({p for edge in imports for p in (edge["source"], edge["target"])} - parts - {"__main__"})
    rows = [*layers, others] if others else layers
    position: dict[str, tuple[float, float]] = {}
    for level, row in enumerate(rows):
        for column, part in enumerate(row):
            position[part] = ((column - (len(row) - 1) / 2) * 2.2, level * 1.6)
    width = max(len(row) for row in rows) * 2.2 + 1.5
    fig, ax = plt.subplots(figsize=(width, 1.6 * len(rows) + 0.8))
    for edge in imports:
        if edge["source"] not in position or edge["target"] not in position:
            continue
        up = edge["direction"] == "up"
        colour = "#c0392b" if up else "#444444" if edge["direction"] != "none" else "#999999"
        (x0, y0), (x1, y1) = position[edge["source"]], position[edge["target"]]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops=dict(
                arrowstyle="-|>",
                color=colour,
                lw=0.6 + 0.25 * min(edge["modules"], 8),
                linestyle="--" if up else "-",
                shrinkA=16,
                shrinkB=16,
                connectionstyle="arc3,rad=0.15",
            ),
        )
        ax.text((x0 + x1) / 2 + 0.12, (y0 + y1) / 2, str(edge["modules"]), fontsize=7, color=colour)
    for part, (x, y) in sorted(position.items()):
        outside = part not in parts
        ax.text(
            x,
            y,
            part,
            ha="center",
            va="center",
            fontsize=9,
            color="#555" if outside else "#000",
            bbox=dict(
                boxstyle="round,pad=0.4",
                fc="#f2f2f2" if outside else "white",
                ec="#999" if outside else "#1f4e79",
                lw=1.0,
            ),
        )
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-0.8, 1.6 * (len(rows) - 1) + 0.8)
    ax.axis("off")
    ax.set_title("Layers (bottom: lowest) and imports between parts; red dashed: upwards (debt)", fontsize=9)
    data = _svg(fig)
    plt.close(fig)
    return data


def pages(site: Site) -> dict[str, Content]:
    return {"contributing/layers.svg": layers_svg()}
