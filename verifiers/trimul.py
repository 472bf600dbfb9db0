"""Hardened TriMul verifier: re-execution with secret inputs, outside timing, every output checked.

Defences (each has an attack test in ``tests/attacks/test_reward_hacking_trimul.py``):

* Inputs come from seeds (public for nominal, ``secrets.randbits`` for perturbed) and a *fresh* input
  for every call, written into the sandbox only after the verifier's clock started: no caching by
  address/shape, no warm-up replay, no precomputation of inputs seen early.
* The expected outputs are computed here, outside the sandbox, on the verifier's own copy of each
  input (the candidate gets a copy, so mutating inputs changes nothing): they never exist inside.
* Time is the verifier's ``perf_counter_ns`` round trip minus a no-op round trip calibrated before
  the candidate is imported; patching timers inside the sandbox changes nothing.
* The output is the snapshot of the shared buffer taken when ``done`` arrives; later writes
  (threads, side streams, lazy tensors) are not in it. NaN never matches; the runner returns raw
  float32 bytes, so tensor subclasses have nothing to hook.
* A time below the roofline floor (FLOPs / generous peak, bytes / generous bandwidth) is clamped
  to the floor and flagged ``suspicious``.
* Perturbed suite: secret seeds, heavy-tailed inputs (Cauchy, Student-t, log-normal scale), random
  masks on/off. Any wrong output in any suite rejects the candidate.

Score = 1500 / geometric-mean microseconds over the benchmark shapes (the SIA paper's reward).
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kernels.trimul import reference as ref
from sia_sandbox.verify.base import SuiteName, Verifier, VerifyContext, register_verifier
from sia_sandbox.verify.kernel_session import KernelSession
from sia_sandbox.verify.types import Check, SuiteResult

SCORE_NUMERATOR = 1500.0
PERTURBED_DISTRIBUTIONS = ("normal", "cauchy", "student_t", "lognormal_scale")
# Generous peaks: a real kernel never beats them, so a time under the floor is not physics.
PEAK_FLOPS = {"cpu": 5e12, "cuda": 2.0e15}
PEAK_BYTES_S = {"cpu": 1e12, "cuda": 1.0e13}


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from a base seed and indices (sha256, so neighbouring seeds are unrelated)."""
    h = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def shape_key(s: dict[str, Any]) -> str:
    return f"bs={s['bs']},n={s['seqlen']},dim={s['dim']},hid={s['hiddendim']}"


def roofline_floor_us(s: dict[str, Any], device: str) -> float:
    """Physical lower bound on one call's time, in microseconds."""
    bs, n, d, h = s["bs"], s["seqlen"], s["dim"], s["hiddendim"]
    flops = bs * n * n * (2 * d * h * 5 + 2 * h * d) + bs * 2 * n ** 3 * h
    bytes_moved = 4 * bs * n * n * (2 * d + 1)
    return 1e6 * max(flops / PEAK_FLOPS[device], bytes_moved / PEAK_BYTES_S[device])


def make_input(s: dict[str, Any], seed: int, nomask: bool, distribution: str, device: str) -> ref.TriMulInput:
    """A TriMul input; ``student_t``/``lognormal_scale`` replace ``x`` with seeded heavy-tailed draws."""
    base = distribution if distribution in ref.DISTRIBUTIONS else "normal"
    x, mask, w, cfg = ref.generate_input(s["seqlen"], s["bs"], s["dim"], s["hiddendim"], seed, nomask, base,
                                         device)
    if distribution in ("student_t", "lognormal_scale"):
        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(seed, distribution))
        z = torch.randn(x.shape, generator=g, device=device)
        if distribution == "student_t":  # df = 3: z / sqrt(chi2_3 / 3)
            chi2 = (torch.randn((3, *x.shape), generator=g, device=device) ** 2).sum(0)
            x = z / torch.sqrt(chi2 / 3).clamp_min(1e-6)
        else:  # per-position scale spread over ~3 orders of magnitude
            scale = torch.exp(1.5 * torch.randn((*x.shape[:-1], 1), generator=g, device=device))
            x = z * scale
    return x, mask, w, cfg


