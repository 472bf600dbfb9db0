"""A real run's report, rendered in headless Chromium: the plots decode, the page has no errors and
loads nothing from the network. The screenshot is kept in test-artifacts/ for people to look at."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sia_sandbox.loop import run_loop
from sia_sandbox.loop_config import LoopConfig
from sia_sandbox.report import build_report
from sia_sandbox.report.browser import check_report
from sia_sandbox.report.compare import compare_runs
from sia_sandbox.report.replay import replay_run
from tests.integration.loop_helpers import needs_local, run_env  # noqa: F401

pytestmark = [pytest.mark.bwrap, needs_local,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_real_run_report_renders_in_chromium(run_env: Path) -> None:
    cfg = LoopConfig(task="trimul", max_gen=2, run_id="report-run", agent="offline_weights_first",
                     verify_profile="quick", model="tiny")
    run_loop(cfg, runs_dir=run_env)
    run_dir = run_env / "report-run"
    report = build_report(run_dir)
    html = report.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    for section in ("plot-scores", "plot-verdicts", "plot-resources", 'id="sandboxes"', 'id="generations"'):
        assert section in html, section

    shot = ARTIFACTS / "report.png"
    seen = check_report(report, screenshot=shot)
    assert seen.errors == 0 and seen.external == 0
    assert seen.plots >= 3 and seen.decoded == seen.plots
    assert seen.screenshot and shot.stat().st_size > 10_000

    a, b = compare_runs(run_dir, run_dir)
    assert a == b and a.generations == 2 and a.audit_ok

    # Replay recomputes both verdicts from the run directory with the revealed seeds and the recorded
    # profile; timing scores may move with machine load, the verdicts themselves must not.
    replayed = replay_run(run_dir)
    assert [r.candidate_id for r in replayed.rows] == ["g0000-c0", "g0001-c0"]
    assert all(r.replayed == r.recorded for r in replayed.rows), [(r.recorded, r.replayed, r.note) for r in replayed.rows]
