"""One exception hierarchy for failures of the platform itself.

A candidate that misbehaves (crashes, hangs, cheats) is never an exception: it is a result or a
verdict. These exceptions are for bad input and broken infrastructure, and each carries a ``hint``
that tells the user what to do next.
"""

from __future__ import annotations


class SiaError(Exception):
    """Base of every error the platform raises on purpose.

    Args:
        message: what failed, with the identifiers that locate it.
        hint: how to fix it, or where to look; printed by the CLI under the message.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(SiaError):
    """A configuration, spec or CLI argument is invalid."""


class SandboxSpecError(ConfigError):
    """A sandbox spec cannot be run as written (missing mount source, forbidden path, ...)."""


class SandboxError(SiaError):
    """A backend failed to create, run or clean up a sandbox."""


class BackendUnavailableError(SandboxError):
    """A backend cannot be used on this machine (missing tool, engine down, no token)."""


class LimitNotEnforceableError(SandboxSpecError):
    """A requested limit or security option cannot be enforced by the chosen backend."""


class TaskError(ConfigError):
    """A task definition is missing or malformed."""


class VerifierError(SiaError):
    """The verifier itself failed (not the candidate)."""


class AuditIntegrityError(SiaError):
    """An audit log's hash chain does not verify."""

    exit_code = 1


class TrainingError(SiaError):
    """The weight updater could not train (bad data, missing dependency, refused rollout)."""


class GatewayError(SiaError):
    """The model gateway failed or a budget was exceeded."""


class BudgetExceededError(GatewayError):
    """A per-run budget (calls, tokens, wall time) is exhausted."""
