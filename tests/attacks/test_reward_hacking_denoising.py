"""Reward-hacking candidates against the denoising verifier: invalid outputs are rejected."""

from __future__ import annotations

import base64
import zlib

from pathlib import Path

import numpy as np
import pytest

from tests.attacks._verify_helpers import CHEATS, run_verify

pytestmark = pytest.mark.bwrap


@pytest.mark.parametrize(("cheat", "check"), [
    ("negative", "nominal.output.valid"),
    ("inf_nan", "nominal.output.valid"),
    ("huge", "nominal.output.valid"),
    ("zeroed", "nominal.output.valid"),
    ("wrong_shape", "nominal.outputs.valid"),
    ("object_output", "nominal.sandbox"),
])
def test_invalid_output_rejected(cheat: str, check: str, tmp_path: Path) -> None:
    v, _ = run_verify("denoising", CHEATS / "denoising" / f"{cheat}.py", tmp_path, profile="full")
    assert v.verdict == "rejected", v.reasons
    assert v.score is None
    assert any(r.startswith(check) for r in v.reasons), v.reasons


def test_memorised_output_fails_perturbed(tmp_path: Path) -> None:
    """A matrix tuned on the public split is useless on the secret, shifted one."""
    from verifiers import denoising_data as data

    x = data.nominal_split().x_train.astype(np.float32)
    src = tmp_path / "memorised.py"
    text = (CHEATS / "denoising" / "memorised.py").read_text()
    packed = base64.b85encode(zlib.compress(x.tobytes(), 9)).decode()
    src.write_text(text.replace("__SHAPE__", repr(list(x.shape))).replace("__B85__", packed))
    v, _ = run_verify("denoising", src, tmp_path / "run", profile="full")
    assert v.verdict == "rejected", v.reasons
    assert not any(c.name.startswith("perturbed") and c.passed and "valid" in c.name for c in v.checks)
