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


def test_first_edits_follow_the_declared_priorities(space):
    agent = get_agent("offline", space=space)
    hist = [entry(space, 0, "verified", 1.0)]
    cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=1, history=hist))
    # LAYOUT has the largest declared effect; its first declared option is tried first.
    assert cand.harness.choices == {**space.start_harness().choices, "LAYOUT": "channel_major"}
    assert "LAYOUT" in cand.notes and "untried" in cand.notes


def test_dimensions_are_edited_only_where_they_matter(space):
    agent = get_agent("offline", space=space)
    best = entry(space, 1, "verified", 2.0, LAYOUT="channel_major")
    hist = [entry(space, 0, "verified", 1.0), best]
    seen = []
    for gen in range(2, 8):
        cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=gen, history=hist))
        (changed,) = [k for k, v in cand.harness.choices.items() if best.harness.choices[k] != v]
        seen.append(changed)
        # Everything is slower than the best, so the parent stays the channel-major harness.
        hist.append(entry(space, gen, "verified", 1.5, **cand.harness.choices))
    # BLOCK and ORIENT only change the blocked layout: never edited under channel_major. The
    # delegated CHUNK (the task model picks it) comes after every harness-owned edit.
    assert "BLOCK" not in seen and "ORIENT" not in seen
    # The layout's runner-up (priority 10 / 2) comes after the first options of PROJECTION (8) and
    # SKIP_MASKED (6).
    assert seen[:3] == ["PROJECTION", "SKIP_MASKED", "LAYOUT"]
    assert "CHUNK" not in seen[:5]


def test_equivalent_harnesses_are_never_proposed_twice(space):
    agent = get_agent("offline", space=space)
    hist = [entry(space, 0, "verified", 1.0)]
    keys = {space.canonical_key(hist[0].harness)}
    for gen in range(1, 40):
        cand = agent.propose(ProposalContext(task="trimul", task_doc="", gen_index=gen, history=hist))
        key = space.canonical_key(cand.harness)
        assert key not in keys, (gen, cand.notes)
        keys.add(key)
        score = 2.0 if cand.harness.choices["LAYOUT"] == "channel_major" else 1.0
        hist.append(entry(space, gen, "verified", score + gen * 1e-3, **cand.harness.choices))
    # Harnesses differing only in a dimension that is inactive for both share a key.
    a = Harness(choices={**space.start_harness().choices, "BLOCK": 256}, delegate=["CHUNK"])
    b = Harness(choices={**space.start_harness().choices, "BLOCK": 2048}, delegate=["CHUNK"])
    assert space.canonical_key(a) == space.canonical_key(b)
    assert space.canonical_key(a) != space.canonical_key(
        Harness(choices={**a.choices, "LAYOUT": "blocked"}, delegate=["CHUNK"]))


def test_inactive_dimensions_earn_no_reward(space):
    hist = [entry(space, 0, "verified", 1.0), entry(space, 1, "verified", 2.0, LAYOUT="blocked", BLOCK=256)]
    stats = arm_stats(hist, "maximize", space)
    assert stats[("BLOCK", "256")] == (1, 1.0)
    # gen 0 ran position_major: its BLOCK=512 was never used, so it is not a pull.
    assert ("BLOCK", "512") not in stats
    assert ("BLOCK", "512") in arm_stats(hist, "maximize")


def test_when_must_name_other_dimensions_and_their_options(tmp_path):
    from sia_sandbox.errors import TaskError

    base = ('schema_version = 1\ntask = "t"\nbase_submission = "b.py"\n'
            '[[dimensions]]\nname = "A"\noptions = [1, 2]\n'
            '[[dimensions]]\nname = "B"\noptions = [3, 4]\nwhen = {when}\n')
    for when, problem in (('{ Z = 1 }', "when.Z"), ('{ A = 5 }', "when.A = 5"), ('{ B = 3 }', "when.B")):
        (tmp_path / "search_space.toml").write_text(base.replace("{when}", when))
        with pytest.raises(TaskError, match=problem.replace(".", r"\.")):
            load_search_space(tmp_path, tmp_path)
    (tmp_path / "search_space.toml").write_text(base.replace("{when}", "{ A = [2] }"))
    sp = load_search_space(tmp_path, tmp_path)
    assert not sp.dimension("B").active({"A": 1}) and sp.dimension("B").active({"A": 2})
