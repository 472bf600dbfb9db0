"""The one way verifiers run untrusted candidate code: a fresh sandbox per suite.

Layout of a suite's sandbox (everything else of the host is invisible):

    /sia/code/<file>         read-only: the candidate file and the runner script
    /sia/data/               read-only: inputs this suite's runner may read (never gold)
    /sia/out/                read-write: the only writable place; outputs land here

Outputs are read back defensively: regular files only (no symlinks), size caps, npy without pickle,
JSON of plain types only. A candidate that crashes, hangs or writes garbage produces failed
``Check``s, never an exception; exceptions are reserved for failures of our own infrastructure.

Not protected against: a candidate that is correct but slow on purpose (that is a score, not a
threat), and side channels of the host (timing of other tenants).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import structlog
from pydantic import BaseModel, ConfigDict

from sia_sandbox.sandbox.runner import run_sandbox
from sia_sandbox.sandbox.types import Limits, Mount, SandboxResult, SandboxSpec
from sia_sandbox.verify.types import Check

log = structlog.get_logger(__name__)

CODE_DIR = PurePosixPath("/sia/code")
DATA_DIR = PurePosixPath("/sia/data")
OUT_DIR = PurePosixPath("/sia/out")
IO_DIR = PurePosixPath("/sia/io")
MAX_JSON_BYTES = 16 << 20
"""Largest JSON output a verifier parses."""
MAX_NPY_BYTES = 512 << 20
"""Largest npy output a verifier parses."""
_RUNNER_DIR = Path(__file__).resolve().parent


class OutputError(ValueError):
    """An output file is missing, too big, of the wrong kind or malformed (a candidate failure)."""


class SuiteDirs(BaseModel):
    """Host directories of one suite's sandbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    code: Path
    data: Path
    out: Path
    evidence: Path
    """Where this suite's evidence (sandbox result) is kept after the stage dir is removed."""

    @classmethod
    def create(cls, root: Path, candidate: Path, runner: str, candidate_name: str,
               evidence: Path | None = None) -> "SuiteDirs":
        """Make fresh dirs under ``root`` and copy the candidate and runner in.

        Raises:
            FileNotFoundError: the candidate or runner does not exist.
        """
        if root.exists():
            shutil.rmtree(root)
        code, data, out = root / "code", root / "data", root / "out"
        for d in (code, data, out):
            d.mkdir(parents=True)
        shutil.copyfile(candidate, code / candidate_name)
        shutil.copyfile(_RUNNER_DIR / runner, code / runner)
        # The sandbox user is not our uid; it must be able to read code/data and write out.
        for d in (root, code, data):
            d.chmod(0o755)
        out.chmod(0o777)
        for f in code.iterdir():
            f.chmod(0o644)
        return cls(root=root, code=code, data=data, out=out, evidence=evidence or root)

    def mounts(self) -> tuple[list[Mount], list[Mount]]:
        """(ro mounts, rw mounts) of this suite."""
        ro = [Mount(host=self.code, sandbox=CODE_DIR), Mount(host=self.data, sandbox=DATA_DIR)]
        return ro, [Mount(host=self.out, sandbox=OUT_DIR)]


def make_spec(dirs: SuiteDirs, argv: list[str], limits: Limits, *, gpu: bool = False, writable_out: bool = True,
              extra_ro: list[Mount] | None = None, labels: dict[str, str] | None = None,
              image: str | None = None) -> SandboxSpec:
    """A spec that runs ``python <argv>`` with only this suite's dirs mounted and no network.

    ``writable_out=False`` mounts nothing writable at all (kernel tasks answer over FIFOs), so a
    forged result file has nowhere to go but the sandbox's private, discarded /tmp.
    """
    ro, rw = dirs.mounts()
    if not writable_out:
        rw = []
    env = {"PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": str(max(1, int(limits.cpus))),
           "PYTHONHASHSEED": "0"}
    return SandboxSpec(
        command=["python", "-s", "-B", *argv], ro_mounts=ro + (extra_ro or []), rw_mounts=rw,
        env=env, workdir=PurePosixPath("/tmp"), limits=limits, network="none", seccomp=True,
        gpu=gpu, image=image, labels=labels or {},
    )


def run_spec(spec: SandboxSpec, *, backend: str, audit: Any | None, evidence_dir: Path) -> tuple[
        SandboxResult, float]:
    """Run one sandbox, save its result next to the suite dirs, return (result, wall seconds).

    Raises:
        SandboxError / SandboxSpecError / BackendUnavailableError: infrastructure failures.
    """
    t0 = time.perf_counter()
    result = run_sandbox(spec, backend=backend, audit=audit)
    wall = time.perf_counter() - t0
    (evidence_dir / "sandbox_result.json").write_text(result.model_dump_json(indent=1))
    return result, wall


def sandbox_check(name: str, result: SandboxResult) -> Check:
    """A check that the sandbox run ended normally, with the tail of stderr when it did not."""
    ok = result.reason == "ok"
    tail = result.stderr[-600:].strip().replace("\n", " | ")
    detail = f"reason={result.reason} exit={result.exit_code} wall={result.wall_s:.2f}s"
    if not ok:
        detail += f" stderr_tail={tail!r} {result.detail}".rstrip()
    return Check(name=name, passed=ok, detail=detail)


