"""Throughput and peak memory of one LoRA update per algorithm, tiny model and Gemma 3 270M side by side.

Run: ``.venv/bin/python benchmarks/train_step.py [--models tiny,gemma3-270m] [--json]``.
See README.md next to this file for what the numbers mean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

ALGOS = ["bon_bc", "ppo", "grpo", "entropic", "reinforce_kl", "dpo"]  # bon_bc first: the baseline
GROUP_REWARDS = [[0.1, 0.5, 0.9, 0.3], [0.0, 0.2, 0.7, 0.4]]  # dense, spread in every group
PROMPT = "Q: write a function that returns the sum of a list of numbers\nA:"
RESULTS = Path(__file__).parent / "results"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakRSS:
    """Samples RSS every 2 ms in a thread; torch's C++ allocations are invisible to tracemalloc."""

    def __enter__(self) -> _PeakRSS:
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_bytes())


def _samples(tok: Any, completion_tokens: int, seed: int) -> list[Any]:
    import random

    from sia_sandbox.train.data import RolloutRecord, samples_from_rollouts

    rng = random.Random(seed)
    vocab = [i for i in range(len(tok)) if i not in set(tok.all_special_ids)][:5000]
    rollouts = []
    for g, rewards in enumerate(GROUP_REWARDS):
        for i, r in enumerate(rewards):
            ids = tuple(rng.choice(vocab) for _ in range(completion_tokens))
            rollouts.append(RolloutRecord(
                rollout_id=f"b-{g}-{i}", run_id="bench", group_id=f"g{g}", prompt=PROMPT,
                completion=tok.decode(list(ids)), completion_token_ids=ids, reward=r,
                verdict_sha256=f"{g * 16 + i:064x}", verdict="verified"))
    return samples_from_rollouts(rollouts)


def bench_one(model_name: str, algo: str, completion_tokens: int, threads: int | None) -> dict[str, Any]:
    from sia_sandbox.models import load_causal_lm
    from sia_sandbox.train.common import make_policy
    from sia_sandbox.train.config import TrainConfig
    from sia_sandbox.train.registry import get_algorithm

    cfg = TrainConfig(algo=algo, algo_reason="benchmark", base_model=model_name, steps=1, batch_size=8,
                      group_size=4, num_threads=threads)
    model, tok = load_causal_lm(model_name)
    policy = make_policy(model, tok, cfg, None)
    samples = _samples(tok, completion_tokens, seed=0)
    enc = policy.encode(samples)
    seq_tokens = int(enc.attention_mask.sum())
    tracemalloc.start()
    with _PeakRSS() as rss:
        t0 = time.perf_counter()
        metrics = get_algorithm(algo).train(policy, samples, cfg)
        wall = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"model": model_name, "algo": algo, "wall_s": wall, "seq_tokens": seq_tokens,
            "tokens_per_s": seq_tokens / wall, "peak_rss_delta_mb": (rss.peak - rss.start) / 2**20,
            "peak_rss_mb": rss.peak / 2**20, "tracemalloc_peak_mb": py_peak / 2**20,
            "loss": metrics[-1].loss}


def _table(rows: list[dict[str, Any]]) -> str:
    base = {r["model"]: r["tokens_per_s"] for r in rows if r["algo"] == "bon_bc"}
    models = list(dict.fromkeys(r["model"] for r in rows))
    head = f"{'algo':<13}" + "".join(
        f"| {m[:12]:>12} tok/s  x bon_bc  peakΔRSS MB  py MB " for m in models)
    lines = [head, "-" * len(head)]
    for algo in ALGOS:
        line = f"{algo:<13}"
        for m in models:
            r = next((x for x in rows if x["model"] == m and x["algo"] == algo), None)
            if r is None:
                line += "| " + " " * 52
                continue
            r["ratio_vs_bon_bc"] = r["tokens_per_s"] / base[m]
            line += (f"| {r['tokens_per_s']:>18.1f} {r['ratio_vs_bon_bc']:>9.2f} "
                     f"{r['peak_rss_delta_mb']:>12.1f} {r['tracemalloc_peak_mb']:>6.2f} ")
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default="tiny,gemma3-270m")
    p.add_argument("--completion-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a shared 2-core box more threads mostly wait)")
    p.add_argument("--json", action="store_true", help="write results/<date>-cpu.json")
    args = p.parse_args(argv)
    import warnings

    from sia_sandbox.logging_setup import configure_logging

    configure_logging()  # logs to stderr; stdout carries only the table
    warnings.filterwarnings("ignore")
    rows = []
    for m in args.models.split(","):
        for algo in ALGOS:
            rows.append(bench_one(m, algo, args.completion_tokens, args.threads))
            print(f"# {m} {algo}: {rows[-1]['wall_s']:.2f}s", file=sys.stderr, flush=True)
    print(_table(rows))
    if args.json:
        import torch

        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        out = {"schema_version": 1, "date": date.today().isoformat(), "git_sha": sha or None, "device": "cpu",
               "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "config": {"batch_size": 8, "steps": 1, "lora_r": 32, "completion_tokens": args.completion_tokens,
                          "prompt": PROMPT},
               "versions": {p: version(p) for p in ("torch", "transformers", "peft", "trl")},
               "results": rows}
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{out['date']}-cpu.json"
        path.write_text(json.dumps(out, indent=2))
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
