"""Serving on one host without the network: queueing against M/D/1, batching, KV budget."""

import numpy as np
import pytest

from edgelam_ns3.compute import BUILTIN_PROFILES, duration_s
from edgelam_ns3.inference.serving import EventClock, HostServer, KvBudget, WorkItem
from edgelam_ns3.models.microservices import MicroserviceLAM, ServiceCall, gpt2_like

MODEL = MicroserviceLAM(gpt2_like(4, 64, 4, vocab_size=100, n_positions=256), 2, "cost")
PROFILE = BUILTIN_PROFILES["jetson_orin"]


def _prefill_time(prompt: int) -> float:
    return sum(duration_s(PROFILE, r.flops, r.bytes_moved) for r in
               (MODEL.run(s, [ServiceCall(0, prompt, 0)]) for s in MODEL.services))


def _call_time(service: str, shapes: list[tuple[int, int]]) -> float:
    r = MODEL.run(service, [ServiceCall(i, q, p) for i, (q, p) in enumerate(shapes)])
    return duration_s(PROFILE, r.flops, r.bytes_moved)


def test_mean_wait_matches_md1_with_poisson_arrivals_and_deterministic_service():
    d = _prefill_time(32)
    rho, n = 0.6, 40000
    clock, waits = EventClock(), []
    host = HostServer("edge0", PROFILE, clock, MODEL, max_batch_tokens=10**6,
                      max_batch_requests=1)
    done = lambda it, out: waits.append(it.t_start_s - it.t_queued_s)  # noqa: E731
    arrivals = np.cumsum(np.random.default_rng(7).exponential(d / rho, n))
    for i, t in enumerate(arrivals):
        clock.schedule(t, host.submit, WorkItem(i, MODEL.services, 32, 0, on_done=done))
    clock.run()
    md1 = rho * d / (2 * (1 - rho))  # Pollaczek-Khinchine with zero service variance
    assert len(waits) == n
    assert np.mean(waits) == pytest.approx(md1, rel=0.03)
    assert host.busy_s == pytest.approx(n * d)


def test_continuous_batching_takes_queued_work_up_to_max_batch_tokens():
    clock, calls = EventClock(), []
    host = HostServer("edge0", PROFILE, clock, MODEL, max_batch_tokens=40,
                      max_batch_requests=8, on_call=calls.append)
    for i, q in enumerate([30, 1, 1, 20, 1]):  # 30 runs alone; then 1+1+20+1 = 23 tokens
        host.submit(WorkItem(i, ["blocks0"], q, 0 if q > 1 else 5))
    clock.run()
    assert [c["batch_tokens"] for c in calls] == [30] + [23] * 4  # a row per request
    assert [c["batch_requests"] for c in calls] == [1] + [4] * 4
    assert [c["req"] for c in calls] == [0, 1, 2, 3, 4]
    assert host.iterations == 2


def test_service_rows_say_each_requests_queue_wait_and_call_times():
    clock, rows = EventClock(), []
    host = HostServer("edge0", PROFILE, clock, MODEL, max_batch_tokens=40,
                      max_batch_requests=8, on_call=rows.append)
    for i, q in enumerate([30, 1, 20]):  # 30 runs at once; 1 and 20 wait for its end
        host.submit(WorkItem(i, ["blocks0", "blocks1"], q, 0 if q > 1 else 5))
    clock.run()
    d0 = _call_time("blocks0", [(30, 0)]) + _call_time("blocks1", [(30, 0)])
    by = {(r["req"], r["service"]): r for r in rows}
    assert by[0, "blocks0"]["queue_wait_s"] == 0 and by[0, "blocks1"]["t_end_s"] == \
        pytest.approx(d0)
    assert by[1, "blocks0"]["queue_wait_s"] == by[2, "blocks0"]["queue_wait_s"] == \
        pytest.approx(d0)
    b0 = _call_time("blocks0", [(1, 5), (20, 0)])
    assert by[2, "blocks0"]["compute_s"] == pytest.approx(b0)
    assert by[2, "blocks1"]["t_start_s"] == pytest.approx(d0 + b0)
    assert by[1, "blocks0"]["phase"] == "decode" and by[2, "blocks0"]["phase"] == "prefill"
    assert by[2, "blocks1"]["out_bytes"] == 20 * 64 * 4


