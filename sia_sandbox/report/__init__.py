"""Run reports (HTML), audit views, replay and compare: all rebuilt from a run directory."""

from __future__ import annotations

from sia_sandbox.report.html import build_report

__all__ = ["build_report"]
