"""matplotlib figures of a run, returned as PNG data URIs so the report is one self-contained file."""

from __future__ import annotations

import base64
import io
import math
from collections import Counter

from sia_sandbox.report.collect import RunData

REASON_COLORS = {
    "ok": "#2e7d32", "nonzero_exit": "#f9a825", "timeout": "#c62828", "oom": "#6a1b9a",
    "pids_limit": "#ad1457", "output_limit": "#ef6c00", "killed": "#37474f", "error": "#000000",
}
VERDICT_COLORS = {"verified": "#2e7d32", "suspicious": "#ef6c00", "rejected": "#c62828"}


def _fig_to_uri(fig) -> str:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _integer_x(ax) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scores_plot(run: RunData) -> str | None:
    """Nominal and perturbed score per generation, drift on a second axis."""
    rows = [c for c in run.candidates if c.verdict is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    gens = [c.gen_index for c in rows]
    nom = [c.verdict.score if c.verdict.score is not None else math.nan for c in rows]  # type: ignore[union-attr]
    per = [c.verdict.perturbed_score if c.verdict.perturbed_score is not None else math.nan for c in rows]  # type: ignore[union-attr]
    ax.plot(gens, nom, "o-", label="nominal score", color="#1565c0")
    ax.plot(gens, per, "s--", label="perturbed score", color="#6a1b9a")
    for c in rows:
        ax.scatter([c.gen_index], [c.verdict.score if c.verdict.score is not None else 0.0],  # type: ignore[union-attr]
                   s=90, facecolors="none", edgecolors=VERDICT_COLORS.get(c.verdict.verdict, "grey"))  # type: ignore[union-attr]
    ax.set_xlabel("generation")
    ax.set_ylabel("score")
    ax2 = ax.twinx()
    drift = [c.verdict.drift if c.verdict.drift is not None else math.nan for c in rows]  # type: ignore[union-attr]
    ax2.bar(gens, drift, width=0.35, alpha=0.25, color="#ef6c00", label="drift")
    _integer_x(ax)
    ax2.set_ylabel("drift (nominal - perturbed) / |nominal|")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Score per generation (rings: verdict colour) and Goodhart drift")
    return _fig_to_uri(fig)


def verdicts_plot(run: RunData) -> str | None:
    """Verdict counts, and how often each check failed."""
    rows = [c for c in run.candidates if c.verdict is not None]
    if not rows:
        return None
    plt = _plt()
    counts = Counter(c.verdict.verdict for c in rows)  # type: ignore[union-attr]
    failed = Counter(ch.name.split("[")[0] for c in rows for ch in c.verdict.checks if not ch.passed)  # type: ignore[union-attr]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 2]})
    names = ["verified", "suspicious", "rejected"]
    a1.bar(names, [counts.get(n, 0) for n in names], color=[VERDICT_COLORS[n] for n in names])
    a1.set_title("verdicts")
    top = failed.most_common(10)
    if top:
        a2.barh([n for n, _ in top][::-1], [v for _, v in top][::-1], color="#c62828")
    else:
        a2.text(0.5, 0.5, "no failed checks", ha="center", va="center", transform=a2.transAxes)
        a2.set_xticks([])
        a2.set_yticks([])
    a2.set_title("failed checks")
    return _fig_to_uri(fig)


def resources_plot(run: RunData) -> str | None:
    """Wall and CPU seconds and peak memory of every sandbox run, coloured by reason."""
    if not run.sandboxes:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    xs = list(range(len(run.sandboxes)))
    colors = [REASON_COLORS.get(s.reason, "grey") for s in run.sandboxes]
    a1.scatter(xs, [s.wall_s for s in run.sandboxes], c=colors, label="wall")
    a1.scatter(xs, [s.cpu_s or 0.0 for s in run.sandboxes], c=colors, marker="x", label="cpu")
    a1.set_xlabel("sandbox run")
    a1.set_ylabel("seconds (o wall, x cpu)")
    a2.scatter(xs, [s.peak_memory_mb or 0.0 for s in run.sandboxes], c=colors)
    a2.set_xlabel("sandbox run")
    a2.set_ylabel("peak memory MB")
    for reason, col in REASON_COLORS.items():
        if any(s.reason == reason for s in run.sandboxes):
            a2.scatter([], [], c=col, label=reason)
    a2.legend(fontsize=7)
    _integer_x(a1)
    _integer_x(a2)
    fig.suptitle("Sandbox resource use (colour = termination reason)")
    return _fig_to_uri(fig)


def training_plot(run: RunData) -> str | None:
    """One curve per weight update."""
    rows = [t for t in run.training if t.curve]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for t in rows:
        ax.plot(range(1, len(t.curve) + 1), t.curve, marker=".", label=f"v{t.version} {t.algo} ({t.curve_name})")
    ax.set_xlabel("step")
    _integer_x(ax)
    ax.legend(fontsize=8)
    ax.set_title("Training curves of each weight update")
    return _fig_to_uri(fig)
