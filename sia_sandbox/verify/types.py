"""Typed results of verification: one ``Check`` per thing checked, one ``Verdict`` per candidate.

A verdict is data written to disk (``verdict.json``) and to the audit log, so it carries a
``schema_version`` and must be recomputable from the candidate's artifacts, the task and the seeds.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

VerdictStatus = Literal["verified", "rejected", "suspicious"]
"""verified: every check passed and nothing looked gamed. rejected: a correctness/validity check
failed (crash, timeout, wrong output, malformed output). suspicious: outputs were correct but the
evidence points at gaming (Goodhart drift, impossible timing, tampering signals)."""

Severity = Literal["reject", "suspicious"]
"""What a failed check does to the verdict."""


class Check(BaseModel):
    """One named thing the verifier checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Stable identifier, e.g. ``nominal.correctness[bs=1,n=32]``."""
    passed: bool
    """Whether the check passed."""
    detail: str = ""
    """Numbers behind the outcome (max error, timings, what was found)."""
    severity: Severity = "reject"
    """What a failure means: ``reject`` (invalid candidate) or ``suspicious`` (likely gaming)."""


class SuiteResult(BaseModel):
    """What one suite (nominal or perturbed) of one verification produced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    suite: Literal["nominal", "perturbed"]
    """Which suite."""
    score: float | None
    """The task's metric on this suite; None when the candidate failed the suite."""
    checks: list[Check] = Field(default_factory=list)
    """Every check made in this suite."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Extra numbers (per-shape times, calibration overhead, F1 parts)."""
    candidate_s: float = 0.0
    """Wall seconds spent in sandbox runs of the candidate for this suite."""


class Verdict(BaseModel):
    """A verifier's typed judgement of one candidate. Do not reorder fields (written to disk)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    """Version of this model's on-disk form."""
    task: str
    """Task name (``tasks/<task>/``)."""
    verifier: str
    """Verifier name (``verifiers/<verifier>.py``)."""
    verifier_version: str
    """Version string of the verifier; bump it whenever scoring changes."""
    candidate_id: str
    """The candidate this verdict judges."""
    verdict: VerdictStatus
    """The outcome."""
    score: float | None
    """Nominal-suite score (the number the loop may see); None when rejected before scoring."""
    perturbed_score: float | None
    """Score on the perturbed (secret-seeded) suite."""
    drift: float | None
    """Goodhart drift ``(nominal - perturbed) / |nominal|`` oriented so that positive = nominal looks
    better than perturbed; None when either score is missing."""
    direction: Literal["maximize", "minimize"] = "maximize"
    """Whether a larger score is better."""
    checks: list[Check] = Field(default_factory=list)
    """Every check, nominal then perturbed, then cross-suite checks."""
    reasons: list[str] = Field(default_factory=list)
    """Why the verdict is what it is, one line per failed check (with the numbers)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Extra numbers, prefixed by suite (``nominal.us[...]``, ``timing.overhead_us``, ...)."""
    evidence: list[str] = Field(default_factory=list)
    """Paths (absolute) of files backing the verdict: candidate copy, sandbox results, outputs."""
    seeds_commitment: str
    """sha256 of the canonical JSON of the secret seeds; the seeds are revealed in the audit log
    only after the verdict exists, so anyone can check they were fixed beforehand."""
    device: str
    """``cpu`` or ``cuda`` (and the device name where known)."""
    profile: str = "full"
    """Verifier profile (``full``; ``quick`` = fewer shapes/repeats, for tests and smoke runs)."""
    candidate_s: float = 0.0
    """Wall seconds spent running the candidate in sandboxes."""
    verifier_s: float = 0.0
    """Wall seconds of the whole verification minus ``candidate_s`` (reference, checks, setup)."""
    created_at: str = Field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat())
    """UTC timestamp (ISO 8601) of the verdict."""

    @property
    def passed(self) -> bool:
        """True only for ``verified``."""
        return self.verdict == "verified"
