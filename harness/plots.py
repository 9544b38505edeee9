"""Pareto plots (quality vs runtime, quality vs FLOPs) as inline SVG strings, drawn with matplotlib."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "sr-harness", "font.size": 9})


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not beaten by any other (lower x and higher y are better), sorted by x."""
    front, best_y = [], float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best_y:
            front.append((x, y))
            best_y = y
    return front


def pareto_svg(points: list[dict], *, xlabel: str, ylabel: str, title: str) -> str:
    """points: dicts with label, x, y. Returns an <svg> element (matplotlib escapes the label text)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.9), dpi=100)
    markers = "osD^vP*Xh<>p"
    for i, p in enumerate(points):  # a legend, not annotations: close points would overlap their labels
        ax.scatter(p["x"], p["y"], s=36, zorder=3, marker=markers[i % len(markers)], label=p["label"])
    front = pareto_front([(p["x"], p["y"]) for p in points])
    if len(front) > 1:
        ax.plot(*zip(*front), color="0.4", linestyle="--", linewidth=1, zorder=2, label="Pareto front")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, linewidth=0.4, alpha=0.6)
    ax.margins(x=0.12, y=0.2)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # no timestamp: same data, same bytes
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML
