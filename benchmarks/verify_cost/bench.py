"""Cost of verification per task: candidate time (sandbox runs) vs verifier overhead.

Question: how much does a hardened verification cost on top of just running the candidate?
Run: ``.venv/bin/python benchmarks/verify_cost.py [--profile quick|full|attack] [--tasks trimul,...]``
Writes ``benchmarks/verify_cost/results/<date>-<device>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HONEST = {
    "trimul": ROOT / "kernels/trimul/submissions/cpu_fast.py",
    "lawbench": ROOT / "tasks/lawbench/baselines/tfidf_linear.py",
    "denoising": ROOT / "tasks/denoising/baselines/magic.py",
}


def _sha() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=False).stdout.strip() or "uncommitted"
    except OSError:
        return "unknown"


def main() -> None:
    from sia_sandbox.verify.api import verify_submission

    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--tasks", default="trimul,lawbench,denoising")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rows = []
    for task in args.tasks.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"sia-bench-{task}-"))
        profile = args.profile if task != "denoising" else "full"
        t0 = time.perf_counter()
        v = verify_submission(task, HONEST[task], device=args.device, profile=profile, out_dir=tmp)
        wall = time.perf_counter() - t0
        shutil.rmtree(tmp, ignore_errors=True)
        row = {"task": task, "profile": profile, "verdict": v.verdict, "wall_s": round(wall, 3),
               "candidate_s": round(v.candidate_s, 3), "verifier_s": round(v.verifier_s, 3),
               "overhead_ratio": round(v.verifier_s / max(v.candidate_s, 1e-9), 3),
               "score": v.score, "perturbed_score": v.perturbed_score}
        if task == "trimul":
            row["roundtrip_overhead_us"] = {k: round(x, 1) for k, x in v.metrics.items() if "overhead_us" in k}
        rows.append(row)
        print(f"{task:10s} {v.verdict:10s} wall {wall:7.2f}s  candidate {v.candidate_s:7.2f}s  "
              f"verifier {v.verifier_s:7.2f}s  ratio {row['overhead_ratio']:.2f}")
    import numpy
    import torch

    out = {"date": dt.date.today().isoformat(), "git_sha": _sha(), "device": args.device,
           "host": platform.node(), "cpus": __import__("os").cpu_count(),
           "versions": {"torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()},
           "config": vars(args), "rows": rows}
    res = ROOT / "benchmarks/verify_cost/results"
    res.mkdir(parents=True, exist_ok=True)
    path = res / f"{out['date']}-{args.device}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
