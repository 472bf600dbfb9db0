"""Fixtures for attack tests against the real local (bubblewrap) backend."""

from __future__ import annotations

import pytest

from sia_sandbox.sandbox.local import LocalBackend


@pytest.fixture(scope="session")
def local_backend() -> LocalBackend:
    """A usable LocalBackend, or skip when bubblewrap/user namespaces are missing here."""
    backend = LocalBackend()
    st = backend.status()
    if not st.usable:
        pytest.skip(f"local backend unusable: {st.detail}")
    return backend
