"""In-sandbox runner for ``predict``/``function`` tasks. Runs inside the candidate sandbox.

Reads ``/sia/data/calls.json``: ``{"module": path, "calls": [{"fn", "args": [{"json"|"npy": file}],
"result": {"name", "kind": "json"|"npy"|"none"}}]}``, imports the candidate, makes the calls in
order (a ``result`` of one call may be passed to a later one as ``{"ref": name}``) and writes each
result to ``/sia/out/<name>.{json,npy}`` in safe formats: JSON of plain types or npy without pickle.
Only the stdlib and numpy are used here; the verifier distrusts whatever this process writes anyway.
"""

import importlib.util
import json
import math
import sys
import traceback

import numpy as np

DATA = "/sia/data"
OUT = "/sia/out"


def _plain(obj, depth=0):
    """Convert to JSON-safe plain types, refusing anything exotic (objects, NaN, deep nesting)."""
    if depth > 6:
        raise TypeError("result nests too deep")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise TypeError("result contains a non-finite float")
        return obj
    if isinstance(obj, np.generic):
        return _plain(obj.item(), depth + 1)
    if isinstance(obj, (list, tuple)):
        return [_plain(v, depth + 1) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v, depth + 1) for k, v in obj.items()}
    raise TypeError(f"result contains a {type(obj).__name__}")


def _load_arg(spec, results):
    if "json" in spec:
        with open(f"{DATA}/{spec['json']}", encoding="utf-8") as fh:
            return json.load(fh)
    if "npy" in spec:
        return np.load(f"{DATA}/{spec['npy']}", allow_pickle=False)
    return results[spec["ref"]]


def main():
    with open(f"{DATA}/calls.json", encoding="utf-8") as fh:
        plan = json.load(fh)
    spec = importlib.util.spec_from_file_location("submission", plan["module"])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = mod
    spec.loader.exec_module(mod)
    results = {}
    for call in plan["calls"]:
        fn = getattr(mod, call["fn"], None)
        if not callable(fn):
            print(f"candidate defines no callable {call['fn']!r}", file=sys.stderr)
            return 3
        args = [_load_arg(a, results) for a in call["args"]]
        value = fn(*args)
        res = call["result"]
        results[res["name"]] = value
        if res["kind"] == "json":
            with open(f"{OUT}/{res['name']}.json", "w", encoding="utf-8") as fh:
                json.dump(_plain(value), fh, ensure_ascii=False)
        elif res["kind"] == "npy":
            arr = np.asarray(value)
            if arr.dtype.hasobject or arr.dtype.kind not in "fiub":
                print(f"{call['fn']} returned dtype {arr.dtype}, not numeric", file=sys.stderr)
                return 4
            np.save(f"{OUT}/{res['name']}.npy", np.ascontiguousarray(arr), allow_pickle=False)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - the candidate's exception is reported, the exit code says it failed
        traceback.print_exc(limit=8)
        sys.exit(2)
