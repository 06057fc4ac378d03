"""Online orchestration of embed: the drift-plus-penalty rule on cases solved by hand."""

import pytest

from edgelam_ns3.inference.orchestration import DriftPlusPenalty, EmbedOption

NEAR = EmbedOption("near", work_s=0.1, backlog_s=0.0, delay_s=1.5, link_s=0.0)
FAR = EmbedOption("far", work_s=0.1, backlog_s=0.0, delay_s=0.5, link_s=1.0)


def test_drift_plus_penalty_alternates_to_hold_the_latency_target():
    # V=1.2, T=1. Z=0: near 0 < far 1.2 -> near, Z=0.5; near .75 < 1.45 -> near, Z=1;
    # near 1.5 < 1.7 -> near, Z=1.5; near 2.25 > far 1.2+.75=1.95 -> far, Z=1.0; then
    # near (1.5 < 1.7), far (2.25 > 1.95), ...: the delay averages the target 1.0.
    dpp = DriftPlusPenalty(v=1.2, target_s=1.0)
    picks, zs = [], []
    for _ in range(8):
        picks.append(dpp.choose([NEAR, FAR]).host)
        zs.append(dpp.z)
    assert picks == ["near"] * 3 + ["far", "near", "far", "near", "far"]
    assert zs == pytest.approx([0.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0])


def test_drift_plus_penalty_weighs_backlog_by_work_when_links_are_free():
    busy = EmbedOption("busy", work_s=0.1, backlog_s=2.0, delay_s=0.2, link_s=0.0)
    idle = EmbedOption("idle", work_s=0.3, backlog_s=0.5, delay_s=0.9, link_s=0.0)
    dpp = DriftPlusPenalty(v=5.0, target_s=1.0)  # Z=0: 2*.1=.2 > .5*.3=.15
    assert dpp.choose([busy, idle]).host == "idle" and dpp.z == 0.0
    dpp.z = 1.0  # now 0.2+0.2=.4 < 0.9+.15=1.05: the latency debt wins
    assert dpp.choose([busy, idle]).host == "busy" and dpp.z == pytest.approx(0.2)


def test_drift_plus_penalty_rejects_a_bad_target():
    with pytest.raises(ValueError, match="target_s > 0"):
        DriftPlusPenalty(1.0, 0.0)


def test_a_large_v_keeps_embed_where_it_moves_no_hidden_state(tmp_path):
    # every heavy service on edge1: an embed elsewhere would send each token's hidden state
    # (n_embd x 4 bytes) over edge1's 200 Mbit/s link, an embed on edge1 only the prompt
    from test_inference_placement import _lone_request_framework, _serve_alone

    from edgelam_ns3.inference.requests import poisson_requests

    fw = _lone_request_framework(tmp_path, placement={
        "orchestration": "lyapunov", "lyapunov_v": 1e6, "latency_target_s": 10.0})
    fw.requests = poisson_requests(50.0, 0.2, 24, 4, ["ue0"], seed=3)
    _serve_alone(fw, [1, 1, 1])
    assert len(fw.rows) == len(fw.requests) > 3
    assert {r["embed_host"] for r in fw.rows} == {"edge1"}
    assert fw.dpp.z == 0.0  # every delay under the 10 s target
