"""Model gateway over real Unix sockets: the real openai SDK, sia_client, budgets, validation, recording,
and the openai-compatible / anthropic backends against local fake APIs driven by the real SDKs."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import openai
import pytest

from sia_sandbox.errors import BudgetExceededError, GatewayError
from sia_sandbox.gateway import (
    CLIENT_DIR,
    Gateway,
    GatewayBudgets,
    Generation,
    GenerationRequest,
    ModelBackend,
    get_model_backend,
    register_model_backend,
    render_messages,
)
from sia_sandbox.rollouts import RolloutStore
from tests.fakes.fake_anthropic_server import FakeAnthropicServer
from tests.fakes.fake_openai_server import FakeOpenAIServer

RUN = "run-gw"
SECRET = "sk-test-SECRET-0123456789abcdef"


def _load_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sia_client", CLIENT_DIR / "sia_client.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sia_client = _load_client()


@register_model_backend("test-echo")
class EchoBackend(ModelBackend):
    """Deterministic backend: replies ``echo: <last message>`` word by word; can leak a secret on demand."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.requests: list[GenerationRequest] = []
        self.lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "echo-1"

    def secrets(self) -> list[str]:
        return [self.secret] if self.secret else []

    def generate(self, request: GenerationRequest) -> Generation:
        with self.lock:
            self.requests.append(request)
        if request.messages is not None:
            prompt, last = render_messages(request.messages), request.messages[-1]["content"]
        else:
            prompt, last = request.prompt or "", request.prompt or ""
        if last == "leak" and self.secret:
            last = f"the key is {self.secret}"
        words = f"echo: {last}".split(" ")[: request.max_tokens]
        return Generation(
            model=self.model_name, adapter_version="0007", prompt=prompt, completion=" ".join(words),
            prompt_token_ids=list(range(len(prompt.split()))), completion_token_ids=[len(w) for w in words],
            token_logprobs=[-0.5] * len(words), prompt_tokens=len(prompt.split()),
            completion_tokens=len(words), finish_reason="length" if len(words) == request.max_tokens else "stop",
        )


