"""SQLite store of runs, sandbox runs, model calls and signed verdicts; the only source of training data.

Every model call a scaffold makes through the gateway lands in ``model_calls`` against its sandbox run.
A verifier's verdict lands in ``verdicts`` as canonical JSON plus its sha256 and HMAC signature.
``verified_rollouts`` joins the two and returns a call only when its candidate's verdict is
``verified`` AND the signature verifies under the verdict key AND the stored hash matches, so a
scaffold (or anyone) that edits the database cannot turn its own calls into training data.

Durability: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives a process crash;
a power loss may drop the last few), one transaction per write. Re-opening a store resumes it.

What this does NOT protect against: deletion of rows (a missing verified rollout is not detected here;
the audit log records what was written), or a reader holding the verdict key being compromised.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Self

import structlog
from pydantic import BaseModel, ConfigDict, Field

from sia_sandbox.errors import ConfigError
from sia_sandbox.signing import canonical_json, sha256_json, verify_json

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
"""Stored as ``PRAGMA user_version``; a newer file is refused, never silently downgraded."""
BUSY_TIMEOUT_MS = 30_000

VerdictLabel = Literal["verified", "rejected", "suspicious"]
SandboxRole = Literal["scaffold", "verify"]
VERDICT_LABELS: tuple[str, ...] = ("verified", "rejected", "suspicious")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    config_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sandbox_runs (
    sandbox_run_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    gen_index INTEGER NOT NULL,
    candidate_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('scaffold', 'verify')),
    result_json TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sandbox_runs_candidate ON sandbox_runs (run_id, candidate_id);
CREATE TABLE IF NOT EXISTS model_calls (
    call_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    sandbox_run_id TEXT,
    model TEXT NOT NULL,
    adapter_version TEXT,
    messages_json TEXT NOT NULL,
    prompt TEXT NOT NULL,
    completion TEXT NOT NULL,
    prompt_token_ids_json TEXT NOT NULL,
    completion_token_ids_json TEXT NOT NULL,
    token_logprobs_json TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS model_calls_run ON model_calls (run_id);
CREATE INDEX IF NOT EXISTS model_calls_sandbox ON model_calls (sandbox_run_id);
CREATE TABLE IF NOT EXISTS verdicts (
    verdict_row INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    verdict_json TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_candidate ON verdicts (run_id, candidate_id);
"""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelCall(_Frozen):
    """One model call made through the gateway, as recorded."""

    call_id: str
    """Unique id (uuid hex); doubles as the rollout id."""
    run_id: str
    sandbox_run_id: str | None
    """The sandbox run whose session socket carried the call; None = the platform's own socket."""
    model: str
    """Model name as served by the backend."""
    adapter_version: str | None = None
    """LoRA adapter version served (``adapters/<NNNN>`` name); None = base weights or a remote model."""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    """Chat messages as received (empty for a plain completion)."""
    prompt: str
    """Prompt text after the chat template (what the model conditioned on)."""
    completion: str
    prompt_token_ids: list[int] = Field(default_factory=list)
    completion_token_ids: list[int] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    """Per-token log-probabilities of ``completion_token_ids`` (empty where the backend has none)."""
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    latency_s: float = Field(ge=0)
    created_at: float
    """Unix time the call finished."""


class Usage(_Frozen):
    """Totals of a run's recorded model calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Rollout(_Frozen):
    """One model call of a candidate that carries a verified, correctly signed verdict."""

    rollout_id: str
    """= ``ModelCall.call_id``."""
    run_id: str
    candidate_id: str
    gen_index: int
    group_id: str
    """sha256 of ``prompt``: completions of the same prompt share it (the group in GRPO)."""
    prompt: str
    completion: str
    prompt_token_ids: list[int] = Field(default_factory=list)
    completion_token_ids: list[int] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    """Behaviour-policy log-probs as the gateway recorded them (empty for remote models without them)."""
    reward: float
    """= the verdict's ``score``."""
    verdict_sha256: str
    """Binds this rollout to the exact verdict JSON it was trained under."""
    verdict: VerdictLabel
    """Always ``verified`` here; kept so a consumer can assert it."""
    model: str
    adapter_version: str | None = None
    sandbox_run_id: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)


class RefusedRollout(_Frozen):
    """A model call of the run that ``verified_rollouts`` did not return, and why."""

    rollout_id: str
    run_id: str
    candidate_id: str
    reason: str