def test_kv_budget_refuses_what_does_not_fit():
    kv = KvBudget(100.0)
    kv.reserve(60)
    assert not kv.fits(50) and kv.fits(40)
    with pytest.raises(RuntimeError, match="KV budget exceeded"):
        kv.reserve(50)
    kv.free(60)
    assert kv.used_bytes == 0 and kv.peak_bytes == 60


# -- chunked prefill and preemption (vLLM-style) ---------------------------------------------

def _host(clock, rows, **kw) -> HostServer:
    return HostServer("edge0", PROFILE, clock, kw.pop("model", MODEL), kw.pop("tokens", 10**6),
                      64, rows.append, **kw)


def test_chunked_prefill_shares_iterations_with_decodes_within_max_batch_tokens():
    clock, rows, done = EventClock(), [], {}
    host = _host(clock, rows, tokens=16, chunked_prefill=True)
    on_done = lambda it, out: done.setdefault(it.req, clock.now)  # noqa: E731
    host.submit(WorkItem(0, ["blocks0"], 40, 0, on_done=on_done))  # runs 16 tokens at once
    host.submit(WorkItem(1, ["blocks0"], 1, 5, on_done=on_done))
    host.submit(WorkItem(2, ["blocks0"], 1, 7, on_done=on_done))
    clock.run()
    it1 = _call_time("blocks0", [(16, 0)])
    it2 = _call_time("blocks0", [(1, 5), (1, 7), (14, 16)])  # decodes first, then a chunk
    it3 = _call_time("blocks0", [(10, 30)])
    assert [(r["req"], r["q_len"], r["past_len"]) for r in rows] == [
        (0, 16, 0), (1, 1, 5), (2, 1, 7), (0, 14, 16), (0, 10, 30)]
    assert all(r["batch_tokens"] <= 16 for r in rows)
    assert done == {1: pytest.approx(it1 + it2), 2: pytest.approx(it1 + it2),
                    0: pytest.approx(it1 + it2 + it3)}
    assert host.iterations == 3


def test_chunked_prefill_gives_the_same_hidden_states_and_token_as_one_prefill():
    import torch

    real = MicroserviceLAM(gpt2_like(4, 64, 4, vocab_size=100, n_positions=256), 2, "real")
    ids = torch.randint(0, 100, (37,), generator=torch.Generator().manual_seed(3))
    outs = {}
    for chunked in (False, True):
        clock = EventClock()
        host = HostServer("edge0", PROFILE, clock, real, 8 if chunked else 10**6, 64,
                          chunked_prefill=chunked)
        host.submit(WorkItem(chunked, real.services, 37, 0, ids,
                             on_done=lambda it, out: outs.setdefault(it.req, out)))
        host.submit(WorkItem(10 + chunked, ["embed", "blocks0", "blocks1"], 37, 0, ids,
                             on_done=lambda it, out: outs.setdefault(it.req, out)))
        clock.run()
        assert host.iterations == (10 if chunked else 2)  # 8, then 66 tokens in chunks of 8
    assert outs[0] == outs[1]  # the next token
    assert outs[10].shape == (37, 64) and torch.allclose(outs[10], outs[11], atol=1e-5)


KV_PER_TOKEN = 2 * 2 * 64 * 4  # blocks0: 2 blocks, n_embd 64, float32


