"""The gateway from INSIDE a real bubblewrap sandbox: reachable through its own session socket only.

The scaffold side uses both the stdlib ``sia_client`` (mounted read-only) and the real openai SDK over
the socket; everything else (a TCP listener on the host's loopback, the platform socket, another
session's socket, the API key) must be out of reach.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from sia_sandbox.errors import SiaError
from sia_sandbox.gateway import CLIENT_DIR, Gateway, get_model_backend
from sia_sandbox.rollouts import RolloutStore
from sia_sandbox.sandbox import GATEWAY_SOCKET_PATH, Limits, Mount, SandboxSpec, get_backend
from tests.fakes.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.bwrap

RUN = "run-sbx"
SECRET = "sk-sandbox-test-SECRET-9f8e7d6c"
CLIENT_MOUNT = PurePosixPath("/sia/client")  # /opt/sia is reserved for the sandbox runtime

SCRIPT = textwrap.dedent("""
    import json, os, socket, sys
    import sia_client
    args = json.loads(sys.argv[1])
    out = {}
    out["chat"] = sia_client.chat([{"role": "user", "content": "from the sandbox"}], max_tokens=20)
    out["complete"] = sia_client.complete("two words", max_tokens=20)
    import httpx, openai
    client = openai.OpenAI(base_url="http://gateway/v1", api_key="unused", max_retries=0,
                           http_client=httpx.Client(transport=httpx.HTTPTransport(uds="/run/sia/gateway.sock")))
    resp = client.chat.completions.create(model="fake-gpt", messages=[{"role": "user", "content": "via sdk"}],
                                          max_tokens=20, logprobs=True)
    out["sdk"] = resp.choices[0].message.content
    out["sdk_logprobs"] = [c.logprob for c in resp.choices[0].logprobs.content]
    def tcp(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
            return "connected"
        except OSError as e:
            return type(e).__name__
    out["tcp_listener"] = tcp(args["listener_port"])
    out["tcp_fake_api"] = tcp(args["api_port"])
    def unix(path):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return "connected"
        except OSError as e:
            return type(e).__name__
        finally:
            s.close()
    out["other_session_exists"] = os.path.exists(args["other_session"])
    out["other_session"] = unix(args["other_session"])
    out["platform_socket"] = unix(args["platform_socket"])
    out["sessions_dir_exists"] = os.path.exists(args["sessions_dir"])
    out["run_sia"] = sorted(os.listdir("/run/sia"))
    out["env"] = dict(os.environ)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    try:
        b = get_backend("local")
        st = b.status()
    except SiaError as e:  # the local backend may be missing on this machine
        pytest.skip(f"local sandbox backend unavailable: {e}")
    if not st.usable:
        pytest.skip(f"local sandbox backend unusable: {st.detail}")
    return b


@pytest.fixture
def sockdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="sia-gw-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_scaffold_reaches_only_its_session(backend, sockdir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # in the platform's environment, never the sandbox's
    work = tmp_path / "work"
    work.mkdir()
    (work / "probe.py").write_text(SCRIPT)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    store = RolloutStore(tmp_path / "rollouts.db")
    store.record_run(RUN, "test", {})
    try:
        with FakeOpenAIServer(api_key=SECRET) as api:
            model = get_model_backend("openai-compatible", model="fake-gpt", base_url=api.base_url)
            with Gateway(store, model, RUN) as gw:
                gw.start(sockdir / "gateway.sock")
                for sid, cand in (("sbx-a", "ca"), ("sbx-b", "cb")):
                    store.record_sandbox_run(sid, RUN, 0, cand, "scaffold")
                mine, other = gw.open_session("sbx-a"), gw.open_session("sbx-b")
                args = {"listener_port": listener.getsockname()[1], "api_port": api.port,
                        "other_session": str(other), "platform_socket": str(gw.socket_path),
                        "sessions_dir": str(mine.parent.parent)}
                spec = SandboxSpec(
                    command=["python3", "/work/probe.py", json.dumps(args)],
                    ro_mounts=[Mount(host=CLIENT_DIR, sandbox=CLIENT_MOUNT), Mount(host=work, sandbox="/work")],
                    env={"PYTHONPATH": str(CLIENT_MOUNT)},
                    limits=Limits(timeout_s=120, memory_mb=1024, pids=64, output_limit_mb=8),
                    network="gateway", gateway_socket=mine,
                )
                result = backend.run(spec)
    finally:
        listener.close()
    assert result.reason == "ok", result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["chat"] == "echo: from the sandbox"
    assert out["complete"] == "echo: two words"
    assert out["sdk"] == "echo: via sdk" and out["sdk_logprobs"] == pytest.approx([-0.01, -0.02, -0.03, -0.04, -0.05])
    assert out["tcp_listener"] != "connected" and out["tcp_fake_api"] != "connected"
    assert not out["other_session_exists"] and out["other_session"] != "connected"
    assert out["platform_socket"] != "connected" and not out["sessions_dir_exists"]
    assert out["run_sia"] == [GATEWAY_SOCKET_PATH.name]
    assert not any(k.endswith("API_KEY") for k in out["env"])
    assert SECRET not in result.stdout + result.stderr
    calls = store.model_calls("sbx-a")
    assert [c.completion for c in calls] == ["echo: from the sandbox", "echo: two words", "echo: via sdk"]
    assert all(c.completion_token_ids and len(c.token_logprobs) == len(c.completion_token_ids) for c in calls)
    assert store.model_calls("sbx-b") == []
    store.close()
