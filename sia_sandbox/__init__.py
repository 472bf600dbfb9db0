"""sia_sandbox: run self-improving agent loops with sandboxed scaffolds and hardened verifiers."""

from __future__ import annotations

__version__ = "0.1.0"
