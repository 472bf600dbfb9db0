"""Scaffold of the trimul task: renders a TriMul kernel variant into /out/submission.py.

Runs INSIDE the scaffold sandbox (network: the gateway socket only). ``harness.json`` holds the
variant choices; for the delegated ones (the chunk size) the task model is asked through the gateway
and its answer is recorded in /out/scaffold_trace.json. The base kernel is ``base_submission.py``
(``kernels/trimul/submissions/cpu_fast.py``); only its variant block constants are rewritten.
"""

from __future__ import annotations

import sys

from scaffold_lib import HERE, render_and_write


def main() -> int:
    base = (HERE / "base_submission.py").read_text(encoding="utf-8")
    # A syntax error is caught here, in the scaffold, instead of costing a verifier run.
    return render_and_write(base, lambda source: compile(source, "submission.py", "exec"))


if __name__ == "__main__":
    sys.exit(main())