def _open_regular(path: Path, max_bytes: int) -> bytes:
    """Read a regular file (not following symlinks) of at most ``max_bytes``.

    Raises:
        OutputError: missing, not a regular file, or too large.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError as e:
        raise OutputError(f"{path.name} is missing") from e
    except OSError as e:
        raise OutputError(f"{path.name} cannot be opened: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{path.name} is not a regular file")
        if st.st_size > max_bytes:
            raise OutputError(f"{path.name} is {st.st_size} bytes, over the {max_bytes} cap")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OutputError(f"{path.name} grew over the {max_bytes} cap while being read")
    return data


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON output of plain types.

    Raises:
        OutputError: unreadable, too large, or not JSON.
    """
    raw = _open_regular(path, max_bytes)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise OutputError(f"{path.name} is not valid JSON: {e}") from e


def read_npy(path: Path, *, shape: tuple[int, ...] | None = None, max_bytes: int = MAX_NPY_BYTES,
             kinds: str = "fiu") -> np.ndarray:
    """Load a numeric ``.npy`` output without pickle, checking dtype kind and shape.

    Raises:
        OutputError: unreadable, too large, pickled/object dtype, wrong kind or shape.
    """
    import io

    raw = _open_regular(path, max_bytes)
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise OutputError(f"{path.name} is not a valid npy array: {e}") from e
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds or arr.dtype.hasobject:
        raise OutputError(f"{path.name} has dtype {getattr(arr, 'dtype', type(arr))}, expected numeric")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise OutputError(f"{path.name} has shape {tuple(arr.shape)}, expected {tuple(shape)}")
    return arr


def write_npy(path: Path, arr: np.ndarray) -> None:
    """Write an input array for the sandbox (never pickled)."""
    np.save(path, np.ascontiguousarray(arr), allow_pickle=False)
    path.chmod(0o644)


def write_json(path: Path, obj: Any) -> None:
    """Write a JSON input for the sandbox."""
    path.write_text(json.dumps(obj, ensure_ascii=False))
    path.chmod(0o644)


def unexpected_outputs(out: Path, allowed: set[str]) -> list[str]:
    """Names the candidate left in its output dir that the runner never writes (forged results)."""
    found = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if rel not in allowed:
            found.append(rel)
    return found[:20]


class CallSuiteOutcome(BaseModel):
    """What one run of ``runner_call.py`` produced."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    checks: list[Check]
    """``sandbox`` (the run ended normally) and, on success, ``outputs.present``."""
    outputs: dict[str, Any]
    """Parsed outputs by name (JSON value or ndarray); only those that parsed."""
    wall_s: float
    """Wall seconds of the sandbox run."""


def run_call_suite(ctx: Any, suite: str, *, inputs: dict[str, Any], calls: list[dict[str, Any]],
                   outputs: dict[str, dict[str, Any]], limits: Limits) -> CallSuiteOutcome:
    """Run ``runner_call.py`` on the candidate in a fresh sandbox and parse its outputs defensively.

    Args:
        ctx: the ``VerifyContext``.
        suite: suite name (directory and check-name prefix).
        inputs: file name -> JSON-able value (``.json``) or ndarray (``.npy``); never gold.
        calls: the runner's call plan (see ``runner_call.py``).
        outputs: output name -> ``{"kind": "json"|"npy", "shape": tuple|None}``.
        limits: sandbox limits.

    Raises:
        SandboxError and friends: infrastructure failures (a backend that cannot start a sandbox).
    """
    from sia_sandbox.errors import SandboxError

    dirs = ctx.suite_dirs(suite, "runner_call.py")
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            write_npy(dirs.data / name, value)
        else:
            write_json(dirs.data / name, value)
    write_json(dirs.data / "calls.json", {"module": str(CODE_DIR / ctx.task.spec.interface.file),
                                          "calls": calls})
    spec = make_spec(dirs, [str(CODE_DIR / "runner_call.py")], limits,
                     labels={"task": ctx.task.name, "suite": suite, "candidate_id": ctx.candidate_id})
    result, wall = run_spec(spec, backend=ctx.backend, audit=ctx.audit, evidence_dir=dirs.evidence)
    if result.reason == "error":
        raise SandboxError(f"sandbox backend {ctx.backend!r} could not start the {suite} suite: "
                           f"{result.stderr[-300:].strip() or result.detail}",
                           hint=f"see {dirs.evidence / 'sandbox_result.json'}; run `sia doctor`")
    checks = [sandbox_check(f"{suite}.sandbox", result)]
    parsed: dict[str, Any] = {}
    if result.reason == "ok":
        problems = []
        for name, want in outputs.items():
            try:
                if want["kind"] == "json":
                    parsed[name] = read_json(dirs.out / f"{name}.json")
                else:
                    parsed[name] = read_npy(dirs.out / f"{name}.npy", shape=want.get("shape"))
            except OutputError as e:
                problems.append(str(e))
        checks.append(Check(name=f"{suite}.outputs.valid", passed=not problems,
                            detail="; ".join(problems) or f"{len(parsed)} outputs parsed"))
        extra = unexpected_outputs(dirs.out, {f"{n}.{o['kind']}" for n, o in outputs.items()})
        checks.append(Check(name=f"{suite}.no_unexpected_outputs", passed=not extra, severity="suspicious",
                            detail=("unexpected files: " + ", ".join(extra)) if extra else "none"))
    shutil.rmtree(dirs.root, ignore_errors=True)
    return CallSuiteOutcome(checks=checks, outputs=parsed, wall_s=wall)
