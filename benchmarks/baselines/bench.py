"""Score the lawbench and denoising baseline candidates with the verifiers' own metric code.

Usage (from the project root)::

    SIA_LAWBENCH_DIR=../shared/data/lawbench .venv/bin/python benchmarks/baselines/bench.py [--json]

Prints one table; ``--json`` also writes ``benchmarks/baselines/results/<date>-cpu.json`` with the
git sha, package versions, seeds and every number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import platform
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402

from verifiers import denoising_data as dd  # noqa: E402
from verifiers import lawbench_data as ld  # noqa: E402
from verifiers.denoising_metric import score_denoised  # noqa: E402
from verifiers.lawbench_metric import lawbench_text_score, score_predictions  # noqa: E402

SCHEMA_VERSION = 1


def _load(rel: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(Path(rel).stem, ROOT / rel)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_lawbench(seeds: list[int]) -> list[dict[str, object]]:
    """F1 of tfidf_linear, the majority charge and GPT-4 zero-shot on nominal and secret splits."""
    cases = ld.load_cases()
    gpt4 = ld.load_gpt4_predictions()
    cand = _load("tasks/lawbench/baselines/tfidf_linear.py")
    rows: list[dict[str, object]] = []
    full = lawbench_text_score(gpt4, ["罪名:" + ";".join(c.charges) for c in cases])
    rows.append({"task": "lawbench", "suite": "all-500", "candidate": "gpt4_zero_shot (LawBench scorer)",
                 "score": full.f1, "extra": f"abstention {full.abstention_rate:.3f}"})
    for name, seed in [("nominal", ld.NOMINAL_SEED), *[(f"secret-{i}", s) for i, s in enumerate(seeds)]]:
        train, ev = ld.make_split(cases, seed, ld.NOMINAL_N_TRAIN, ld.NOMINAL_N_EVAL)
        golds = [list(c.charges) for c in ev]
        t0 = time.perf_counter()
        cand.fit([c.as_training_example() for c in train])
        preds = cand.predict([c.for_candidate() for c in ev])
        fit_s = time.perf_counter() - t0
        r = score_predictions(preds, golds)
        rows.append({"task": "lawbench", "suite": name, "candidate": "tfidf_linear", "score": r.f1,
                     "extra": f"P {r.precision:.3f} R {r.recall:.3f} empty {r.n_empty} ({fit_s:.1f}s)"})
        canaries = ld.canary_cases(seed, 50, ev)
        rc = score_predictions(cand.predict([c.for_candidate() for c in canaries]),
                               [list(c.charges) for c in canaries])
        rows.append({"task": "lawbench", "suite": f"{name}+canary50", "candidate": "tfidf_linear",
                     "score": rc.f1, "extra": ""})
        maj = max({ch for c in train for ch in c.charges}, key=lambda ch: sum(ch in c.charges for c in train))
        rm = score_predictions([[maj]] * len(ev), golds)
        rows.append({"task": "lawbench", "suite": name, "candidate": f"majority ({maj})", "score": rm.f1,
                     "extra": ""})
        g = lawbench_text_score([gpt4[c.source_index] for c in ev], ["罪名:" + ";".join(x) for x in golds])
        rows.append({"task": "lawbench", "suite": name, "candidate": "gpt4_zero_shot (LawBench scorer)",
                     "score": g.f1, "extra": f"abstention {g.abstention_rate:.3f}"})
    return rows


def bench_denoising(seeds: list[int]) -> list[dict[str, object]]:
    """mse_norm and Poisson validity of MAGIC and identity on nominal and secret-seeded splits."""
    magic = _load("tasks/denoising/baselines/magic.py")
    identity = _load("tasks/denoising/baselines/identity.py")
    rows: list[dict[str, object]] = []
    suites = [("nominal", dd.nominal_split())]
    suites += [(f"secret-{i}", dd.mcv_split(dd.simulate_counts(s).counts, s + 1)) for i, s in enumerate(seeds)]
    suites += [(f"shifted-{i}", dd.perturbed_split(s)) for i, s in enumerate(seeds)]
    for name, split in suites:
        for cname, mod in [("magic", magic), ("identity", identity)]:
            t0 = time.perf_counter()
            out = mod.denoise(split.x_train)
            run_s = time.perf_counter() - t0
            r = score_denoised(out, split.x_train, split.x_test)
            rows.append({
                "task": "denoising", "suite": f"{name} {split.x_train.shape[0]}x{split.x_train.shape[1]}",
                "candidate": cname, "score": r.mse_norm,
                "extra": f"valid {r.valid} poisson_norm {r.poisson_norm:.4f} mse {r.mse:.4f}/"
                         f"{r.mse_none:.4f} ({run_s:.1f}s)",
            })
    return rows


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="write results/<date>-cpu.json")
    parser.add_argument("--seeds", type=int, nargs="*", help="secret seeds (default: 3 fresh random ones)")
    parser.add_argument("--only", choices=["lawbench", "denoising"], help="run one task only")
    args = parser.parse_args()
    seeds = args.seeds or [secrets.randbits(32) for _ in range(3)]
    rows: list[dict[str, object]] = []
    if args.only != "denoising":
        rows += bench_lawbench(seeds)
    if args.only != "lawbench":
        rows += bench_denoising(seeds)
    print(f"{'task':<10} {'suite':<26} {'candidate':<34} {'score':>7}  details")
    for r in rows:
        print(f"{r['task']:<10} {r['suite']:<26} {r['candidate']:<34} {r['score']:>7.4f}  {r['extra']}")
    if args.json:
        out = ROOT / "benchmarks/baselines/results" / f"{dt.date.today().isoformat()}-cpu.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "schema_version": SCHEMA_VERSION, "git_sha": _git_sha(), "device": "cpu",
            "host": platform.node(), "python": platform.python_version(),
            "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
            "seeds": seeds, "rows": rows,
        }, indent=2, ensure_ascii=False))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
