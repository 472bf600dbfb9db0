"""Every path of a run directory, in one place (the only code that builds them).

    runs/<run_id>/
      run.json  config.json  audit.jsonl  rollouts.db  summary.json  report.html
      generations/<gen:04d>/<candidate_id>/
        scaffold/  exec.log  output/  verdict.json  improvement.md  action.json
      adapters/<NNNN>/
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class Names:
    """File names of run artifacts. ``run.json`` exists so a later ``report``/``replay`` can re-grade a run."""

    RUN = "run.json"
    CONFIG = "config.json"
    AUDIT = "audit.jsonl"
    AUDIT_ANCHOR = "audit_anchor.json"
    """Event count and head hash of ``audit.jsonl`` when the run last closed (detects truncation)."""
    ROLLOUTS = "rollouts.db"
    SUMMARY = "summary.json"
    REPORT = "report.html"
    GENERATIONS = "generations"
    ADAPTERS = "adapters"
    SCAFFOLD = "scaffold"
    EXEC_LOG = "exec.log"
    EXEC_RESULT = "exec.json"
    OUTPUT = "output"
    VERDICT = "verdict.json"
    IMPROVEMENT = "improvement.md"
    ACTION = "action.json"
    CANDIDATE = "candidate.json"
    """Inside ``scaffold/``: the candidate's metadata (parent, the agent's notes on what it changed)."""
    DRIFT = "drift.jsonl"
    VERIFY_DIR = "verify"


@dataclass(frozen=True)
class CandidateLayout:
    """Paths of one candidate inside a generation."""

    root: Path

    @property
    def scaffold(self) -> Path:
        return self.root / Names.SCAFFOLD

    @property
    def exec_log(self) -> Path:
        return self.root / Names.EXEC_LOG

    @property
    def exec_result(self) -> Path:
        return self.root / Names.EXEC_RESULT

    @property
    def output(self) -> Path:
        return self.root / Names.OUTPUT

    @property
    def candidate_meta(self) -> Path:
        return self.scaffold / Names.CANDIDATE

    @property
    def verdict(self) -> Path:
        return self.root / Names.VERDICT

    @property
    def verify_dir(self) -> Path:
        return self.root / Names.VERIFY_DIR

    @property
    def improvement(self) -> Path:
        return self.root / Names.IMPROVEMENT

    @property
    def action(self) -> Path:
        return self.root / Names.ACTION


@dataclass(frozen=True)
class RunLayout:
    """Paths of one run directory."""

    root: Path

    @classmethod
    def for_run(cls, runs_dir: Path, run_id: str) -> "RunLayout":
        return cls(Path(runs_dir).absolute() / run_id)

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def run_json(self) -> Path:
        return self.root / Names.RUN

    @property
    def config_json(self) -> Path:
        return self.root / Names.CONFIG

    @property
    def audit_log(self) -> Path:
        return self.root / Names.AUDIT

    @property
    def audit_anchor(self) -> Path:
        return self.root / Names.AUDIT_ANCHOR

    @property
    def rollouts_db(self) -> Path:
        return self.root / Names.ROLLOUTS

    @property
    def summary_json(self) -> Path:
        return self.root / Names.SUMMARY

    @property
    def report_html(self) -> Path:
        return self.root / Names.REPORT

    @property
    def drift_log(self) -> Path:
        return self.root / Names.DRIFT

    @property
    def generations(self) -> Path:
        return self.root / Names.GENERATIONS

    @property
    def adapters(self) -> Path:
        return self.root / Names.ADAPTERS

    def generation(self, gen_index: int) -> Path:
        return self.generations / f"{gen_index:04d}"

    def candidate(self, gen_index: int, candidate_id: str) -> CandidateLayout:
        return CandidateLayout(self.generation(gen_index) / candidate_id)

    def candidates(self) -> list[tuple[int, CandidateLayout]]:
        """Every candidate on disk, sorted by generation then id."""
        out: list[tuple[int, CandidateLayout]] = []
        if not self.generations.is_dir():
            return out
        for gen_dir in sorted(p for p in self.generations.iterdir() if p.is_dir() and p.name.isdigit()):
            for cand in sorted(p for p in gen_dir.iterdir() if p.is_dir()):
                out.append((int(gen_dir.name), CandidateLayout(cand)))
        return out


def project_root() -> Path:
    """The source checkout (holds tasks/, verifiers/, kernels/); ``SIA_PROJECT_ROOT`` overrides."""
    import os

    env = os.environ.get("SIA_PROJECT_ROOT")
    if env:
        return Path(env).absolute()
    return Path(__file__).resolve().parent.parent