class _Row(_Frozen):
    """A joined model-call row (internal)."""

    call: ModelCall
    candidate_id: str
    gen_index: int


class RolloutStore:
    """Thread-safe handle on one rollouts database (one connection, one lock; WAL for other processes).

    Args:
        path: SQLite file; created (with its parent directory) if missing.

    Raises:
        ConfigError: the file is not a rollouts database or was written by a newer schema.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
            )
            self._init_schema()
        except sqlite3.DatabaseError as e:
            raise ConfigError(
                f"cannot open rollouts database {self.path}: {e}", hint="is it a rollouts.db file?"
            ) from e
        log.debug("rollouts.opened", path=str(self.path))

    def _init_schema(self) -> None:
        db = self._conn()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"rollouts database {self.path} has schema {version}, this sia_sandbox knows {SCHEMA_VERSION}",
                hint="upgrade sia_sandbox",
            )
        with self._tx() as c:
            c.executescript("BEGIN;" + _SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;")

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ConfigError(f"rollouts store {self.path} is closed")
        return self._db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._tx() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(sql, params)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._tx() as c:
            return c.execute(sql, params).fetchall()

    # ----------------------------------------------------------------- writes

    def record_run(self, run_id: str, task: str, config: dict[str, Any]) -> None:
        """Record a run (idempotent: re-recording an existing run keeps the first record).

        Raises:
            ValueError: ``config`` is not JSON-serialisable.
        """
        self._write(
            "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?)",
            (run_id, task, canonical_json(config).decode("utf-8"), time.time()),
        )

    def record_sandbox_run(
        self,
        sandbox_run_id: str,
        run_id: str,
        gen_index: int,
        candidate_id: str,
        role: SandboxRole,
        result: dict[str, Any] | None = None,
    ) -> None:
        """Record a sandbox run; calling again with the same identity updates ``result`` (upsert).

        Record it before opening its gateway session, and again with its result when it ends.

        Raises:
            ConfigError: the id is already recorded with a different run/generation/candidate/role.
            ValueError: ``role`` is unknown or ``result`` is not JSON-serialisable.
        """
        if role not in ("scaffold", "verify"):
            raise ValueError(f"sandbox run role {role!r} is not 'scaffold' or 'verify'")
        result_json = None if result is None else canonical_json(result).decode("utf-8")
        with self._tx() as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute(
                    "SELECT run_id, gen_index, candidate_id, role FROM sandbox_runs WHERE sandbox_run_id=?",
                    (sandbox_run_id,),
                ).fetchone()
                if row is None:
                    c.execute(
                        "INSERT INTO sandbox_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (sandbox_run_id, run_id, gen_index, candidate_id, role, result_json, time.time()),
                    )
                elif tuple(row) != (run_id, gen_index, candidate_id, role):
                    raise ConfigError(
                        f"sandbox run {sandbox_run_id} is already recorded as {tuple(row)}, "
                        f"not {(run_id, gen_index, candidate_id, role)}",
                        hint="use a fresh sandbox_run_id for every sandbox run",
                    )
                elif result_json is not None:
                    c.execute(
                        "UPDATE sandbox_runs SET result_json=? WHERE sandbox_run_id=?",
                        (result_json, sandbox_run_id),
                    )
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def sandbox_run(self, sandbox_run_id: str) -> dict[str, Any] | None:
        """The recorded identity of a sandbox run (``run_id, gen_index, candidate_id, role``), or None."""
        rows = self._query(
            "SELECT run_id, gen_index, candidate_id, role FROM sandbox_runs WHERE sandbox_run_id=?",
            (sandbox_run_id,),
        )
        if not rows:
            return None
        run_id, gen_index, candidate_id, role = rows[0]
        return {"run_id": run_id, "gen_index": gen_index, "candidate_id": candidate_id, "role": role}

    def record_model_call(self, call: ModelCall) -> None:
        """Append one model call.

        Raises:
            sqlite3.IntegrityError: a call with this ``call_id`` already exists.
        """
        self._write(
            "INSERT INTO model_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call.call_id, call.run_id, call.sandbox_run_id, call.model, call.adapter_version,
                json.dumps(call.messages, ensure_ascii=False), call.prompt, call.completion,
                json.dumps(call.prompt_token_ids), json.dumps(call.completion_token_ids),
                json.dumps(call.token_logprobs), call.prompt_tokens, call.completion_tokens,
                call.latency_s, call.created_at,
            ),
        )

    def record_verdict(self, run_id: str, candidate_id: str, verdict: dict[str, Any], signature: str) -> str:
        """Store a signed verdict as canonical JSON + sha256 + signature; the latest per candidate counts.

        The signature is not checked here (the store does not hold the key); ``verified_rollouts``
        checks it on every read. Put ``run_id`` and ``candidate_id`` inside the signed verdict to bind
        it to this candidate: a verdict whose own ids disagree with the row is refused on read.

        Returns:
            The verdict's sha256.

        Raises:
            ValueError: ``verdict`` lacks ``verdict`` in {verified, rejected, suspicious}, or a finite
                numeric ``score`` (None is allowed unless verified), or is not JSON-serialisable.
        """
        label = verdict.get("verdict")
        if label not in VERDICT_LABELS:
            raise ValueError(f"verdict field 'verdict' is {label!r}, not one of {', '.join(VERDICT_LABELS)}")
        score = verdict.get("score")
        # A rejected candidate has no score; it is stored (the record stays complete) but can never
        # train, because verified_rollouts re-checks the label and the score on read.
        missing_ok = score is None and label != "verified"
        if not missing_ok and (isinstance(score, bool) or not isinstance(score, (int, float))
                               or not math.isfinite(score)):
            raise ValueError(f"verdict field 'score' is {score!r}, not a finite number")
        text = canonical_json(verdict).decode("utf-8")
        digest = sha256_json(verdict)
        self._write(
            "INSERT INTO verdicts (run_id, candidate_id, verdict_json, sha256, signature, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, candidate_id, text, digest, signature, time.time()),
        )
        log.info("verdict.recorded", run_id=run_id, candidate_id=candidate_id, verdict=label, sha256=digest)
        return digest

    # ----------------------------------------------------------------- reads

    def usage(self, run_id: str) -> Usage:
        """Calls and tokens recorded for ``run_id``."""
        (calls, p, c), = self._query(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)"
            " FROM model_calls WHERE run_id=?",
            (run_id,),
        )
        return Usage(calls=calls, prompt_tokens=p, completion_tokens=c)

    def model_calls(self, sandbox_run_id: str | None) -> list[ModelCall]:
        """Calls recorded on one sandbox run's session (``None`` = the platform's own socket), in order."""
        where = "sandbox_run_id IS NULL" if sandbox_run_id is None else "sandbox_run_id=?"
        params: tuple[Any, ...] = () if sandbox_run_id is None else (sandbox_run_id,)
        rows = self._query(f"SELECT * FROM model_calls WHERE {where} ORDER BY created_at, rowid", params)
        return [_call_from_row(r) for r in rows]

    def run_model_calls(self, run_id: str) -> list[ModelCall]:
        """Every call recorded for ``run_id``, in order."""
        rows = self._query("SELECT * FROM model_calls WHERE run_id=? ORDER BY created_at, rowid", (run_id,))
        return [_call_from_row(r) for r in rows]

    def _scaffold_calls(self, run_id: str) -> list[_Row]:
        rows = self._query(
            "SELECT m.*, s.candidate_id, s.gen_index FROM model_calls m"
            " JOIN sandbox_runs s ON s.sandbox_run_id = m.sandbox_run_id"
            " WHERE s.run_id=? AND m.run_id=? AND s.role='scaffold' ORDER BY m.created_at, m.rowid",
            (run_id, run_id),
        )
        return [_Row(call=_call_from_row(r[:15]), candidate_id=r[15], gen_index=r[16]) for r in rows]

    def _latest_verdicts(self, run_id: str) -> dict[str, tuple[str, str, str]]:
        rows = self._query(
            "SELECT candidate_id, verdict_json, sha256, signature FROM verdicts WHERE run_id=?"
            " ORDER BY verdict_row",
            (run_id,),
        )
        return {cand: (text, digest, sig) for cand, text, digest, sig in rows}

    def _judge(self, run_id: str, key: bytes) -> tuple[list[Rollout], list[RefusedRollout]]:
        verdicts = self._latest_verdicts(run_id)
        checked: dict[str, tuple[dict[str, Any] | None, str]] = {}
        good: list[Rollout] = []
        bad: list[RefusedRollout] = []
        for row in self._scaffold_calls(run_id):
            cand = row.candidate_id
            if cand not in checked:
                checked[cand] = _check_verdict(run_id, cand, verdicts.get(cand), key)
            verdict, reason = checked[cand]
            if verdict is None:
                bad.append(RefusedRollout(rollout_id=row.call.call_id, run_id=run_id, candidate_id=cand,
                                          reason=reason))
                continue
            good.append(_rollout(row, verdict, verdicts[cand][1]))
        return good, bad

    def verified_rollouts(self, run_id: str, *, key: bytes) -> list[Rollout]:
        """Model calls of ``run_id``'s scaffold sandbox runs whose candidate carries a valid ``verified`` verdict.

        A call is returned only if its candidate's latest verdict says ``verified``, its stored sha256
        equals the hash of the stored JSON, and its HMAC verifies under ``key``. Every other call is
        left out and logged as ``rollout.refused`` with the reason (see ``refused_rollouts``).

        Args:
            run_id: the run.
            key: the verdict signing key (``signing.load_or_create_key``).
        """
        good, bad = self._judge(run_id, key)
        for r in bad:
            log.warning("rollout.refused", run_id=run_id, candidate_id=r.candidate_id,
                        rollout_id=r.rollout_id, reason=r.reason)
        return good

    def refused_rollouts(self, run_id: str, key: bytes) -> list[RefusedRollout]:
        """The calls ``verified_rollouts`` leaves out, each with the reason."""
        return self._judge(run_id, key)[1]

    def close(self) -> None:
        """Close the connection (idempotent); committed data is already on disk."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call_from_row(r: tuple[Any, ...]) -> ModelCall:
    return ModelCall(
        call_id=r[0], run_id=r[1], sandbox_run_id=r[2], model=r[3], adapter_version=r[4],
        messages=json.loads(r[5]), prompt=r[6], completion=r[7], prompt_token_ids=json.loads(r[8]),
        completion_token_ids=json.loads(r[9]), token_logprobs=json.loads(r[10]), prompt_tokens=r[11],
        completion_tokens=r[12], latency_s=r[13], created_at=r[14],
    )


