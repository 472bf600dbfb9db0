"""The offline agent: UCB over declared edits that learns from verified verdicts only, and the plateau rule."""

from __future__ import annotations

import pytest

from sia_sandbox.agents.offline import arm_stats, best_verified, normalised_rewards, stall_length
from sia_sandbox.agents.registry import get_agent
from sia_sandbox.agents.task_space import load_search_space
from sia_sandbox.agents.types import Harness, HistoryEntry, ProposalContext, TraceView, VerdictView
from sia_sandbox.errors import ConfigError
from sia_sandbox.tasks import load_task


@pytest.fixture(scope="module")
def space():
    task = load_task("trimul")
    return load_search_space(task.root, task.project_root)


def entry(space, gen, verdict, score, lever=None, **edits):
    choices = {**space.start_harness().choices, **edits}
    return HistoryEntry(gen_index=gen, candidate_id=f"g{gen:04d}-c0", harness=Harness(choices=choices, delegate=["CHUNK"]),
                        verdict=verdict, score=score, perturbed_score=score, lever_after=lever)


def trace(gen, verdict="verified", score=1.0):
    return TraceView(task="trimul", gen_index=gen, candidate_id=f"g{gen:04d}-c0", scaffold={},
                     harness=Harness(), verdict=VerdictView(verdict=verdict, score=score, perturbed_score=score,
                                                            drift=0.0))


def test_search_space_matches_the_kernel_variant_space(space):
    from kernels.trimul.variants import VARIANT_SPACE

    assert {d.name for d in space.dimensions} == set(VARIANT_SPACE)
    for dim in space.dimensions:
        assert sorted(map(repr, dim.options)) == sorted(map(repr, VARIANT_SPACE[dim.name]))


def test_first_proposal_is_the_declared_start_harness(space):
    agent = get_agent("offline", space=space)
    cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=0))
    assert cand.harness.choices == space.start_harness().choices
    assert cand.harness.delegate == ["CHUNK"]
    assert cand.candidate_id == "g0000-c0" and cand.parent_id is None
    assert {"main.py", "harness.json", "scaffold_lib.py", "base_submission.py"} <= set(cand.scaffold_files)


def test_suspicious_high_score_earns_no_reward_and_never_becomes_best(space):
    hist = [
        entry(space, 0, "verified", 1.0),
        entry(space, 1, "suspicious", 1000.0, PRECISION="bf16_all"),
        entry(space, 2, "rejected", None, PRECISION="fp16_contraction"),
    ]
    assert best_verified(hist, "maximize").candidate_id == "g0000-c0"
    assert set(normalised_rewards(hist, "maximize")) == {"g0000-c0"}
    stats = arm_stats(hist, "maximize")
    # Pulled, but no reward: the gamed arm's value does not rise above the prior.
    assert stats[("PRECISION", '"bf16_all"')] == (1, 0.0)
    assert stats[("PRECISION", '"fp16_contraction"')] == (1, 0.0)
    assert stats[("PRECISION", '"fp32"')][1] > 0


def test_bandit_prefers_arms_with_verified_gains(space):
    agent = get_agent("offline", space=space)
    # Every single edit of the best harness has been tried once; only LAYOUT=channel_major was verified good.
    best = entry(space, 0, "verified", 2.0, LAYOUT="channel_major")
    hist = [entry(space, 1, "verified", 1.0), best]
    gen = 2
    for dim in space.dimensions:
        for value in dim.options:
            if value != best.harness.choices[dim.name]:
                hist.append(entry(space, gen, "rejected", None, **{**best.harness.choices, dim.name: value}))
                gen += 1
    cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=gen, history=hist))
    # All single edits of the best are tried, so it restarts randomly; never re-proposes a tried harness.
    tried = {tuple(sorted(h.harness.choices.items())) for h in hist}
    assert tuple(sorted(cand.harness.choices.items())) not in tried


def test_untried_edits_of_the_best_verified_harness_come_first(space):
    agent = get_agent("offline", space=space)
    hist = [entry(space, 0, "verified", 1.0), entry(space, 1, "verified", 3.0, LAYOUT="channel_major"),
            entry(space, 2, "suspicious", 50.0, PRECISION="bf16_all", LAYOUT="channel_major")]
    cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=3, history=hist))
    assert cand.parent_id == "g0001-c0"
    diff = {k for k, v in cand.harness.choices.items() if hist[1].harness.choices[k] != v}
    assert len(diff) == 1


def test_proposals_are_a_function_of_the_history(space):
    a, b = get_agent("offline", space=space, seed=3), get_agent("offline", space=space, seed=3)
    hist = [entry(space, 0, "verified", 1.0)]
    ctx = ProposalContext(task="trimul", task_doc="", gen_index=1, history=hist)
    assert a.propose(ctx).harness == b.propose(ctx).harness


def test_plateau_rule_chooses_weights_after_k_stalled_generations(space):
    agent = get_agent("offline", space=space, plateau_k=2)
    hist = [entry(space, 0, "verified", 1.0), entry(space, 1, "verified", 1.0)]
    assert agent.feedback(trace(1), hist).lever == "harness"
    hist.append(entry(space, 2, "rejected", None))
    action = agent.feedback(trace(2, "rejected", None), hist)
    assert action.lever == "weights" and action.algorithm is None
    assert "plateau_k=2" in action.reason
    # A weight update resets the counter; an improvement does too.
    hist = hist[:-1] + [entry(space, 2, "rejected", None, lever="weights"), entry(space, 3, "verified", 1.0)]
    assert stall_length(hist, "maximize") == 1
    assert agent.feedback(trace(3), hist).lever == "harness"
    hist2 = [entry(space, 0, "verified", 1.0), entry(space, 1, "verified", 1.0), entry(space, 2, "verified", 1.5)]
    assert agent.feedback(trace(2), hist2).lever == "harness"


def test_suspicious_scores_do_not_count_as_progress(space):
    agent = get_agent("offline", space=space, plateau_k=2)
    hist = [entry(space, 0, "verified", 1.0), entry(space, 1, "suspicious", 99.0), entry(space, 2, "suspicious", 99.0)]
    assert stall_length(hist, "maximize") == 2
    action = agent.feedback(trace(2, "suspicious", 99.0), hist)
    assert action.lever == "weights"
    assert "SUSPICIOUS" in action.improvement_md


def test_no_weights_without_model_rollouts(space):
    agent = get_agent("offline", space=space, plateau_k=1)
    hist = [HistoryEntry(gen_index=i, candidate_id=f"g{i:04d}-c0", harness=Harness(choices=space.start_harness().choices),
                         verdict="verified", score=1.0) for i in range(3)]
    assert agent.feedback(trace(2), hist).lever == "harness"


def test_minimize_direction(space):
    hist = [entry(space, 0, "verified", 0.5), entry(space, 1, "verified", 0.2)]
    assert best_verified(hist, "minimize").candidate_id == "g0001-c0"
    assert normalised_rewards(hist, "minimize")["g0001-c0"] == pytest.approx(1.0)


def test_unknown_agent_lists_the_known_ones(space):
    with pytest.raises(ConfigError) as e:
        get_agent("nope", space=space)
    assert "offline" in (e.value.hint or "")
