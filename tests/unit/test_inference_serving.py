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