@pytest.fixture
def sockdir() -> Iterator[Path]:
    # Unix socket paths are limited to 107 bytes; pytest's tmp_path can be longer than that.
    d = Path(tempfile.mkdtemp(prefix="sia-gw-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RolloutStore]:
    s = RolloutStore(tmp_path / "rollouts.db")
    s.record_run(RUN, "test", {})
    yield s
    s.close()


def _gateway(store: RolloutStore, sockdir: Path, backend: ModelBackend | None = None,
             budgets: GatewayBudgets | None = None) -> Gateway:
    gw = Gateway(store, backend or EchoBackend(), RUN, budgets)
    gw.start(sockdir / "gateway.sock")
    return gw


def _session(gw: Gateway, sbx: str, cand: str = "c1") -> str:
    gw.store.record_sandbox_run(sbx, RUN, 0, cand, "scaffold")
    return str(gw.open_session(sbx))


def _oai(sock: str) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://gateway/v1", api_key="unused", max_retries=0,
                         http_client=httpx.Client(transport=httpx.HTTPTransport(uds=sock)))


def _raw(sock: str, data: bytes) -> tuple[int, dict[str, Any], str]:
    """Send raw bytes over the socket; return (status, json body, raw headers)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, body = buf.partition(b"\r\n\r\n")
        length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
        while len(body) < length:
            body += s.recv(65536)
    return int(head.split(b" ")[1]), json.loads(body), head.decode()


# --------------------------------------------------------------------------- openai SDK + recording


def test_openai_sdk_chat_is_recorded_against_the_session(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir) as gw:
        sock = _session(gw, "sbx-1")
        resp = _oai(sock).chat.completions.create(
            model="echo-1", messages=[{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "hello world"}],
            max_tokens=50, temperature=0.3, logprobs=True)
    assert resp.choices[0].message.content == "echo: hello world"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 3
    assert [c.logprob for c in resp.choices[0].logprobs.content] == [-0.5] * 3  # type: ignore[union-attr]
    (call,) = store.model_calls("sbx-1")
    assert call.sandbox_run_id == "sbx-1" and call.run_id == RUN
    assert call.messages == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]
    assert call.prompt == render_messages(call.messages)
    assert call.completion == "echo: hello world"
    assert call.completion_token_ids == [5, 5, 5] and call.token_logprobs == [-0.5] * 3
    assert call.model == "echo-1" and call.adapter_version == "0007" and call.latency_s >= 0
    assert resp.id == f"chatcmpl-{call.call_id}"


def test_openai_sdk_completions_and_models(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir) as gw:
        client = _oai(_session(gw, "sbx-1"))
        resp = client.completions.create(model="echo-1", prompt="def f(x):", max_tokens=10)
        models = [m.id for m in client.models.list()]
    assert resp.choices[0].text == "echo: def f(x):"
    assert models == ["echo-1"]
    assert store.model_calls("sbx-1")[0].prompt == "def f(x):"


def test_sia_client_chat_complete_health(store: RolloutStore, sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _gateway(store, sockdir) as gw:
        monkeypatch.setenv("SIA_GATEWAY_SOCKET", _session(gw, "sbx-1"))
        assert sia_client.chat([{"role": "user", "content": "hi"}]) == "echo: hi"
        assert sia_client.complete("abc", max_tokens=1) == "echo:"
        assert sia_client.health()["status"] == "ok"
        assert sia_client.models() == ["echo-1"]
        # content parts as the SDK may send them
        assert sia_client.chat([{"role": "user", "content": [{"type": "text", "text": "a"},
                                                             {"type": "text", "text": "b"}]}]) == "echo: ab"
        assert sia_client.openai_client().models.list().data[0].id == "echo-1"
    assert store.usage(RUN).calls == 3


def test_sessions_are_isolated_and_closable(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir) as gw:
        a, b = _session(gw, "sbx-a", "ca"), _session(gw, "sbx-b", "cb")
        assert a != b
        sia_client.chat([{"role": "user", "content": "from a"}], sock=a)
        sia_client.chat([{"role": "user", "content": "from b"}], sock=b)
        sia_client.chat([{"role": "user", "content": "platform"}], sock=str(gw.socket_path))
        assert stat.S_IMODE(os.stat(a).st_mode) == 0o666
        assert stat.S_IMODE(os.stat(Path(a).parent).st_mode) == 0o755
        assert stat.S_IMODE(os.stat(gw.socket_path).st_mode) == 0o600  # type: ignore[arg-type]
        with pytest.raises(GatewayError, match="already open"):
            gw.open_session("sbx-a")
        with pytest.raises(GatewayError, match="not recorded"):
            gw.open_session("never-recorded")
        gw.close_session("sbx-a")
        gw.close_session("sbx-a")
        assert not os.path.exists(a)
        with pytest.raises(sia_client.GatewayCallError) as ei:
            sia_client.health(sock=a)
        assert ei.value.status == 0
        assert sia_client.health(sock=b)["status"] == "ok"
    assert [c.completion for c in store.model_calls("sbx-a")] == ["echo: from a"]
    assert [c.completion for c in store.model_calls("sbx-b")] == ["echo: from b"]
    assert [c.completion for c in store.model_calls(None)] == ["echo: platform"]
    assert not os.path.exists(b) and not (sockdir / "gateway.sock").exists()


def test_stale_socket_is_replaced_and_long_path_refused(store: RolloutStore, sockdir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sockdir / "gateway.sock"))
    stale.close()
    with _gateway(store, sockdir) as gw:
        assert sia_client.health(sock=str(gw.socket_path))["status"] == "ok"
    with pytest.raises(GatewayError, match="107 bytes"):
        Gateway(store, EchoBackend(), RUN).start(sockdir / ("x" * 120) / "g.sock")


# --------------------------------------------------------------------------- budgets


def test_call_budget_gives_429_and_platform_error(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir, budgets=GatewayBudgets(max_calls=2)) as gw:
        sock = _session(gw, "sbx-1")
        for _ in range(2):
            sia_client.chat([{"role": "user", "content": "x"}], sock=sock)
        gw.raise_if_budget_exceeded()
        with pytest.raises(sia_client.GatewayCallError) as ei:
            sia_client.chat([{"role": "user", "content": "x"}], sock=sock)
        assert ei.value.status == 429 and ei.value.type == "budget_exceeded"
        assert "2 model calls" in ei.value.message
        client = openai.OpenAI(base_url="http://gateway/v1", api_key="unused",  # default retries
                               http_client=httpx.Client(transport=httpx.HTTPTransport(uds=sock)))
        with pytest.raises(openai.RateLimitError) as oe:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert oe.value.body["type"] == "budget_exceeded"  # type: ignore[index]
        with pytest.raises(BudgetExceededError, match="2 model calls"):
            gw.raise_if_budget_exceeded()
    assert store.usage(RUN).calls == 2
    # a re-opened run resumes its budget
    with _gateway(store, sockdir, budgets=GatewayBudgets(max_calls=2)) as gw2, \
            pytest.raises(sia_client.GatewayCallError):
        sia_client.chat([{"role": "user", "content": "x"}], sock=_session(gw2, "sbx-2"))


def test_call_budget_holds_under_concurrency(store: RolloutStore, sockdir: Path) -> None:
    results: list[str] = []
    lock = threading.Lock()
    with _gateway(store, sockdir, budgets=GatewayBudgets(max_calls=10)) as gw:
        sock = _session(gw, "sbx-1")

        def worker() -> None:
            for _ in range(3):
                try:
                    sia_client.chat([{"role": "user", "content": "x"}], sock=sock)
                    outcome = "ok"
                except sia_client.GatewayCallError as e:
                    outcome = e.type
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == ["budget_exceeded"] * 2 + ["ok"] * 10
    assert store.usage(RUN).calls == 10


def test_token_budget_and_per_call_cap(store: RolloutStore, sockdir: Path) -> None:
    backend = EchoBackend()
    budgets = GatewayBudgets(max_tokens=20, max_tokens_per_call=4)
    with _gateway(store, sockdir, backend, budgets) as gw:
        sock = _session(gw, "sbx-1")
        # 9 prompt + 4 completion tokens: the request's 1000 is capped to max_tokens_per_call
        text = sia_client.chat([{"role": "user", "content": "a b c d e f g"}], max_tokens=1000, sock=sock)
        assert text == "echo: a b c" and backend.requests[-1].max_tokens == 4
        sia_client.chat([{"role": "user", "content": "a"}], sock=sock)  # 3 + 2 -> 18 used
        sia_client.chat([{"role": "user", "content": "a"}], sock=sock)  # capped to the 2 tokens left
        assert backend.requests[-1].max_tokens == 2
        with pytest.raises(sia_client.GatewayCallError) as ei:
            sia_client.chat([{"role": "user", "content": "a"}], sock=sock)
        assert ei.value.type == "budget_exceeded" and "20 tokens" in ei.value.message
    assert gw.budget_error is not None and store.usage(RUN).total_tokens == 23


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("body,status,needle", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"{}", 400, "messages: Field required"),
    (b'{"messages": []}', 400, "messages"),
    (b'{"messages": [{"role": "wizard", "content": "x"}]}', 400, "role"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 2}', 400, "n:"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": true}', 400, "stream"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": 9}', 400, "temperature"),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}', 400, "max_tokens"),
    (b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', 400, "text content"),
])
def test_bad_chat_requests(store: RolloutStore, sockdir: Path, body: bytes, status: int, needle: str) -> None:
    with _gateway(store, sockdir) as gw:
        sock = _session(gw, "sbx-1")
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        code, payload, head = _raw(sock, req)
    assert code == status
    assert payload["error"]["type"] == "invalid_request_error" and needle in payload["error"]["message"]
    assert "x-should-retry: false" in head
    assert store.usage(RUN).calls == 0


def test_bad_routes_and_framing(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir) as gw:
        sock = _session(gw, "sbx-1")
        code, payload, _ = _raw(sock, b"GET /v1/nothing HTTP/1.1\r\nHost: g\r\n\r\n")
        assert code == 404 and "no route" in payload["error"]["message"]
        code, payload, _ = _raw(sock, b"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\n\r\n")
        assert code == 411 and "Content-Length" in payload["error"]["message"]
        code, payload, _ = _raw(sock, b"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Length: 999999999\r\n\r\n")
        assert code == 413
        code, payload, _ = _raw(sock, b"DELETE /v1/models HTTP/1.1\r\nHost: g\r\nContent-Length: 0\r\n\r\n")
        assert code == 405
        code, payload, _ = _raw(sock, b"POST /v1/completions HTTP/1.1\r\nHost: g\r\nContent-Length: 2\r\n\r\n{}")
        assert code == 400 and "prompt: Field required" in payload["error"]["message"]
        with pytest.raises(openai.BadRequestError, match="messages"):
            _oai(sock).chat.completions.create(model="m", messages=[])


def test_connection_cap(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir, budgets=GatewayBudgets(max_concurrent_per_session=2)) as gw:
        sock = _session(gw, "sbx-1")
        held = []
        for _ in range(2):
            s = socket.socket(socket.AF_UNIX)
            s.connect(sock)
            held.append(s)
        with socket.socket(socket.AF_UNIX) as extra:
            extra.settimeout(10)
            extra.connect(sock)
            assert extra.recv(100).startswith(b"HTTP/1.1 429")
        for s in held:
            s.close()


# --------------------------------------------------------------------------- secrets


def test_backend_secret_is_never_served(store: RolloutStore, sockdir: Path) -> None:
    with _gateway(store, sockdir, EchoBackend(secret=SECRET)) as gw:
        sock = _session(gw, "sbx-1")
        text = sia_client.chat([{"role": "user", "content": "leak"}], sock=sock)
        assert SECRET not in text and "[redacted]" in text


def test_openai_compatible_backend_against_fake(store: RolloutStore, sockdir: Path) -> None:
    with FakeOpenAIServer(api_key=SECRET) as fake:
        backend = get_model_backend("openai-compatible", model="fake-gpt", base_url=fake.base_url,
                                    api_key=SECRET, max_retries=3)
        with _gateway(store, sockdir, backend) as gw:
            sock = _session(gw, "sbx-1")
            fake.fail_next(2, 429)
            resp = _oai(sock).chat.completions.create(
                model="x", messages=[{"role": "user", "content": "one two three"}], max_tokens=100)
            assert resp.choices[0].message.content == "echo: one two three"
            assert fake.api_calls == 3  # two rate-limited, retried by the SDK inside the platform
            text = sia_client.complete("alpha beta", max_tokens=3, sock=sock)
            assert text == "echo: alpha"
            fake.fail_next(10, 500)  # the fake echoes the Authorization header in its error body
            status, payload, head = _raw(sock, _post("/v1/chat/completions",
                                                     {"messages": [{"role": "user", "content": "x"}]}))
            assert status == 502 and payload["error"]["type"] == "upstream_error"
            assert SECRET not in json.dumps(payload) and SECRET not in head
    sent = fake.requests[0]["body"]
    assert sent["logprobs"] is True and sent["return_token_ids"] is True
    chat, comp = store.model_calls("sbx-1")
    assert chat.completion_token_ids and len(chat.completion_token_ids) == len(chat.token_logprobs) == 7
    assert chat.token_logprobs[0] == pytest.approx(-0.01)
    assert chat.prompt_token_ids and chat.prompt_tokens == len(chat.prompt_token_ids)
    assert comp.completion == "echo: alpha" and len(comp.token_logprobs) == 3 and comp.completion_token_ids
    for call in (chat, comp):
        assert SECRET not in call.model_dump_json()


def test_openai_compatible_token_ids_from_logprob_tokens(sockdir: Path) -> None:
    with FakeOpenAIServer() as fake:
        backend = get_model_backend("openai-compatible", model="m", base_url=fake.base_url, api_key="k")
        fake_body: dict[str, Any] = {}
        orig = fake.route

        def no_token_ids(method: str, path: str, headers: dict[str, str], body: Any) -> dict[str, Any]:
            body = {k: v for k, v in body.items() if k != "return_token_ids"}
            fake_body.update(body)
            return orig(method, path, headers, body)

        fake.route = no_token_ids  # type: ignore[method-assign]
        gen = backend.generate(GenerationRequest(messages=[{"role": "user", "content": "a b"}], max_tokens=9))
    assert fake_body["return_tokens_as_token_ids"] is True
    assert len(gen.completion_token_ids) == len(gen.token_logprobs) == 5 and gen.prompt_token_ids == []


def test_openai_compatible_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIA_TEST_NO_KEY", raising=False)
    with pytest.raises(Exception, match="SIA_TEST_NO_KEY"):
        get_model_backend("openai-compatible", model="m", base_url="http://127.0.0.1:9/v1",
                          api_key_env="SIA_TEST_NO_KEY")


def _post(path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def test_anthropic_backend_against_fake(store: RolloutStore, sockdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIA_TEST_ANTHROPIC_KEY", SECRET)
    with FakeAnthropicServer(api_key=SECRET) as fake:
        backend = get_model_backend("anthropic", model="claude-test", base_url=fake.base_url,
                                    api_key_env="SIA_TEST_ANTHROPIC_KEY", max_retries=3)
        with _gateway(store, sockdir, backend) as gw:
            sock = _session(gw, "sbx-1")
            fake.fail_next(1, 529)
            fake.fail_next(1, 429)
            resp = _oai(sock).chat.completions.create(
                model="x", messages=[{"role": "system", "content": "sys prompt"},
                                     {"role": "user", "content": "hi there"}], max_tokens=64, temperature=1.7)
            assert resp.choices[0].message.content == "echo: hi there"
            assert resp.usage is not None and resp.usage.completion_tokens == 5
            assert fake.api_calls == 3
            fake.queue_tool_use("search", {"q": "x"}, text="let me look")
            assert sia_client.chat([{"role": "user", "content": "?"}], sock=sock) == "let me look"
            assert sia_client.complete("finish this", max_tokens=2, sock=sock) == "echo: "
            fake.fail_next(10, 500)
            status, payload, head = _raw(sock, _post("/v1/chat/completions",
                                                     {"messages": [{"role": "user", "content": "x"}]}))
            assert status == 502 and SECRET not in json.dumps(payload) + head
            status, payload, _ = _raw(sock, _post("/v1/chat/completions",
                                                  {"messages": [{"role": "assistant", "content": "x"}]}))
            assert status == 400 and "user message first" in payload["error"]["message"]
    body = fake.requests[-1]["body"]
    assert fake.requests[2]["body"]["system"] == "sys prompt"
    assert fake.requests[2]["body"]["messages"] == [{"role": "user", "content": "hi there"}]
    assert fake.requests[2]["body"].get("temperature", 1.0) == 1.0  # clamped to Anthropic's range if sent
    assert body is not None
    calls = store.model_calls("sbx-1")
    assert [c.completion for c in calls] == ["echo: hi there", "let me look", "echo: "]
    assert all(c.token_logprobs == [] and c.model == "claude-test" for c in calls)


def test_fake_anthropic_tool_use_roundtrip_with_real_sdk() -> None:
    """The fake serves the tool-use loop the agents use (reply with tool_use, accept tool_result)."""
    import anthropic

    with FakeAnthropicServer(api_key="k") as fake:
        client = anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=2)
        fake.queue_tool_use("write_file", {"path": "a.py", "text": "x"})
        tools = [{"name": "write_file", "description": "write", "input_schema": {"type": "object"}}]
        msgs: list[dict[str, Any]] = [{"role": "user", "content": "do it"}]
        fake.fail_next(2, 529)
        r1 = client.messages.create(model="m", max_tokens=100, messages=msgs, tools=tools)  # type: ignore[arg-type]
        assert r1.stop_reason == "tool_use" and fake.api_calls == 3
        (tu,) = [b for b in r1.content if b.type == "tool_use"]
        assert tu.name == "write_file" and tu.input == {"path": "a.py", "text": "x"}
        msgs += [{"role": "assistant", "content": [b.model_dump() for b in r1.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": "ok"}]}]
        r2 = client.messages.create(model="m", max_tokens=100, messages=msgs, tools=tools)  # type: ignore[arg-type]
        assert r2.stop_reason == "end_turn" and r2.content[0].text == "echo: ok"  # type: ignore[union-attr]
        bad = anthropic.Anthropic(api_key="wrong", base_url=fake.base_url, max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        with pytest.raises(anthropic.BadRequestError, match="tool_result"):
            client.messages.create(model="m", max_tokens=10, messages=[
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}])


# --------------------------------------------------------------------------- local backend


def _models_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("sia_sandbox.models", "transformers", "peft"))


@pytest.mark.slow
@pytest.mark.skipif(not _models_available(), reason="sia_sandbox.models (transformers) is not available")
def test_local_backend_tiny_over_socket(store: RolloutStore, sockdir: Path, tmp_path: Path) -> None:
    backend = get_model_backend("local", model="tiny", device="cpu", adapters_dir=tmp_path / "adapters")
    with _gateway(store, sockdir, backend) as gw:
        resp = _oai(_session(gw, "sbx-1")).chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hello"}], max_tokens=8, temperature=1.0, seed=1)
    (call,) = store.model_calls("sbx-1")
    assert resp.choices[0].message.content == call.completion
    assert 0 < len(call.completion_token_ids) <= 8
    assert len(call.token_logprobs) == len(call.completion_token_ids)
    assert all(lp <= 0.0 for lp in call.token_logprobs)
    assert call.prompt_token_ids and call.prompt_tokens == len(call.prompt_token_ids)
    assert call.adapter_version is None
    assert call.prompt == render_messages(call.messages)  # the tiny tokenizer has no chat template


@pytest.mark.slow
@pytest.mark.skipif(not _models_available(), reason="sia_sandbox.models (transformers) is not available")
def test_local_backend_follows_adapters(store: RolloutStore, sockdir: Path, tmp_path: Path) -> None:
    import peft

    from sia_sandbox.models import load_causal_lm

    adapters = tmp_path / "adapters"
    backend = get_model_backend("local", model="tiny", adapters_dir=adapters)
    with _gateway(store, sockdir, backend) as gw:
        sock = _session(gw, "sbx-1")
        greedy = {"max_tokens": 6, "temperature": 0, "sock": sock}
        first = sia_client.chat([{"role": "user", "content": "hi"}], **greedy)
        assert sia_client.chat([{"role": "user", "content": "hi"}], **greedy) == first  # greedy is deterministic
        base, _ = load_causal_lm("tiny")
        peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules="all-linear")).save_pretrained(
            str(adapters / "0001"))
        sia_client.chat([{"role": "user", "content": "hi"}], **greedy)
        (adapters / "CURRENT").write_text("0009\n")
        with pytest.raises(sia_client.GatewayCallError) as ei:
            sia_client.chat([{"role": "user", "content": "hi"}], **greedy)
        assert ei.value.status == 500
        (adapters / "CURRENT").write_text("0001\n")
        sia_client.complete("abc", max_tokens=3, sock=sock)
    versions = [c.adapter_version for c in store.model_calls("sbx-1")]
    assert versions == [None, None, "0001", "0001"]
    assert backend.adapter_version == "0001"  # type: ignore[attr-defined]
