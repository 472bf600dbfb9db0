"""LawBench 3-3 data: loading with a verified cache, seeded splits with fresh ids, canary cases.

Data source: ``data/zero_shot/3-3.json`` of open-compass/LawBench (Apache-2.0), 500 CAIL2018 cases
``{instruction, question, answer}``. Resolution order for every file:

1. ``$SIA_LAWBENCH_DIR/<local name>`` when that setting is present (tests and CI point it at a
   read-only copy, so they run offline);
2. ``$SIA_CACHE_DIR/lawbench/<local name>`` (default ``~/.cache/sia_sandbox/lawbench``), downloaded
   from the public GitHub raw URL on first use.

Either way the file's sha256 must match the digest recorded here, so a tampered or truncated copy
is refused instead of silently changing every score.

What this module does **not** defend against: the 500 cases are public. A candidate can embed them
and look answers up. Fresh ids and shuffled order defeat lookups by id or position; canary cases
(perturbed facts, see :func:`canary_cases`) defeat exact-text lookups; a fuzzy nearest-neighbour
lookup against the public file is not detected here (see ``tasks/lawbench/task.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.errors import ConfigError
from verifiers.lawbench_metric import parse_answer

log = structlog.get_logger(__name__)

LAWBENCH_DIR_ENV = "SIA_LAWBENCH_DIR"
"""Setting: a folder holding ``3-3.json`` (and optionally the GPT-4 predictions); no download."""
CACHE_DIR_ENV = "SIA_CACHE_DIR"
"""Setting: root of the download cache; LawBench files go under ``<root>/lawbench``."""
DEFAULT_CACHE_ROOT = Path("~/.cache/sia_sandbox")

_RAW = "https://raw.githubusercontent.com/open-compass/LawBench/main"


class RemoteFile(BaseModel):
    """One public file this task reads: where to get it and what it must hash to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    local_name: str
    """File name inside ``$SIA_LAWBENCH_DIR`` or the cache folder."""
    url: str
    """Public download URL."""
    sha256: str
    """Hex digest the file must have (recorded from the reference copy)."""


CASES_FILE = RemoteFile(
    local_name="3-3.json",
    url=f"{_RAW}/data/zero_shot/3-3.json",
    sha256="64378a7d7c3548cbe336d989f50a1301ba531ef53fc97b4dd879fda7e6fec755",
)
GPT4_PREDICTIONS_FILE = RemoteFile(
    local_name="predictions_gpt4_zero_shot.json",
    url=f"{_RAW}/predictions/zero_shot/GPT4/3-3.json",
    sha256="2570ca7a2dbd897662a8f6d696547d32a029a7b17613e62ac2876b38e6dbd1d3",
)

FACTS_PREFIX = "事实:"
NOMINAL_SEED = 0
"""Public seed of the nominal split; scores on it may be shown to the loop."""
NOMINAL_N_TRAIN = 300
NOMINAL_N_EVAL = 200


