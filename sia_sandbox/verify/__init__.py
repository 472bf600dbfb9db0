"""Verification: run a task's verifier on a candidate (nominal + perturbed suites) into a ``Verdict``.

Public API: ``verify_submission`` (what ``sia verify`` calls), the types ``Verdict``/``Check``, the
verifier registry and drift tracking. Submodules are imported lazily so ``import sia_sandbox.verify``
stays cheap.
"""

from __future__ import annotations

from sia_sandbox.verify.types import Check, SuiteResult, Verdict

__all__ = ["Check", "SuiteResult", "Verdict", "verify_submission"]


def __getattr__(name: str) -> object:
    if name == "verify_submission":
        from sia_sandbox.verify.api import verify_submission

        return verify_submission
    raise AttributeError(name)