def _check_verdict(
    run_id: str, candidate_id: str, stored: tuple[str, str, str] | None, key: bytes
) -> tuple[dict[str, Any] | None, str]:
    """(verdict, "") when trainable, else (None, reason). Order: integrity first, then content."""
    if stored is None:
        return None, "no verdict recorded for the candidate"
    text, digest, signature = stored
    try:
        verdict = json.loads(text)
    except json.JSONDecodeError:
        return None, "stored verdict is not valid JSON"
    if not isinstance(verdict, dict):
        return None, "stored verdict is not a JSON object"
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
        return None, "stored sha256 does not match the stored verdict JSON"
    try:
        if canonical_json(verdict).decode("utf-8") != text:
            return None, "stored verdict JSON is not canonical"
    except (TypeError, ValueError):
        return None, "stored verdict JSON cannot be canonicalised"
    if not verify_json(verdict, signature, key):
        return None, "verdict signature does not verify with the verdict key"
    for field, expected in (("run_id", run_id), ("candidate_id", candidate_id)):
        if field in verdict and verdict[field] != expected:
            return None, f"signed verdict is for {field}={verdict[field]!r}, not {expected!r}"
    if verdict.get("verdict") != "verified":
        return None, f"verdict is {verdict.get('verdict')!r}, not 'verified'"
    score = verdict.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        return None, f"verdict score {score!r} is not a finite number"
    return verdict, ""


def _rollout(row: _Row, verdict: dict[str, Any], digest: str) -> Rollout:
    c = row.call
    return Rollout(
        rollout_id=c.call_id, run_id=c.run_id, candidate_id=row.candidate_id, gen_index=row.gen_index,
        group_id=hashlib.sha256(c.prompt.encode("utf-8")).hexdigest(), prompt=c.prompt,
        completion=c.completion, prompt_token_ids=c.prompt_token_ids,
        completion_token_ids=c.completion_token_ids, token_logprobs=c.token_logprobs,
        reward=float(verdict["score"]), verdict_sha256=digest, verdict="verified", model=c.model,
        adapter_version=c.adapter_version, sandbox_run_id=c.sandbox_run_id, messages=c.messages,
    )
