"""The Claude agent with the real ``anthropic`` client against the local fake messages API."""

from __future__ import annotations

import pytest

from sia_sandbox.agents.base import AgentCallError
from sia_sandbox.agents.registry import get_agent
from sia_sandbox.agents.task_space import load_search_space
from sia_sandbox.agents.types import Harness, HistoryEntry, ProposalContext, TraceView, VerdictView
from sia_sandbox.errors import ConfigError
from sia_sandbox.tasks import load_task
from tests.fakes.fake_anthropic_server import FakeAnthropicServer

KEY = "sk-ant-test-dummy"


@pytest.fixture(scope="module")
def space():
    task = load_task("trimul")
    return load_search_space(task.root, task.project_root)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAnthropicServer(api_key=KEY) as srv:
        yield srv


def agent(space, server, **kw):
    return get_agent("claude", space=space, base_url=server.base_url, backoff_s=0.01, **kw)


def ctx(gen=0, **kw):
    return ProposalContext(task="trimul", task_doc="Make TriMul fast.", gen_index=gen, **kw)


def trace(verdict="verified"):
    return TraceView(task="trimul", gen_index=0, candidate_id="g0000-c0", scaffold={"main.py": "print(1)"},
                     harness=Harness(), verdict=VerdictView(verdict=verdict, score=0.5, perturbed_score=0.1, drift=0.8,
                                                            suspicious=verdict == "suspicious"))


def test_write_scaffold_tool_answer_becomes_a_candidate(space, server):
    server.queue_tool_use("write_scaffold", {"choices": {"LAYOUT": "channel_major", "CHUNK": 16},
                                             "delegate": ["CHUNK"], "notes": "channel-major layout"})
    cand = agent(space, server).propose(ctx())
    assert cand.harness.choices["LAYOUT"] == "channel_major" and cand.harness.choices["CHUNK"] == 16
    # Dimensions Claude left out keep the start harness.
    assert cand.harness.choices["PROJECTION"] == space.start_harness().choices["PROJECTION"]
    assert cand.harness.delegate == ["CHUNK"] and cand.notes == "channel-major layout"
    assert cand.scaffold_files["main.py"] == space.template_path.read_text()
    assert server.api_calls == 1


def test_main_py_rewrite_is_kept(space, server):
    server.queue_tool_use("write_scaffold", {"choices": {}, "notes": "own program", "main_py": "print('hi')\n"})
    cand = agent(space, server).propose(ctx())
    assert cand.scaffold_files["main.py"] == "print('hi')\n"


@pytest.mark.parametrize("status", [429, 529, 500, 503])
def test_rate_limits_and_overload_are_retried(space, server, status):
    server.fail_next(2, status)
    server.queue_tool_use("choose_action", {"lever": "weights", "algorithm": None, "reason": "plateau",
                                            "improvement_md": "# note"})
    action = agent(space, server).feedback(trace(), [])
    assert action.lever == "weights" and action.algorithm is None and action.improvement_md == "# note"
    assert server.api_calls == 3


def test_exhausted_retries_are_an_agent_error_not_a_task_failure(space, server):
    server.fail_next(3, 529)
    with pytest.raises(AgentCallError) as e:
        agent(space, server, max_attempts=3).propose(ctx())
    assert "after 3 attempts" in e.value.message
    assert server.api_calls == 3


def test_an_answer_outside_the_search_space_is_an_agent_error(space, server):
    server.queue_tool_use("write_scaffold", {"choices": {"CHUNK": 7}, "notes": "x"})
    with pytest.raises(AgentCallError):
        agent(space, server, max_attempts=1).propose(ctx())


def test_a_text_answer_without_the_tool_is_retried(space, server):
    server.queue_text("I think you should use channel_major.")
    server.queue_tool_use("choose_action", {"lever": "harness", "reason": "more edits", "improvement_md": "n"})
    action = agent(space, server).feedback(trace("suspicious"), [])
    assert action.lever == "harness"
    assert server.api_calls == 2


def test_auth_errors_are_not_retried(space, server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "wrong-key")
    with pytest.raises(AgentCallError) as e:
        agent(space, server).propose(ctx())
    assert "401" in e.value.message
    assert server.api_calls == 1


def test_the_request_carries_the_forced_tool_and_the_history(space, server):
    seen = []
    server.queue_tool_use("write_scaffold", {"choices": {}, "notes": "n"})
    orig = server.route

    def spy(method, path, headers, body):
        seen.append(body)
        return orig(method, path, headers, body)

    server.route = spy
    hist = [HistoryEntry(gen_index=0, candidate_id="g0000-c0", harness=space.start_harness(), verdict="suspicious",
                         score=9.0)]
    agent(space, server, model="claude-test-model").propose(ctx(gen=1, history=hist))
    body = seen[0]
    assert body["model"] == "claude-test-model"
    assert body["tool_choice"] == {"type": "tool", "name": "write_scaffold"}
    schema = body["tools"][0]["input_schema"]["properties"]["choices"]["properties"]
    assert schema["CHUNK"]["enum"] == space.dimension("CHUNK").options
    assert "suspicious" in body["messages"][0]["content"]


def test_missing_key_is_a_config_error(space, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError):
        get_agent("claude", space=space)