class LawCase(BaseModel):
    """One charge-prediction case on the trusted side (holds the gold charges)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Case id as a candidate sees it: ``case-<12 hex>`` after a split, ``lawbench-<i>`` raw."""
    facts: str
    """Fact description (the text after ``事实:``)."""
    charges: tuple[str, ...]
    """Gold charge names (one or more)."""
    source_index: int
    """Index of the source case in ``3-3.json``; trusted-side provenance, never sent out."""
    is_canary: bool = False
    """True for a synthetic canary case built by :func:`canary_cases`."""

    def for_candidate(self) -> dict[str, str]:
        """The case as a candidate's ``predict`` receives it: id and facts only."""
        return {"id": self.id, "facts": self.facts}

    def as_training_example(self) -> dict[str, object]:
        """The case as a candidate's ``fit`` receives it: id, facts and gold charges."""
        return {"id": self.id, "facts": self.facts, "charges": list(self.charges)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_dir() -> Path:
    """Folder the LawBench files are downloaded into (``$SIA_CACHE_DIR/lawbench``)."""
    root = os.environ.get(CACHE_DIR_ENV)
    return (Path(root) if root else DEFAULT_CACHE_ROOT).expanduser() / "lawbench"


def _download(remote: RemoteFile, dest: Path, timeout_s: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout_s) as resp:  # noqa: S310 (fixed https URL)
            payload = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise ConfigError(
            f"could not download LawBench file {remote.local_name} from {remote.url}: {e}",
            hint=f"work online once, or set {LAWBENCH_DIR_ENV} to a folder holding {remote.local_name}",
        ) from e
    # Write then rename, so an interrupted download never leaves a partial file in the cache.
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
        tmp.write(payload)
    Path(tmp.name).replace(dest)
    log.info("lawbench_file.downloaded", file=remote.local_name, bytes=len(payload))


def resolve_file(remote: RemoteFile, *, timeout_s: float = 60.0) -> Path:
    """Path of a verified local copy of ``remote``, downloading it into the cache if needed.

    Raises:
        FileNotFoundError: ``$SIA_LAWBENCH_DIR`` is set but lacks the file.
        ConfigError: the download failed (offline), or the file's sha256 does not match.
    """
    local_dir = os.environ.get(LAWBENCH_DIR_ENV)
    if local_dir:
        path = Path(local_dir).expanduser() / remote.local_name
        if not path.is_file():
            raise FileNotFoundError(
                f"{LAWBENCH_DIR_ENV}={local_dir} has no {remote.local_name} "
                f"(public source: {remote.url}); unset the setting to download it"
            )
    else:
        path = cache_dir() / remote.local_name
        if not path.is_file():
            _download(remote, path, timeout_s)
    digest = _sha256(path)
    if digest != remote.sha256:
        raise ConfigError(
            f"LawBench file {path} has sha256 {digest}, expected {remote.sha256}",
            hint=f"delete it and download {remote.url} again, or fix {LAWBENCH_DIR_ENV}",
        )
    return path


def parse_cases(raw: Sequence[dict[str, str]]) -> list[LawCase]:
    """Cases from the 3-3 JSON records, ids ``lawbench-<index>``.

    Raises:
        ValueError: a record lacks the ``事实:`` facts prefix or the ``罪名:`` answer prefix.
    """
    cases = []
    for i, rec in enumerate(raw):
        question = rec["question"]
        if not question.startswith(FACTS_PREFIX):
            raise ValueError(f"LawBench 3-3 record {i}: question does not start with {FACTS_PREFIX!r}")
        cases.append(
            LawCase(
                id=f"lawbench-{i}",
                facts=question[len(FACTS_PREFIX) :].strip(),
                charges=tuple(parse_answer(rec["answer"])),
                source_index=i,
            )
        )
    return cases


def load_cases() -> list[LawCase]:
    """All 500 LawBench 3-3 cases, in file order.

    Raises:
        FileNotFoundError, ConfigError: see :func:`resolve_file`.
    """
    path = resolve_file(CASES_FILE)
    return parse_cases(json.loads(path.read_text(encoding="utf-8")))


def load_gpt4_predictions() -> list[str]:
    """GPT-4's published zero-shot free-text answers, aligned with :func:`load_cases`.

    Raises:
        FileNotFoundError, ConfigError: see :func:`resolve_file`.
    """
    raw = json.loads(resolve_file(GPT4_PREDICTIONS_FILE).read_text(encoding="utf-8"))
    return [raw[str(i)]["prediction"] for i in range(len(raw))]


def case_id(seed: int, source_index: int, salt: str = "case") -> str:
    """Opaque per-split id: without the seed it reveals nothing about the source case."""
    digest = hashlib.sha256(f"sia-lawbench:{salt}:{seed}:{source_index}".encode()).hexdigest()
    return f"case-{digest[:12]}"


def make_split(
    cases: Sequence[LawCase], seed: int, n_train: int, n_eval: int
) -> tuple[list[LawCase], list[LawCase]]:
    """Disjoint train and eval subsets drawn by ``seed``, shuffled, with fresh ``case-<hash>`` ids.

    Raises:
        ValueError: ``n_train + n_eval`` exceeds the number of cases, or a size is not positive.
    """
    if n_train <= 0 or n_eval <= 0 or n_train + n_eval > len(cases):
        raise ValueError(f"cannot draw {n_train} train + {n_eval} eval cases from {len(cases)}")
    order = list(range(len(cases)))
    random.Random(seed).shuffle(order)

    def renamed(i: int) -> LawCase:
        c = cases[i]
        return c.model_copy(update={"id": case_id(seed, c.source_index)})

    return [renamed(i) for i in order[:n_train]], [renamed(i) for i in order[n_train : n_train + n_eval]]


def nominal_split(cases: Sequence[LawCase]) -> tuple[list[LawCase], list[LawCase]]:
    """The public nominal split: seed 0, 300 train / 200 eval."""
    return make_split(cases, NOMINAL_SEED, NOMINAL_N_TRAIN, NOMINAL_N_EVAL)


# Common surnames: a canary renames every "<surname>某" person consistently, so the facts stop being
# byte-identical to the public file while the legal content (what happened) is unchanged.
_SURNAMES = (
    "李王张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_NAME_RE = re.compile(f"([{_SURNAMES}])某")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_MONEY_UNITS = ("元", "万", "余元", "多元", "余万", "多万")


def _perturb_facts(facts: str, rng: random.Random, marker: str) -> str:
    """Facts with persons renamed, years shifted, amounts jittered and a marker sentence inserted."""
    mapping: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        old = m.group(1)
        if old not in mapping:
            mapping[old] = rng.choice([s for s in _SURNAMES if s != old])
        return mapping[old] + "某"

    year_shift = rng.choice([-2, -1, 1, 2])

    def renumber(m: re.Match[str]) -> str:
        number, after = m.group(0), facts[m.end() : m.end() + 2]
        if after.startswith("年") and re.fullmatch(r"(19|20)\d\d", number):
            return str(int(number) + year_shift)
        if not after.startswith(_MONEY_UNITS):
            return number  # ages, statute numbers, counts and units keep their legal meaning
        # +-10% keeps an amount on the same side of most statutory thresholds in practice.
        decimals = len(number.split(".")[1]) if "." in number else 0
        value = max(1.0, float(number) * rng.uniform(0.9, 1.1))
        return f"{value:.{decimals}f}"

    text = _NUMBER_RE.sub(renumber, facts)
    text = _NAME_RE.sub(rename, text)
    sentences = text.split("。")
    at = rng.randrange(len(sentences))
    sentences.insert(at, f"（卷宗编号：{marker}）")
    return "。".join(sentences)


def canary_cases(seed: int, k: int, cases: Sequence[LawCase] | None = None) -> list[LawCase]:
    """``k`` canary cases whose gold charge is chosen by ``seed``.

    Each canary picks a charge uniformly among the single-charge cases of ``cases`` (by default all
    500), then a source case with that charge, and perturbs its facts (renamed persons, shifted years,
    jittered amounts, an inserted ``卷宗编号`` marker unique to the canary). An honest classifier
    answers as for the source case; a candidate keyed on ids, positions or exact fact text does not.
    The marker lets an auditor trace canary text in model-gateway logs.

    Raises:
        ValueError: ``k`` is not positive or ``cases`` has no single-charge case.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    pool = list(cases) if cases is not None else load_cases()
    by_charge: dict[str, list[LawCase]] = {}
    for c in pool:
        if len(c.charges) == 1:
            by_charge.setdefault(c.charges[0], []).append(c)
    if not by_charge:
        raise ValueError("no single-charge case to build canaries from")
    rng = random.Random(f"sia-lawbench-canary:{seed}")
    charges = sorted(by_charge)
    out = []
    for j in range(k):
        source = rng.choice(by_charge[rng.choice(charges)])
        marker = f"SIA-{rng.getrandbits(48):012X}"
        out.append(
            LawCase(
                id=case_id(seed, j, salt="canary"),
                facts=_perturb_facts(source.facts, rng, marker),
                charges=source.charges,
                source_index=source.source_index,
                is_canary=True,
            )
        )
    return out


def mix_canaries(eval_cases: Sequence[LawCase], canaries: Sequence[LawCase], seed: int) -> list[LawCase]:
    """Eval cases and canaries in one seeded shuffle, so position does not reveal a canary."""
    mixed = [*eval_cases, *canaries]
    random.Random(f"sia-lawbench-mix:{seed}").shuffle(mixed)
    return mixed
