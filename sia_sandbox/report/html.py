"""Render a run directory into one self-contained HTML file (plots embedded, no network to view it)."""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from sia_sandbox import __version__
from sia_sandbox.report import plots
from sia_sandbox.report.collect import RunData, collect_run

log = structlog.get_logger(__name__)
TEMPLATES = Path(__file__).with_name("templates")


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}"


def render_html(run: RunData, out: Path) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    verified = [c for c in run.candidates if c.verdict and c.verdict.verdict == "verified" and c.verdict.score is not None]
    best = max(verified, key=lambda c: c.verdict.score) if verified else None  # type: ignore[union-attr, return-value, arg-type]
    root = Path(run.root)

    def rel(p: str) -> str:
        try:
            return os.path.relpath(p, out.parent)
        except ValueError:
            return p

    logs = {}
    for c in run.candidates:
        if c.scaffold_exec and c.scaffold_exec.sandbox_id and c.has_exec_log:
            logs[c.scaffold_exec.sandbox_id] = rel(str(Path(c.dir) / "exec.log"))
    meta_rows = [(k, run.meta[k]) for k in ("backend", "agent", "model", "device", "git_sha", "host", "started_at") if k in run.meta]
    return env.get_template("report.html.j2").render(
        run=run, best=best, n_gens=len({c.gen_index for c in run.candidates}),
        limit_hits=sum(1 for s in run.sandboxes if s.reason not in ("ok", "nonzero_exit")),
        plots={
            "scores": plots.scores_plot(run), "verdicts": plots.verdicts_plot(run),
            "resources": plots.resources_plot(run), "training": plots.training_plot(run),
        },
        fmt=_fmt, rel=rel, logs=logs, meta_rows=meta_rows, version=__version__, root=root,
    )


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` for a run (default: inside the run directory) and return its path.

    Raises:
        ConfigError: ``run_dir`` is not a run directory.
    """
    run = collect_run(Path(run_dir))
    target = Path(out) if out else Path(run.root) / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(run, target.absolute()), encoding="utf-8")
    log.info("report.written", path=str(target), candidates=len(run.candidates))
    return target
