"""Report plots as inline SVG strings, drawn with matplotlib: Pareto plots (quality vs runtime, quality vs FLOPs)
and pruning curves (quality vs params, step by step)."""

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


def plain(text: str) -> str:
    """User text as literal characters: an unescaped '$' would switch matplotlib to math mode (and may fail)."""
    return str(text).replace("$", r"\$")


def pareto_svg(points: list[dict], *, xlabel: str, ylabel: str, title: str) -> str:
    """points: dicts with label, x, y. Returns an <svg> element (matplotlib escapes the label text)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.9), dpi=100)
    markers = "osD^vP*Xh<>p"
    for i, p in enumerate(points):  # a legend, not annotations: close points would overlap their labels
        ax.scatter(p["x"], p["y"], s=36, zorder=3, marker=markers[i % len(markers)], label=plain(p["label"]))
    front = pareto_front([(p["x"], p["y"]) for p in points])
    if len(front) > 1:
        ax.plot(*zip(*front), color="0.4", linestyle="--", linewidth=1, zorder=2, label="Pareto front")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, linewidth=0.4, alpha=0.6)
    ax.margins(x=0.12, y=0.2)
    return _svg(fig)


def groups_svg(points: list[dict], *, xlabel: str, ylabel: str, title: str) -> str:
    """Many points coloured by group (a year): points are dicts with label, group, x, y. The Pareto front over all
    of them is drawn and its points labelled; the legend lists the groups, not the points."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4), dpi=100)
    groups = list(dict.fromkeys(p["group"] for p in points))
    for i, group in enumerate(groups):
        mine = [p for p in points if p["group"] == group]
        ax.scatter([p["x"] for p in mine], [p["y"] for p in mine], s=22, zorder=3, marker="osD^v"[i % 5],
                   color=f"C{i}", alpha=0.8, label=plain(group))
    front = pareto_front([(p["x"], p["y"]) for p in points])
    if len(front) > 1:
        ax.plot(*zip(*front), color="0.4", linestyle="--", linewidth=1, zorder=2, label="Pareto front")
    on_front = set(front)
    for p in points:
        if (p["x"], p["y"]) in on_front:
            ax.annotate(plain(p["label"]), (p["x"], p["y"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, linewidth=0.4, alpha=0.6)
    return _svg(fig)


def pruning_svg(curve: list[dict], *, title: str, floor_db: float | None = None) -> str:
    """curve: pruning steps with step, params, psnr_y, accepted (run.training_summary). Steps are joined in order;
    kept steps are filled, the step that fell below the floor is hollow, the shipped (last kept) one is ringed."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    xs, ys = [p["params"] / 1e3 for p in curve], [p["psnr_y"] for p in curve]
    ax.plot(xs, ys, color="0.6", linewidth=1, zorder=2)
    kept = [i for i, p in enumerate(curve) if p["accepted"]]
    stopped = [i for i, p in enumerate(curve) if not p["accepted"]]
    ax.scatter([xs[i] for i in kept], [ys[i] for i in kept], s=36, zorder=3, color="C0", label="kept")
    if stopped:
        ax.scatter([xs[i] for i in stopped], [ys[i] for i in stopped], s=36, zorder=3, facecolors="white",
                   edgecolors="C3", label="below floor (stopped)")
    if kept:
        last = kept[-1]
        ax.scatter([xs[last]], [ys[last]], s=140, zorder=4, facecolors="none", edgecolors="C2", linewidths=1.5,
                   label=f"shipped (step {curve[last]['step']})")
    if floor_db is not None:
        ax.axhline(floor_db, color="C3", linestyle=":", linewidth=1, zorder=1, label=f"floor {floor_db:.2f} dB")
    for x, y, p in zip(xs, ys, curve, strict=True):
        ax.annotate(str(int(p["step"])), (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.set_xlabel("params (thousands), fused deploy form")
    ax.set_ylabel("validation PSNR-Y (dB)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, linewidth=0.4, alpha=0.6)
    ax.margins(x=0.15, y=0.25)
    return _svg(fig)


def _svg(fig) -> str:
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})  # no timestamp: same data, same bytes
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML


def learning_svg(curves: dict[str, list], *, title: str, reference: dict[str, float] | None = None) -> str:
    """Validation PSNR-Y vs optimizer step, one line per stage; optional horizontal reference levels."""
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    for label, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=plain(label))
    for i, (label, level) in enumerate((reference or {}).items()):
        ax.axhline(level, color=f"C{i + 3}", linestyle=":", linewidth=1, label=plain(label))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("validation PSNR-Y (dB)")
    ax.set_title(plain(title), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _svg(fig)
