"""Versioned adapters: save, version, parent, rollback; weights really change after an update."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("peft")

from sia_sandbox.errors import ConfigError  # noqa: E402
from sia_sandbox.train import TrainConfig, train_from_rollouts  # noqa: E402
from sia_sandbox.train.adapters import (  # noqa: E402
    CURRENT,
    current_version,
    latest_version,
    list_versions,
    load_adapter_into,
    read_meta,
    rollback,
)
from sia_sandbox.train.data import RolloutRecord  # noqa: E402

CFG = TrainConfig(algo="grpo", algo_reason="test", steps=2, batch_size=4, learning_rate=1e-2, lora_r=4,
                  lora_alpha=8, num_threads=1, group_size=4)


def _rollouts(tag: str) -> list[RolloutRecord]:
    return [
        RolloutRecord(rollout_id=f"{tag}-{g}-{i}", run_id="run", group_id=f"{tag}-{g}", prompt="Q: pick a number\nA:",
                      completion=f" {i}{'x' * i}", reward=float(i % 2), verdict_sha256=f"{i:064x}",
                      verdict="verified")
        for g in range(2) for i in range(4)
    ]


def _lora_tensors(model) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_versions_parent_rollback(tmp_path: Path) -> None:
    import torch

    from sia_sandbox.models import load_causal_lm

    adir = tmp_path / "adapters"
    assert latest_version(adir) is None and current_version(adir) is None
    r1 = train_from_rollouts(_rollouts("a"), CFG, adapters_dir=adir)
    assert (r1.adapter_version, r1.parent_version, r1.algo, r1.rule_algo) == (1, None, "grpo", "grpo")
    assert (adir / "0001" / "adapter_model.safetensors").exists()
    assert (adir / "0001" / "adapter_config.json").exists()
    meta = read_meta(adir, 1)
    assert meta.rollout_ids == sorted(r.rollout_id for r in _rollouts("a"))
    assert len(meta.verdict_hashes) == 8 and meta.base_model == "tiny" and len(meta.metrics) == 2
    assert (adir / CURRENT).read_text().strip() == "0001"

    base, _ = load_causal_lm("tiny")
    v1 = _lora_tensors(load_adapter_into(base, adir, 1))
    # peft initialises lora_B to zero: a non-zero B means the update changed the adapter.
    assert any(float(t.abs().sum()) > 0 for n, t in v1.items() if "lora_B" in n)

    r2 = train_from_rollouts(_rollouts("b"), CFG, adapters_dir=adir)
    assert (r2.adapter_version, r2.parent_version) == (2, 1)
    assert list_versions(adir) == [1, 2] and current_version(adir) == 2
    base2, _ = load_causal_lm("tiny")
    v2 = _lora_tensors(load_adapter_into(base2, adir))
    assert any(not torch.equal(v1[n], v2[n]) for n in v1)

    rollback(adir, 1)
    assert current_version(adir) == 1 and latest_version(adir) == 2
    base3, _ = load_causal_lm("tiny")
    again = _lora_tensors(load_adapter_into(base3, adir))
    assert all(torch.equal(v1[n], again[n]) for n in v1)

    # the next update starts from CURRENT (1), not from the newest version
    r3 = train_from_rollouts(_rollouts("c"), CFG, adapters_dir=adir)
    assert (r3.adapter_version, r3.parent_version) == (3, 1)


def test_rollback_to_missing_version(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no adapter version 7"):
        rollback(tmp_path, 7)


def test_broken_current_pointer(tmp_path: Path) -> None:
    (tmp_path / CURRENT).write_text("0042\n")
    with pytest.raises(ConfigError, match="CURRENT"):
        current_version(tmp_path)


def test_parent_from_other_base_model_is_refused(tmp_path: Path) -> None:
    adir = tmp_path / "adapters"
    train_from_rollouts(_rollouts("a"), CFG, adapters_dir=adir)
    other = CFG.model_copy(update={"base_model": str(tmp_path / "elsewhere")})
    with pytest.raises(ConfigError, match="trained on 'tiny'"):
        train_from_rollouts(_rollouts("b"), other, adapters_dir=adir)
