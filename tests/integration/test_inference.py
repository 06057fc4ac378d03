"""microservice_inference end to end on the simulated network: one request against the
closed form, trace replay into requests.parquet, the policies and the options check."""

import numpy as np
import pandas as pd
import pytest

from edgelam_ns3 import config
from edgelam_ns3.compute import BUILTIN_PROFILES, duration_s
from edgelam_ns3.inference.requests import read_azure_trace, trace_window
from edgelam_ns3.models.microservices import MicroserviceLAM, ServiceCall, gpt2_like
from edgelam_ns3.scenario import run_scenario

UDP_OVERHEAD = 20 + 8 + 2  # IPv4 + UDP + PPP bytes per datagram (tests/integration/test_transport)
UE_RATE, UE_DELAY, BH_RATE, BH_DELAY = 100e6, 0.001, 1e9, 0.0005
SMALL = {"mode": "cost", "n_layer": 4, "n_embd": 256, "n_head": 4, "vocab_size": 1000,
         "n_positions": 8192, "n_groups": 2}


def _cfg(**inference):
    raw = {"name": "inference-test", "nodes": {"n_devices": 2, "n_edge": 2, "cloud": True},
           "radio": {"mode": "ideal", "ideal": {"rate_bps": UE_RATE, "delay_s": UE_DELAY}},
           "backhaul": {"links": [
               {"a": "gnb", "b": "edge0", "rate_bps": BH_RATE, "delay_s": BH_DELAY},
               {"a": "gnb", "b": "edge1", "rate_bps": BH_RATE, "delay_s": BH_DELAY},
               {"a": "gnb", "b": "cloud", "rate_bps": 1e9, "delay_s": 0.01}]},
           "transport": {"protocol": "udp"},
           "train": {"framework": "microservice_inference"},
           "trace": {"link_state_period_s": 0.5},
           "inference": {"model": SMALL, **inference}}
    return config.from_dict(raw)


def _hops(nbytes: int) -> float:
    """One datagram UE -> gNB -> edge (or back), store and forward, idle links."""
    wire = (nbytes + UDP_OVERHEAD) * 8
    return wire / UE_RATE + UE_DELAY + wire / BH_RATE + BH_DELAY


def test_one_request_alone_ttft_and_tpot_equal_the_closed_form(tmp_path, capsys):
    prompt, output = 64, 6
    csv = tmp_path / "one.csv"
    csv.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                   f"2023-11-16 18:15:46.6805900,{prompt},{output}")
    cfg = _cfg(source={"kind": "trace", "trace": str(csv), "duration_s": 1.0},
               placement={"policy": "monolithic", "orchestration": "static"})
    summary = run_scenario(cfg, tmp_path / "run")
    assert summary["status"] == "ok", summary.get("error")
    start = next(x for x in capsys.readouterr().out.splitlines() if "microservice_inference" in x)
    assert "1 requests" in start and "rounds" not in start
    row = pd.read_parquet(tmp_path / "run" / "traces" / "requests.parquet").iloc[0]
    model = MicroserviceLAM(gpt2_like(4, 256, 4, 1000, 8192), 2, "cost")
    edge = BUILTIN_PROFILES["edge_gpu_server"]

    def step(q, past):  # one iteration of every service on edge0 [s]
        return sum(duration_s(edge, r.flops, r.bytes_moved) for r in
                   (model.run(s, [ServiceCall(0, q, past)]) for s in model.services))

    ttft = _hops(prompt * 4) + step(prompt, 0) + _hops(4)
    tpot = np.mean([step(1, prompt + k) for k in range(output - 1)])
    assert row.ttft_s == pytest.approx(ttft, abs=1e-7)
    assert row.tpot_s == pytest.approx(tpot, abs=1e-7)
    assert row.e2e_s == pytest.approx(ttft + (output - 1) * tpot, abs=1e-7)
    calls = pd.read_parquet(tmp_path / "run" / "traces" / "services.parquet")
    assert len(calls) == output * len(model.services) and set(calls.host) == {"edge0"}


def test_trace_replay_matches_the_scaled_window(tmp_path):
    start, duration, scale = 30.0, 2.0, 2.0
    cfg = _cfg(source={"kind": "trace", "trace": "conversation", "start_s": start,
                       "duration_s": duration, "rate_scale": scale},
               placement={"policy": "greedy"})
    summary = run_scenario(cfg, tmp_path)
    assert summary["status"] == "ok", summary.get("error")
    got = pd.read_parquet(tmp_path / "traces" / "requests.parquet").sort_values("id")
    t_s, ctx, gen = read_azure_trace("conversation")
    idx, arrival = trace_window(t_s, start, duration, scale)
    assert len(got) == len(idx) == summary["inference"]["requests"] > 5
    assert np.allclose(got.t_arrival_s, arrival, atol=0)
    assert np.all(got.t_arrival_s < duration)
    assert list(got.prompt_tokens) == [max(int(c), 1) for c in ctx[idx]]
    assert list(got.output_tokens) == [max(int(g), 1) for g in gen[idx]]
    assert (got.ttft_s > 0).all() and (got.e2e_s >= got.ttft_s).all()
    assert summary["inference"]["on_time_ratio"] == pytest.approx(got.on_time.mean())


def test_inference_options_are_rejected_by_the_training_frameworks():
    with pytest.raises(config.ConfigError, match="inference.placement.policy.*microservice"):
        config.from_dict({"inference": {"placement": {"policy": "cloud"}}})



def test_real_and_cost_modes_give_the_same_request_times(tmp_path):
    tiny = {**SMALL, "n_embd": 64, "vocab_size": 100, "n_positions": 64}
    times = {}
    for mode in ("real", "cost"):
        cfg = _cfg(source={"kind": "poisson", "rate_per_s": 4.0, "duration_s": 2.0,
                           "prompt_tokens": 16, "output_tokens": 4},
                   placement={"policy": "random"})
        cfg = config.from_dict({**cfg.model_dump(), "inference": {
            **cfg.inference.model_dump(), "model": {**tiny, "mode": mode}}})
        summary = run_scenario(cfg, tmp_path / mode)
        assert summary["status"] == "ok", summary.get("error")
        times[mode] = pd.read_parquet(tmp_path / mode / "traces" / "requests.parquet")
    cols = ["id", "t_arrival_s", "ttft_s", "tpot_s", "e2e_s", "embed_host"]
    assert len(times["real"]) >= 4
    pd.testing.assert_frame_equal(times["real"][cols], times["cost"][cols])


def test_a_host_that_does_not_compute_is_named_before_the_run(tmp_path):
    cfg = _cfg(source={"kind": "poisson", "duration_s": 20.0},
               placement={"hosts": ["edge0", "gnb"]})
    with pytest.raises(ValueError, match="inference.placement.hosts: 'gnb'"):
        run_scenario(cfg, tmp_path)
