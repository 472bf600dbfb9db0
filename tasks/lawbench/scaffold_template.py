"""Scaffold of the lawbench task: renders a charge predictor into /out/submission.py.

Runs INSIDE the scaffold sandbox (network: the gateway socket only). ``harness.json`` holds the
feature/classifier/threshold choices; for the delegated ones (the regularisation C) the task model is
asked through the gateway and its answer is recorded in /out/scaffold_trace.json. The base predictor
is ``base_submission.py`` (``tasks/lawbench/baselines/tfidf_linear.py``, fit + predict).
"""

from __future__ import annotations

import sys

from scaffold_lib import HERE, decide, load_harness, rewrite_constants, write_outputs


def main() -> int:
    harness = load_harness()
    choices, trace = decide(harness)
    source = rewrite_constants((HERE / "base_submission.py").read_text(encoding="utf-8"), choices)
    compile(source, "submission.py", "exec")
    write_outputs(source, trace)
    for entry in trace:
        print(f"{entry['dimension']} = {entry['value']!r} ({entry['source']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