def to_arrays(data: ref.TriMulInput) -> list[tuple[str, np.ndarray]]:
    x, mask, w, _ = data
    out = [("x", x.detach().cpu().numpy()), ("mask", mask.detach().cpu().numpy())]
    out += [(k, w[k].detach().cpu().numpy()) for k in ref.WEIGHT_KEYS]
    return out


def load_shapes(params: dict[str, Any], device: str) -> list[dict[str, Any]]:
    """Benchmark shapes: ``params.shapes_<device>`` if set, else kernels/trimul/shapes.py, else
    ``params.fallback``."""
    key = f"shapes_{device}"
    if key in params:
        return [dict(s) for s in params[key]]
    try:
        from kernels.trimul import shapes as shp
    except ModuleNotFoundError:
        return [dict(s) for s in params["fallback"][key]]
    raw = shp.GPU_BENCHMARK_SHAPES if device == "cuda" else shp.CPU_BENCHMARK_SHAPES
    return [dict(s) if isinstance(s, dict) else dict(s._asdict()) if hasattr(s, "_asdict") else vars(s)
            for s in raw]


class _Plan:
    """The calls of one suite: (shape index, call index, timed?, seed, nomask, distribution)."""

    def __init__(self, shapes: list[dict[str, Any]], suite: SuiteName, seed: int, warmup: int,
                 repeats: int) -> None:
        self.calls: list[tuple[int, int, bool, int, bool, str]] = []
        for si, s in enumerate(shapes):
            for ci in range(warmup + repeats):
                cseed = derive_seed(seed, suite, si, ci)
                if suite == "nominal":
                    nomask, dist = bool(s.get("nomask", True)), str(s.get("distribution", "normal"))
                else:
                    rng = random.Random(cseed)
                    nomask, dist = rng.random() < 0.5, rng.choice(PERTURBED_DISTRIBUTIONS)
                self.calls.append((si, ci, ci >= warmup, cseed, nomask, dist))


