"""Figures of the case study: the computational paths through f (from each method's recorded Spec parts)
and the learned image programs. Imports matplotlib (and torch, for the programs) only inside functions.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

__all__ = ["PORTS", "port_of", "paths_figure", "programs_png"]

PARADIGM_COLOURS = {
    "prompt instruction": "#1b9e77",
    "prompt tuning": "#d95f02",
    "model reprogramming": "#7570b3",
    "combination": "#e7298a",
}

PORTS: dict[tuple[str, str], tuple[float, float, str]] = {
    ("vision", "input"): (0.39, 0.78, "image input x"),
    ("vision", "embedding"): (0.51, 0.78, "stem grid"),
    ("vision", "hidden"): (0.63, 0.78, "MBConv blocks"),
    ("text", "input"): (0.39, 0.30, "prompt text t_c"),
    ("text", "embedding"): (0.51, 0.30, "token embeddings"),
    ("text", "hidden"): (0.63, 0.30, "BERT layers"),
}
"""(tower, location ℓ) → where the arrow enters the drawn f: x, y (axes fraction) and the port's name."""


def port_of(part: dict[str, str]) -> tuple[str, str]:
    """The (tower, location) key of a recorded input part (``runner._parts``); unknown towers read as the image."""
    tower = part.get("tower", "vision")
    tower = tower if tower in ("vision", "text") else "vision"
    return tower, part["location"]


def _figure_bytes(fig: Any, fmt: str) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, bbox_inches="tight", metadata=metadata, dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def paths_figure(report: dict[str, Any], fmt: str = "svg") -> bytes:
    """The frozen dual encoder drawn once; an arrow from every method to each place one of its parts enters f
    (tower and location ℓ, labelled with the operator τ), and its output alignment ω at the output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 8})
    rows = [r for r in report["rows"] if r.get("parts")]
    fig, ax = plt.subplots(figsize=(10, 5.6))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    for y, name in ((0.78, "image tower g: EfficientNet-Lite0"), (0.30, "text tower h: all-MiniLM-L6-v2, then A")):
        ax.add_patch(FancyBboxPatch((0.35, y - 0.07), 0.32, 0.14, boxstyle="round,pad=0.01", fc="#eeeeee", ec="k"))
        ax.text(0.51, y + 0.095, name, ha="center", fontsize=8, weight="bold")
    ax.add_patch(FancyBboxPatch((0.70, 0.47), 0.11, 0.14, boxstyle="round,pad=0.01", fc="#eeeeee", ec="k"))
    ax.text(0.755, 0.54, "z = s·cos(g, A h)\n(f frozen)", ha="center", va="center", fontsize=7)
    ax.annotate("", (0.70, 0.57), (0.67, 0.76), arrowprops={"arrowstyle": "->", "color": "k"})
    ax.annotate("", (0.70, 0.51), (0.67, 0.32), arrowprops={"arrowstyle": "->", "color": "k"})
    for x, y, label in PORTS.values():
        ax.plot([x], [y], "o", color="k", ms=4)
        ax.text(x, y - 0.045, label, ha="center", va="top", fontsize=6)
    count = max(1, len(rows))
    alignments: dict[str, list[str]] = {}
    for index, row in enumerate(rows):
        y = 0.95 - index * (0.9 / count)
        colour = PARADIGM_COLOURS.get(row["paradigm"], "k")
        ax.text(0.26, y, row["method"], color=colour, fontsize=7, va="center", ha="right")
        for part in row["parts"]:
            key = port_of(part)
            if key not in PORTS:
                continue
            px, py, _ = PORTS[key]
            ax.annotate(
                "",
                (px, py),
                (0.265, y),
                arrowprops={"arrowstyle": "->", "color": colour, "alpha": 0.7, "lw": 1.0, "shrinkB": 3},
            )
        for alignment in row.get("alignment", []):
            alignments.setdefault(alignment, []).append(row["key"])
    for index, (alignment, keys) in enumerate(sorted(alignments.items())):
        y = 0.70 - index * 0.12
        ax.annotate("", (0.86, y), (0.81, 0.54), arrowprops={"arrowstyle": "->", "color": "k"})
        ax.text(0.865, y, f"ω = {alignment}\n" + ", ".join(keys), va="center", fontsize=6)
    handles = [plt.Line2D([], [], color=c, lw=2, label=p) for p, c in PARADIGM_COLOURS.items()]
    ax.legend(handles=handles, loc="lower left", frameon=False, fontsize=7, ncol=4, bbox_to_anchor=(0.2, -0.04))
    ax.set_title(f"Three computational paths through one frozen dual encoder ({report['task']})", fontsize=9)
    return _figure_bytes(fig, fmt)


def programs_png(programs: Sequence[tuple[str, Any, Any]], mean: Sequence[float], std: Sequence[float]) -> bytes:
    """One row per trained image program: M ⊙ σ(W) (the learned frame) and a test image as f receives it.

    ``programs``: (label, program module, one [0, 1] image (1, 3, h, w)); f's input is de-normalised for display.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    fig, axes = plt.subplots(len(programs), 2, figsize=(4.2, 2.1 * len(programs)), squeeze=False)
    m = torch.tensor(list(mean)).view(3, 1, 1)
    s = torch.tensor(list(std)).view(3, 1, 1)
    for (label, program, image), (left, right) in zip(programs, axes):
        with torch.no_grad():
            frame = program.delta()[:3].float()
            seen = (program(image)[0].float() * s + m).clamp(0, 1)
        left.imshow(frame.permute(1, 2, 0).numpy())
        right.imshow(seen.permute(1, 2, 0).numpy())
        left.set_title(f"{label}: program M⊙σ(W)", fontsize=6)
        right.set_title("a test image as f sees it", fontsize=6)
        for axis in (left, right):
            axis.set_xticks([])
            axis.set_yticks([])
    return _figure_bytes(fig, "png")