def _preemption_case(preemption: str, swap_bw: float = 1e6):
    """A (prompt 8, 3 decode steps) and B (prompt 8, 1 decode step) on a host whose KV holds
    17 tokens: A's second decode step needs an 18th, so B (later) is preempted."""
    clock, rows, ends = EventClock(), [], {}
    host = _host(clock, rows, kv=KvBudget(17 * KV_PER_TOKEN), preemption=preemption,
                 swap_bytes_per_s=swap_bw)
    steps = {0: 3, 1: 1}

    def on_done(it, out):
        ctx = it.past_len + it.q_len
        if steps[it.req]:
            steps[it.req] -= 1
            host.submit(WorkItem(it.req, ["blocks0"], 1, ctx, on_done=on_done))
        else:
            ends[it.req] = clock.now
            host.release(it.req)

    host.submit(WorkItem(0, ["blocks0"], 8, 0, on_done=on_done))
    host.submit(WorkItem(1, ["blocks0"], 8, 0, on_done=on_done))
    clock.run()
    return host, rows, ends


def test_preemption_by_recompute_reruns_the_victims_context_when_memory_frees():
    host, rows, ends = _preemption_case("recompute")
    t = [_call_time("blocks0", [(8, 0)]), _call_time("blocks0", [(8, 0), (1, 8)]),
         _call_time("blocks0", [(1, 9)]), _call_time("blocks0", [(1, 10)]),
         _call_time("blocks0", [(9, 0)])]  # B's prompt and first token, recomputed
    assert ends == {0: pytest.approx(sum(t[:4])), 1: pytest.approx(sum(t))}
    assert host.preemptions == 1 and host.kv.used_bytes == 0
    assert host.kv.peak_bytes == 17 * KV_PER_TOKEN
    last = rows[-1]
    assert (last["req"], last["phase"], last["q_len"], last["past_len"]) == \
        (1, "recompute", 9, 0) and last["out_bytes"] == 64 * 4


def test_preemption_by_swap_charges_the_kv_bytes_out_and_back_in():
    bw = 1e6
    host, rows, ends = _preemption_case("swap", bw)
    swap = 8 * KV_PER_TOKEN / bw  # B's 8 tokens, out in A's third iteration, in for B's step
    t = [_call_time("blocks0", [(8, 0)]), _call_time("blocks0", [(8, 0), (1, 8)]),
         _call_time("blocks0", [(1, 9)]) + swap, _call_time("blocks0", [(1, 10)]),
         _call_time("blocks0", [(1, 8)]) + swap]
    assert ends == {0: pytest.approx(sum(t[:4])), 1: pytest.approx(sum(t))}
    assert host.preemptions == 1 and host.kv.used_bytes == 0
    assert [r["phase"] for r in rows if r["req"] == 1] == ["prefill", "decode"]


@pytest.mark.parametrize("kv_policy", ["recompute", "swap"])
def test_served_requests_all_finish_when_preempted_within_a_small_kv_memory(tmp_path,
                                                                           kv_policy):
    from test_inference_placement import _lone_request_framework

    # 4 requests of 12 + 6 tokens on edge0, whose KV memory holds 30 tokens of blocks0 and
    # blocks1 (4 kB per token each): together they need 72, so later ones are preempted
    fw = _lone_request_framework(
        tmp_path, 12, 6, {"kv_policy": kv_policy, "kv_memory_fraction": 1.0},
        mode="real", placement={"policy": "monolithic", "orchestration": "static"},
        n_requests=4)
    fw.kv["edge0"].capacity_bytes = 30 * 2 * 4096
    fw.start()
    fw.sim.run()
    srv = fw.servers["edge0"]
    assert len(fw.rows) == 4 and not any(r["rejected"] for r in fw.rows)
    assert srv.preemptions > 0 and fw.kv["edge0"].used_bytes == 0
    assert fw.kv["edge0"].peak_bytes <= fw.kv["edge0"].capacity_bytes
    phases = {c["phase"] for c in fw.calls}
    assert ("recompute" in phases) == (kv_policy == "recompute")