@register_verifier("trimul")
class TrimulVerifier(Verifier):
    version = "1.1"

    def draw_seeds(self, task: Any) -> dict[str, int]:
        return {"nominal": int(task.spec.params.get("nominal_seed", 20240917)),
                "perturbed": secrets.randbits(63)}

    def run_suite(self, ctx: VerifyContext, suite: SuiteName) -> SuiteResult:
        p = ctx.params()
        dev = ctx.device
        shapes = load_shapes(p, dev)
        plan = _Plan(shapes, suite, ctx.seeds[suite], int(p.get("warmup", 1)), int(p.get("repeats", 3)))
        limits = ctx.limits()
        dirs = ctx.suite_dirs(suite, "runner_kernel.py")
        session = KernelSession(dirs, limits=limits, backend=ctx.backend, audit=ctx.audit,
                                device=dev, entry=ctx.task.spec.interface.entrypoint,
                                candidate_name=ctx.task.spec.interface.file,
                                call_timeout_s=float(p.get("call_timeout_s", 60)),
                                labels={"task": "trimul", "suite": suite, "candidate_id": ctx.candidate_id})
        with session:
            checks, metrics = self._drive(session, shapes, plan, dev, int(p.get("calibration_calls", 5)))
        checks = [c.model_copy(update={"name": f"{suite}.{c.name}"}) for c in checks]
        score = metrics.pop("_score", None)
        return SuiteResult(suite=suite, score=score, checks=checks, metrics=metrics,
                           candidate_s=session.sandbox_wall_s)

    def _drive(self, s: KernelSession, shapes: list[dict[str, Any]], plan: _Plan, dev: str,
               n_cal: int) -> tuple[list[Check], dict[str, Any]]:
        checks: list[Check] = []
        metrics: dict[str, Any] = {}
        if s.dead:
            return [Check(name="runner.started", passed=False, detail=s.death_detail())], metrics
        # Calibrate the round trip before any candidate code exists in the sandbox; min = conservative.
        overhead_ns: dict[int, int] = {}
        for si, sh in enumerate(shapes):
            data = make_input(sh, 0, True, "normal", "cpu")
            arrs, out_shape = to_arrays(data), tuple(data[0].shape)
            walls = [s.call(arrs, dict(data[3]), out_shape, noop=True) for _ in range(n_cal)]
            if not all(w.ok for w in walls):
                return [Check(name="runner.calibration", passed=False, detail=walls[-1].detail)], metrics
            overhead_ns[si] = min(w.wall_ns for w in walls)
            metrics[f"overhead_us[{shape_key(sh)}]"] = overhead_ns[si] / 1e3
        ok, detail = s.load()
        checks.append(Check(name="candidate.import", passed=ok, detail=detail))
        if not ok:
            return checks, metrics
        times: dict[int, list[float]] = {i: [] for i in range(len(shapes))}
        floors_hit: list[str] = []
        event_flags: list[str] = []
        walls: dict[int, list[int]] = {i: [] for i in range(len(shapes))}
        for si, ci, timed, seed, nomask, dist in plan.calls:
            sh = shapes[si]
            tag = f"{shape_key(sh)},call={ci},dist={dist},nomask={nomask}"
            data = make_input(sh, seed, nomask, dist, dev)
            if timed:
                # A no-op round trip before every timed call: the overhead is the minimum over all of
                # them, so a scheduling hiccup during the initial calibration cannot inflate it. The
                # candidate may have patched the runner's no-op path: slowing it gains nothing (the
                # minimum includes the calibration made before its code was loaded), and speeding it
                # up only shrinks the overhead subtracted from its own times.
                calm = s.call(to_arrays(data), dict(data[3]), tuple(data[0].shape), noop=True)
                if calm.ok:
                    overhead_ns[si] = min(overhead_ns[si], calm.wall_ns)
            res = s.call(to_arrays(data), dict(data[3]), tuple(data[0].shape))
            if not res.ok:
                checks.append(Check(name=f"call[{tag}]", passed=False, detail=res.detail))
                return checks, metrics
            expected = ref.ref_kernel(ref.clone_input(data))
            got = torch.from_numpy(res.output).to(expected.device)
            good, msg = ref.check_implementation(data, got, expected=expected)
            if not good:
                err = (got - expected).abs().nan_to_num(nan=float("inf")).max().item()
                checks.append(Check(name=f"correctness[{tag}]", passed=False,
                                    detail=f"max_abs_err={err:.4g} {msg[:300]}"))
                return checks, metrics
            if not timed:
                continue
            walls[si].append(res.wall_ns)
            if res.event_ms is not None:
                host_us = max(0.0, (res.wall_ns - overhead_ns[si]) / 1e3)
                if host_us > 100 and res.event_ms * 1e3 < 0.25 * host_us:
                    event_flags.append(f"{tag}: events {res.event_ms * 1e3:.1f}us vs host {host_us:.1f}us")
        # Overheads are final only now (minimum over every no-op), so times are computed after the loop.
        for si, sh in enumerate(shapes):
            floor = roofline_floor_us(sh, dev)
            for wall_ns in walls[si]:
                us = max(0.0, (wall_ns - overhead_ns[si]) / 1e3)
                if us < floor:
                    floors_hit.append(f"{shape_key(sh)}: {us:.1f}us < floor {floor:.1f}us")
                    us = floor
                times[si].append(us)
        checks.append(Check(name="correctness.all_calls", passed=True,
                            detail=f"{len(plan.calls)} calls matched the reference"))
        checks.append(Check(name="timing.roofline", passed=not floors_hit, severity="suspicious",
                            detail="; ".join(floors_hit[:5]) or "every time above its physical floor"))
        if dev == "cuda":
            checks.append(Check(name="timing.events_vs_host", passed=not event_flags, severity="suspicious",
                                detail="; ".join(event_flags[:5]) or "CUDA events agree with host time"))
        per_shape = []
        for si, sh in enumerate(shapes):
            # Minimum over fresh-input calls: the least disturbed by other tenants of a shared CPU;
            # every call was checked, so the minimum is still a correct call's time.
            best = min(times[si])
            per_shape.append(best)
            metrics[f"us[{shape_key(sh)}]"] = best
            metrics[f"us_median[{shape_key(sh)}]"] = sorted(times[si])[len(times[si]) // 2]
        geo = math.exp(sum(math.log(max(t, 1e-3)) for t in per_shape) / len(per_shape))
        metrics["geomean_us"] = geo
        metrics["_score"] = SCORE_NUMERATOR / geo
        return checks, metrics

