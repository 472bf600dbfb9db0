"""modal_train against a fake ``modal`` module that records every SDK call (no network, no account).

The fake runs the remote function in-process, so the training itself is real (tiny model, CPU).
"""

from __future__ import annotations

import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sia_sandbox.errors import TrainingError
from sia_sandbox.train import TrainConfig
from sia_sandbox.train.data import RolloutRecord


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def rec(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def get(self, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        [(_, a, k)] = [c for c in self.calls if c[0] == name]
        return a, k


def _fake_modal(rec: _Recorder) -> types.ModuleType:
    mod = types.ModuleType("modal")

    class Image:
        @classmethod
        def debian_slim(cls, **kw: Any) -> Image:
            rec.rec("Image.debian_slim", **kw)
            return cls()

        def pip_install(self, *pkgs: str, **kw: Any) -> Image:
            rec.rec("Image.pip_install", *pkgs, **kw)
            return self

        def add_local_python_source(self, *mods: str, **kw: Any) -> Image:
            rec.rec("Image.add_local_python_source", *mods, **kw)
            return self

    class Volume:
        @classmethod
        def from_name(cls, name: str, **kw: Any) -> Volume:
            rec.rec("Volume.from_name", name, **kw)
            return cls()

        def commit(self) -> None:
            rec.rec("Volume.commit")

    class Function:
        def __init__(self, fn: Any) -> None:
            self.fn = fn

        def remote(self, *args: Any, **kw: Any) -> Any:
            rec.rec("Function.remote", *args, **kw)
            return self.fn(*args, **kw)

    class App:
        def __init__(self, name: str, **kw: Any) -> None:
            rec.rec("App", name, **kw)

        def function(self, **kw: Any) -> Any:
            rec.rec("App.function", **kw)
            return Function

        @contextmanager
        def run(self, **kw: Any) -> Any:
            rec.rec("App.run.enter", **kw)
            yield self
            rec.rec("App.run.exit")

    mod.App, mod.Image, mod.Volume = App, Image, Volume  # type: ignore[attr-defined]
    return mod


def _rollouts(verdict: str = "verified") -> list[RolloutRecord]:
    return [
        RolloutRecord(rollout_id=f"r{i}", run_id="run-7", group_id="g", prompt="Q: pick a number\nA:",
                      completion=f" {i}", reward=float(i % 2), verdict_sha256=f"{i:064x}",
                      verdict=verdict if i == 3 else "verified")
        for i in range(4)
    ]


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> _Recorder:
    pytest.importorskip("peft")
    import sia_sandbox.train.modal_train as mt

    rec = _Recorder()
    monkeypatch.setitem(sys.modules, "modal", _fake_modal(rec))
    monkeypatch.setattr(mt, "MOUNT", str(tmp_path / "vol"))
    return rec


def test_train_on_modal_sdk_calls(fake: _Recorder, tmp_path: Path) -> None:
    from sia_sandbox.train.modal_train import PIP_PACKAGES, train_on_modal

    cfg = TrainConfig(algo="grpo", algo_reason="test", steps=1, batch_size=4, lora_r=4, lora_alpha=8,
                      num_threads=1, group_size=4)
    result = train_on_modal(_rollouts(), cfg, run_id="run-7", remote_device="cpu")

    assert fake.names() == [
        "Image.debian_slim", "Image.pip_install", "Image.add_local_python_source", "Volume.from_name",
        "App", "App.function", "App.run.enter", "Function.remote", "Volume.commit", "App.run.exit",
    ]
    assert fake.get("Image.debian_slim")[1] == {"python_version": "3.11"}
    assert fake.get("Image.pip_install")[0] == PIP_PACKAGES and "torch==2.13.0" in PIP_PACKAGES
    assert fake.get("Image.add_local_python_source")[0] == ("sia_sandbox",)
    assert fake.get("Volume.from_name") == (("sia-adapters",), {"create_if_missing": True})
    assert fake.get("App")[0] == ("sia-train",)
    fn_kw = fake.get("App.function")[1]
    assert fn_kw["gpu"] == "H100!" and fn_kw["timeout"] == 3600 and fn_kw["serialized"] is True
    assert list(fn_kw["volumes"]) == [str(tmp_path / "vol")]
    (payload,), _ = fake.get("Function.remote")
    assert payload["run_id"] == "run-7" and payload["config"]["device"] == "cpu"
    assert [r["rollout_id"] for r in payload["rollouts"]] == ["r0", "r1", "r2", "r3"]

    assert result.adapter_version == 1 and result.algo == "grpo"
    assert (tmp_path / "vol" / "run-7" / "0001" / "adapter_model.safetensors").exists()


def test_unverified_rollout_is_never_uploaded(fake: _Recorder) -> None:
    from sia_sandbox.train.modal_train import train_on_modal

    with pytest.raises(TrainingError, match="r3"):
        train_on_modal(_rollouts(verdict="rejected"), TrainConfig(), run_id="run-7")
    assert fake.calls == []


def test_missing_sdk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sia_sandbox.errors import BackendUnavailableError
    from sia_sandbox.train.modal_train import build_app

    monkeypatch.setitem(sys.modules, "modal", None)
    with pytest.raises(BackendUnavailableError) as e:
        build_app()
    assert "modal" in (e.value.hint or "")
