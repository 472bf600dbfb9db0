"""LawBench data: verified loading, offline errors, deterministic splits, canaries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sia_sandbox.errors import ConfigError
from verifiers import lawbench_data as ld

DATA = Path("/work/shared/data/lawbench")
pytestmark = pytest.mark.skipif(not (DATA / "3-3.json").is_file(), reason="LawBench data not available")


@pytest.fixture()
def cases(monkeypatch: pytest.MonkeyPatch) -> list[ld.LawCase]:
    monkeypatch.setenv(ld.LAWBENCH_DIR_ENV, str(DATA))
    return ld.load_cases()


def test_load_cases(cases: list[ld.LawCase]) -> None:
    assert len(cases) == 500
    assert sum(len(c.charges) > 1 for c in cases) == 167
    assert cases[0].charges == ("盗窃",) and not cases[0].facts.startswith("事实")


def test_gpt4_predictions_align(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ld.LAWBENCH_DIR_ENV, str(DATA))
    assert len(ld.load_gpt4_predictions()) == 500


def test_tampered_file_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(DATA / "3-3.json", tmp_path / "3-3.json")
    with (tmp_path / "3-3.json").open("ab") as f:
        f.write(b" ")
    monkeypatch.setenv(ld.LAWBENCH_DIR_ENV, str(tmp_path))
    with pytest.raises(ConfigError, match="sha256"):
        ld.load_cases()


def test_missing_file_in_setting_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ld.LAWBENCH_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=ld.LAWBENCH_DIR_ENV):
        ld.load_cases()


def test_offline_download_error_names_url_and_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ld.LAWBENCH_DIR_ENV, raising=False)
    monkeypatch.setenv(ld.CACHE_DIR_ENV, str(tmp_path))
    # An unroutable URL stands in for "offline" without depending on the test machine's network.
    bad = ld.CASES_FILE.model_copy(update={"url": "http://127.0.0.1:9/3-3.json"})
    with pytest.raises(ConfigError) as e:
        ld.resolve_file(bad, timeout_s=2)
    assert "127.0.0.1:9" in str(e.value) and ld.LAWBENCH_DIR_ENV in str(e.value)


def test_cache_hit_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ld.LAWBENCH_DIR_ENV, raising=False)
    monkeypatch.setenv(ld.CACHE_DIR_ENV, str(tmp_path))
    (tmp_path / "lawbench").mkdir()
    shutil.copy(DATA / "3-3.json", tmp_path / "lawbench" / "3-3.json")
    assert ld.resolve_file(ld.CASES_FILE) == tmp_path / "lawbench" / "3-3.json"


def test_split_deterministic_disjoint_renamed(cases: list[ld.LawCase]) -> None:
    tr, ev = ld.make_split(cases, 7, 300, 200)
    tr2, ev2 = ld.make_split(cases, 7, 300, 200)
    assert tr == tr2 and ev == ev2
    assert not {c.source_index for c in tr} & {c.source_index for c in ev}
    ids = [c.id for c in tr + ev]
    assert len(set(ids)) == 500 and all(i.startswith("case-") for i in ids)
    tr3, ev3 = ld.make_split(cases, 8, 300, 200)
    assert [c.source_index for c in ev3] != [c.source_index for c in ev]
    # The same source case gets a different id under another seed.
    id7 = {c.source_index: c.id for c in tr + ev}
    assert all(id7[c.source_index] != c.id for c in tr3 + ev3)


def test_split_sizes_checked(cases: list[ld.LawCase]) -> None:
    with pytest.raises(ValueError):
        ld.make_split(cases, 0, 400, 200)


def test_candidate_views_hide_gold(cases: list[ld.LawCase]) -> None:
    _, ev = ld.nominal_split(cases)
    assert set(ev[0].for_candidate()) == {"id", "facts"}
    assert set(ev[0].as_training_example()) == {"id", "facts", "charges"}


def test_canaries(cases: list[ld.LawCase]) -> None:
    _, ev = ld.nominal_split(cases)
    can = ld.canary_cases(1234, 20, ev)
    assert can == ld.canary_cases(1234, 20, ev)
    assert can != ld.canary_cases(1235, 20, ev)
    facts = {c.facts for c in cases}
    for c in can:
        assert c.is_canary and len(c.charges) == 1 and c.id.startswith("case-")
        assert c.facts not in facts and "卷宗编号：SIA-" in c.facts
        assert c.charges == cases[c.source_index].charges
    assert len({c.facts for c in can}) == 20
    mixed = ld.mix_canaries(ev, can, 1234)
    assert len(mixed) == 220 and sum(c.is_canary for c in mixed) == 20
