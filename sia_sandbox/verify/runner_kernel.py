"""In-sandbox runner for ``kernel`` tasks (trimul). Runs inside the candidate sandbox.

A long-lived process that talks to the trusted verifier over two FIFOs in the read-only io mount
(``/sia/io/v2r`` commands, ``/sia/io/r2v`` events; writing to a FIFO works on a read-only mount).
Each message is one JSON header line, optionally followed by a raw binary payload of the size the
header states. For ``call`` the verifier has already started its clock when the payload (a fresh
input) is sent; this runner copies it into new tensors, calls the candidate and streams the result's
float32 bytes back after a ``done`` header. The verifier stops the clock when the last output byte
arrives; those bytes are all it checks, so work the candidate finishes later is never seen.

Nothing this process reports is trusted: it runs the candidate's code, which can patch it. Timing is
measured outside, outputs are re-checked outside against a reference the sandbox never sees. The
``noop`` flag runs the same copies without the candidate; before ``load`` it calibrates the round
trip.
"""

import importlib.util
import json
import os
import sys
import traceback

import torch

IO = "/sia/io"
MAX_LINE = 1 << 16
_DTYPES = {"float32": torch.float32, "int64": torch.int64}


class Runner:
    def __init__(self, device, threads):
        self.device = torch.device(device)
        torch.set_num_threads(max(1, threads))
        self.out = open(f"{IO}/r2v", "wb", buffering=0)
        self.cmd = open(f"{IO}/v2r", "rb")
        self.fn = None
        self.l2 = None
        if self.device.type == "cuda":
            # 256 MiB scratch rewritten before each call so no call starts with a warm L2.
            self.l2 = torch.empty(64 << 20, dtype=torch.int32, device=self.device)

    def send(self, payload=None, **msg):
        head = (json.dumps(msg) + "\n").encode()
        self.out.write(head if payload is None else head + payload)

    def load(self, path, entry):
        spec = importlib.util.spec_from_file_location("submission", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = mod
        spec.loader.exec_module(mod)
        fn = getattr(mod, entry, None)
        if not callable(fn):
            raise AttributeError(f"candidate defines no callable {entry!r}")
        self.fn = fn

    def call(self, msg, payload):
        x = mask = None
        weights = {}
        for name, dtype, shape, offset, nbytes in msg["inputs"]:
            t = torch.frombuffer(payload, dtype=_DTYPES[dtype], count=nbytes // (8 if dtype == "int64" else 4),
                                 offset=offset).clone().reshape(shape).to(self.device)
            if name == "x":
                x = t
            elif name == "mask":
                mask = t
            else:
                weights[name] = t
        data = (x, mask, weights, dict(msg["config"]))
        shape = tuple(msg["out_shape"])
        event_ms = None
        if self.l2 is not None:
            self.l2.fill_(msg.get("nonce_int", 0) & 0x7FFF)
        if msg.get("noop") or self.fn is None:
            out = torch.zeros(shape, dtype=torch.float32, device=self.device)
        elif self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            out = self.fn(data)
            end.record()
            torch.cuda.synchronize()
            event_ms = start.elapsed_time(end)
        else:
            out = self.fn(data)
        # Convenience checks only: the verifier re-checks the bytes it receives.
        if type(out) is not torch.Tensor:
            return self.send(ev="fail", nonce=msg["nonce"],
                             detail=f"output is {type(out).__name__}, expected a plain torch.Tensor")
        if tuple(out.shape) != shape or not out.is_floating_point():
            return self.send(ev="fail", nonce=msg["nonce"],
                             detail=f"output shape/dtype {tuple(out.shape)}/{out.dtype}, expected {shape}/float")
        raw = out.detach().to("cpu", torch.float32).contiguous().reshape(-1).numpy().tobytes()
        self.send(raw, ev="done", nonce=msg["nonce"], event_ms=event_ms, nbytes=len(raw))

    def serve(self, path, entry):
        self.send(ev="hello", torch=torch.__version__, device=str(self.device))
        while True:
            line = self.cmd.readline(MAX_LINE)
            if not line.endswith(b"\n"):
                return 0
            msg = json.loads(line)
            op = msg.get("op")
            if op == "quit":
                return 0
            payload = bytearray(self.cmd.read(int(msg.get("nbytes", 0)))) if msg.get("nbytes") else bytearray(8)
            try:
                if op == "load":
                    self.load(path, entry)
                    self.send(ev="loaded")
                elif op == "call":
                    self.call(msg, payload)
            except Exception as e:  # noqa: BLE001 - the candidate's error is reported, not raised
                tb = traceback.format_exc(limit=6)[-1500:]
                self.send(ev="fail", nonce=msg.get("nonce"), detail=f"{type(e).__name__}: {e}", tb=tb)


if __name__ == "__main__":
    _, cand, entry, dev, threads = sys.argv
    code = Runner(dev, int(threads)).serve(cand, entry)
    # os._exit: threads the candidate started must not keep the sandbox alive after ``quit``.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
