"""The training frameworks on the simulated network: real exchanges, radio shares, parity of
the looped tensor-parallel step with the monolithic model, DP accounting."""

import math

import pandas as pd
import pytest
import torch

from edgelam_ns3 import config
from edgelam_ns3.scenario import run_scenario

B, T, D = 4, 32, 64  # a small model keeps these runs to seconds
# the 'ideal' radio: its rates are configured, so latencies have closed forms
SMALL = [f"train.batch_size={B}", f"model.seq_len={T}", f"model.n_embd={D}", "model.n_layer=2",
         "radio.mode=ideal"]
SMALL_LOOPED = [o for o in SMALL if not o.startswith("model.n_layer")]  # one block, looped


def as_framework(framework):
    """Overrides that turn split-finetune (split_fed_lora, lyapunov) into ``framework`` with
    every device every round: the scheduling options back to their defaults where the
    framework schedules no devices (it rejects them otherwise)."""
    from edgelam_ns3.frameworks import SCHEDULING

    if framework in SCHEDULING:
        return [f"train.framework={framework}", "train.policy=all"]
    f = config.TrainConfig.model_fields
    return [f"train.framework={framework}", "train.policy=null",
            f"train.k={f['k'].default}", f"train.min_participation={f['min_participation'].default}"]


def run(tmp_path, scenario, *overrides, small=SMALL):
    cfg = config.load(scenario, small + list(overrides))
    out = tmp_path / "run"
    summary = run_scenario(cfg, out)
    t = {p.stem: pd.read_parquet(p) for p in (out / "traces").glob("*.parquet")}
    return cfg, summary, t


def tcp_latency(nbytes, rate, delay, backhaul_rate=10e9, backhaul_delay=0.0005):
    """Closed form (see tests/integration/test_transport.py): warm TCP, radio hop at ``rate``,
    then the last segment store-and-forwarded over the backhaul."""
    s = nbytes + 16
    full, last = divmod(s, 1448)
    wire = full * 1502 + (last + 54 if last else 0)
    last_seg = last + 54 if last else 1502
    return wire * 8 / rate + delay + last_seg * 8 / backhaul_rate + backhaul_delay


def test_split_fed_lora_sends_the_real_tensors_each_round(tmp_path):
    cfg, s, t = run(tmp_path, "split-finetune", "train.policy=all", "train.steps=3",
                    "nodes.n_devices=3", "radio.ideal.spectral_efficiency_bps_hz=[4, 4, 4]")
    m = t["messages"]
    assert len(m) == 3 * 3 * 4  # rounds x devices x (act up, act down, grad up, grad down)
    assert set(m["bytes"]) == {B * T * D * 4}
    assert sorted(set(m["tag"])) == ["act_down", "act_up", "grad_down", "grad_up"]
    assert s["bytes_up"] == s["bytes_down"] == 3 * 3 * 2 * B * T * D * 4
    r = t["rounds"]
    assert list(r["round"]) == [0, 1, 2]
    for k in ("device_compute_s", "uplink_s", "server_compute_s", "downlink_s"):
        assert (r[k] > 0).all()
    # the breakdown follows the critical path: its parts add up to no more than the round
    parts = r["device_compute_s"] + r["uplink_s"] + r["server_compute_s"] + r["downlink_s"]
    assert (parts <= r["latency_s"] + 1e-9).all()
    c = t["compute"]
    server_jobs = set(c[c["device"] == "edge0"]["job"])
    assert server_jobs == {"server_forward", "server_backward"}


def test_radio_share_sets_the_rate_each_device_gets(tmp_path):
    # 2 devices, 10 MHz x 4 bit/s/Hz = 40 Mbit/s full band each. 'all' gives each half the band.
    common = ["nodes.n_devices=2", "radio.ideal.bandwidth_hz=10e6",
              "radio.ideal.spectral_efficiency_bps_hz=[4, 4]", "radio.ideal.delay_s=0.002"]
    _, _, both = run(tmp_path / "a", "split-finetune", "train.policy=all", "train.steps=2",
                     *common)
    # round robin, k=1: ue0 alone (whole band) in rounds 0 and 2, ue1 in round 1
    _, _, alone = run(tmp_path / "b", "split-finetune", "train.policy=round_robin", "train.k=1",
                      "train.steps=3", *common)
    nbytes = B * T * D * 4

    def up_latency(t, r):  # activations up from ue0 in round r (warm connection from r=1 on)
        m = t["messages"]
        rr = t["rounds"].iloc[r]
        sel = m[(m["tag"] == "act_up") & (m["src"] == "ue0") & (m["t_send_s"] >= rr["t_start_s"])
                & (m["t_send_s"] < rr["t_end_s"])]
        return float((sel["t_delivered_s"] - sel["t_send_s"]).iloc[0])

    assert alone["rounds"]["scheduled"].tolist() == ["0", "1", "0"]
    half = up_latency(both, 1)
    whole = up_latency(alone, 2)
    assert half == pytest.approx(tcp_latency(nbytes, 20e6, 0.002), rel=0.01)
    assert whole == pytest.approx(tcp_latency(nbytes, 40e6, 0.002), rel=0.01)


@pytest.mark.parametrize("framework", ["split_learning", "split_fed_lora", "fed_lora",
                                       "centralized"])
def test_each_framework_lowers_the_held_out_loss(tmp_path, framework):
    _, s, t = run(tmp_path, "split-finetune", *as_framework(framework), "train.steps=8",
                  "nodes.n_devices=2",
                  "radio.ideal.spectral_efficiency_bps_hz=[4, 4]", "train.lr=1e-2")
    assert s["rounds"] == 8
    assert s["eval_loss_last"] < s["eval_loss_first"] - 0.3
    assert (t["rounds"]["t_end_s"].diff().dropna() > 0).all()


def test_split_learning_writes_its_round_breakdown_and_held_out_loss(tmp_path):
    cfg, s, t = run(tmp_path, "quickstart", "train.steps=3", "nodes.n_devices=2")
    r = t["rounds"]
    assert list(r["round"]) == [0, 1, 2]
    # every device every round; no radio reservation (the MAC scheduler shares the cell)
    assert r["scheduled"].tolist() == ["0,1"] * 3 and r["shares"].tolist() == [""] * 3
    for k in ("device_compute_s", "uplink_s", "server_compute_s", "downlink_s"):
        assert (r[k] > 0).all(), k
    # per device and round: activations and head gradients up, their counterparts down
    assert (r["bytes_up"] == 2 * 2 * B * T * D * 4).all()
    assert (r["bytes_down"] == 2 * 2 * B * T * D * 4).all()
    assert r["eval_loss"].notna().all()
    assert t["metrics"]["eval_loss"].tolist() == r["eval_loss"].tolist()
    assert s["eval_loss_first"] == r["eval_loss"].iloc[0]
    assert set(s["round_breakdown_mean_s"]) == {"latency_s", "device_compute_s", "uplink_s",
                                                "server_compute_s", "downlink_s"}


def test_split_learning_evaluates_the_unsplit_model_on_the_held_out_batch():
    from transformers import GPT2LMHeadModel

    from edgelam_ns3.datasets.text import held_out_batch
    from edgelam_ns3.frameworks.split_learning import SplitLearning
    from edgelam_ns3.models.split_gpt import gpt2_config
    from edgelam_ns3.sim import Simulation
    from edgelam_ns3.topology import network_spec

    cfg = config.load("quickstart", SMALL + ["nodes.n_devices=2"])
    with Simulation(network_spec(cfg), seed=cfg.seed) as sim:
        fw = SplitLearning(cfg, sim)
        got = fw.evaluate()
    # the same initial weights, unsplit, as transformers computes the loss
    torch.manual_seed(cfg.seed)
    lm = GPT2LMHeadModel(gpt2_config(n_positions=T, n_embd=D, n_layer=2, n_head=4))
    ids, labels = held_out_batch(cfg)
    with torch.no_grad():
        want = float(lm(input_ids=ids, labels=labels).loss)
    assert got == pytest.approx(want, rel=1e-5)


def test_fed_lora_moves_adapters_and_centralized_moves_raw_data(tmp_path):
    from edgelam_ns3.datasets.text import local_data

    cfg, s, t = run(tmp_path / "f", "split-finetune", *as_framework("fed_lora"),
                    "train.steps=2", "nodes.n_devices=2",
                    "radio.ideal.spectral_efficiency_bps_hz=[4, 4]")
    assert s["policy"] == "all"
    lora = cfg.train.lora
    server_blocks, d = 2 - cfg.model.device_layers, D  # adapters on the server's blocks
    # c_attn: A [r, D], B [3D, r]; attn.c_proj and mlp.c_proj: A [r, D or 4D], B [D, r]
    per_layer = (lora.r * d + 3 * d * lora.r) + (lora.r * d + d * lora.r) + (lora.r * 4 * d + d * lora.r)
    adapter_bytes = server_blocks * per_layer * 4
    m = t["messages"]
    assert set(m[m["tag"] == "adapters_down"]["bytes"]) == {adapter_bytes}
    assert set(m[m["tag"] == "adapters_up"]["bytes"]) == {adapter_bytes + 8}  # + sample count
    assert s["bytes_down"] == 2 * 2 * adapter_bytes
    assert s["bytes_up"] == 2 * 2 * (adapter_bytes + 8)
    cfg, s, t = run(tmp_path / "c", "split-finetune", *as_framework("centralized"),
                    "train.steps=2", "nodes.n_devices=2",
                    "radio.ideal.spectral_efficiency_bps_hz=[4, 4]")
    assert s["bytes_up"] == sum(int(x.numel()) for x in local_data(cfg))
    assert s["bytes_down"] == 0
    assert s["policy"] is None  # no policy chose its devices: the summary names none


def test_looped_tp_on_the_network_matches_the_monolithic_model(tmp_path):
    from edgelam_ns3.datasets.text import device_batches
    from edgelam_ns3.frameworks.looped_tp import LoopedTP
    from edgelam_ns3.models.looped_tp import LoopedConfig, LoopedTransformer, merge
    from edgelam_ns3.sim import Simulation
    from edgelam_ns3.topology import network_spec

    cfg = config.load("looped-tp", SMALL_LOOPED + [
        "train.steps=1", "train.looped.n_loops=2", "train.looped.d_ff=128", "model.n_head=4",
        "nodes.n_devices=2", "radio.ideal.spectral_efficiency_bps_hz=[5, 5]"])
    rows, sent = [], []
    with Simulation(network_spec(cfg), seed=cfg.seed, on_message=sent.append) as sim:
        fw = LoopedTP(cfg, sim, on_round=rows.append)
        fw.start()
        sim.run()
    assert fw.finished
    # the same initial weights and batch, monolithic, one Adam step
    lc = LoopedConfig(vocab_size=256, n_positions=T, d_model=D, n_heads=4, d_ff=128, n_loops=2)
    torch.manual_seed(cfg.seed)
    mono = LoopedTransformer(lc)
    opt = torch.optim.Adam(mono.parameters(), lr=cfg.train.lr)
    ids, labels = next(device_batches(cfg)[0])
    loss, _ = mono(ids, labels)
    assert rows[0]["loss"] == pytest.approx(float(loss.detach()), rel=1e-6)
    loss.backward()
    opt.step()
    # full-parameter training: every weight, on the server and on the devices, moved as in the
    # monolithic step. (The key bias is left out: its exact gradient is zero, so Adam turns
    # rounding noise into +-lr steps in both models.)
    after = dict(merge(fw.server_part, fw.shards).named_parameters())
    for name, p in mono.named_parameters():
        if "attn_k.bias" in name:
            continue
        assert torch.allclose(after[name], p, atol=1e-5), name
    # ue0's batch (token ids and labels, int64) up to the server, then for every sub-layer of
    # every loop, forward and backward: a broadcast to K and K uploads
    stages = 2 * 2  # loops x (attn, mlp)
    assert len(sent) == 1 + 2 * stages * (2 + 2)
    assert (sent[0].tag, sent[0].src, sent[0].bytes) == ("tp_batch_up", "ue0", 2 * B * T * 8)
    assert {m.bytes for m in sent[1:]} == {B * T * D * 4}


def test_looped_tp_server_gets_each_steps_batch_as_a_message_from_the_device_holding_it(
        tmp_path):
    _, s, t = run(tmp_path, "looped-tp", "train.steps=3", "train.looped.n_loops=1",
                  "train.looped.d_ff=128", "nodes.n_devices=2",
                  "radio.ideal.spectral_efficiency_bps_hz=[5, 5]", small=SMALL_LOOPED)
    m, c = t["messages"], t["compute"]
    batch = m[m["tag"] == "tp_batch_up"].sort_values("t_send_s")
    # the devices take turns; the ids and labels (int64) cross the radio to the server
    assert batch["src"].tolist() == ["ue0", "ue1", "ue0"]
    assert set(batch["dst"]) == {"edge0"} and set(batch["bytes"]) == {2 * B * T * 8}
    # the server embeds each step's batch only once it has arrived
    embeds = c[c["job"] == "server_embed"].sort_values("t_start_s")["t_start_s"].to_numpy()
    assert (embeds >= batch["t_delivered_s"].to_numpy()).all()
    assert (t["rounds"]["bytes_up"] == 2 * B * T * 8 + 2 * 2 * 2 * B * T * D * 4).all()


def test_dp_noise_scale_and_epsilon_grow_with_rounds(tmp_path):
    _, s, t = run(tmp_path, "split-finetune", "train.policy=all", "train.steps=4",
                  "nodes.n_devices=2", "radio.ideal.spectral_efficiency_bps_hz=[4, 4]",
                  "train.dp.enabled=true", "train.dp.noise_multiplier=1.0")
    eps = t["rounds"]["epsilon"].tolist()
    assert all(b > a for a, b in zip(eps, eps[1:]))
    assert s["dp"]["epsilon"] == eps[-1] and math.isfinite(eps[-1])


def test_split_fed_lora_runs_over_the_6g_radio(tmp_path):
    cfg = config.load("split-finetune", [f"train.batch_size={B}", f"model.seq_len={T}",
                                         f"model.n_embd={D}", "model.n_layer=2",
                                         "train.policy=round_robin", "train.k=2",
                                         "train.steps=3", "nodes.n_devices=4"])
    assert cfg.radio.mode == "nr"
    s = run_scenario(cfg, tmp_path / "nr")
    assert s["rounds"] == 3 and s["radio"] == "nr" and s["slots_simulated"] > 0
    rounds = pd.read_parquet(tmp_path / "nr" / "traces" / "rounds.parquet")
    assert rounds["scheduled"].tolist() == ["0,1", "2,3", "0,1"]
    assert (rounds["uplink_s"] > 0).all() and (rounds["downlink_s"] > 0).all()
    # only the scheduled devices' tensors crossed the radio: 2 devices x 4 tensors per round
    assert s["bytes_up"] == 3 * 2 * 2 * B * T * D * 4


class _Reads:
    """A config section that records which of its fields are read (sub-sections too)."""

    def __init__(self, obj, prefix, seen):
        self._obj, self._prefix, self._seen = obj, prefix, seen

    def __getattr__(self, name):
        value = getattr(self._obj, name)
        if name in type(self._obj).model_fields:
            self._seen.add(self._prefix + name)
            if hasattr(type(value), "model_fields"):
                return _Reads(value, f"{self._prefix}{name}.", self._seen)
        return value


class _ConfigReads:
    """A scenario config whose ``train``, ``model``, ``sim`` and ``compute`` sections record
    what is read."""

    def __init__(self, cfg, seen):
        self._cfg, self._seen = cfg, seen

    def __getattr__(self, name):
        value = getattr(self._cfg, name)
        recorded = ("train", "model", "sim", "compute")
        return _Reads(value, f"{name}.", self._seen) if name in recorded else value


@pytest.mark.parametrize("framework", ["split_learning", "split_fed_lora", "fed_lora",
                                       "centralized", "looped_tp"])
def test_options_table_names_exactly_the_options_each_framework_reads(framework):
    # run two rounds recording every train.*, model.*, sim.* and compute.* field the framework
    # reads: the options it reads are those the table lets it set, and no other (the others
    # are rejected)
    from edgelam_ns3.frameworks import OPTIONS, framework_class
    from edgelam_ns3.sim import Simulation
    from edgelam_ns3.topology import network_spec

    tiny = ["train.batch_size=2", "model.seq_len=16", "model.n_embd=32", "model.n_head=2",
            "radio.mode=ideal", "train.steps=2", "nodes.n_devices=2"]
    tiny += (["train.looped.d_ff=64", "train.looped.n_loops=1"] if framework == "looped_tp"
             else ["model.n_layer=2"])
    cfg = config.load("quickstart", tiny + [f"train.framework={framework}"])
    seen = set()
    with Simulation(network_spec(cfg), seed=cfg.seed) as sim:
        fw = framework_class(framework)(_ConfigReads(cfg, seen), sim)
        fw.start()
        sim.run()
    assert fw.finished
    read = {k for k in OPTIONS if k in seen or any(s.startswith(k + ".") for s in seen)}
    assert read == {k for k, (users, _) in OPTIONS.items() if framework in users}


UDP_LOSSY = ["transport.protocol=udp", "radio.ideal.queue_packets=32",
             "nodes.n_devices=2", "radio.ideal.spectral_efficiency_bps_hz=[4, 4]"]
"""Split learning over UDP on the ideal radio with 32-packet queues: an activation (4 x 32 x 64
float32, 32 KiB) is 23 datagrams sent at once, so a copy gets through only into a queue that
is nearly empty."""


def test_run_whose_udp_copies_are_all_dropped_fails_naming_the_message(tmp_path):
    # with 8-packet queues every copy of an activation (23 datagrams) loses datagrams: the run
    # fails at the second timeout instead of waiting for sim.max_time_s
    _, s, t = run(tmp_path, "quickstart", *UDP_LOSSY, "radio.ideal.queue_packets=8",
                  "transport.udp_timeout_s=0.05", "transport.udp_max_tries=2", "train.steps=2")
    assert s["status"] == "failed" and s["rounds"] == 0
    assert s["error"].startswith("MessageLost: message ") and "'act_up' ue" in s["error"]
    assert "not delivered after 2 tries" in s["error"] and "\n" not in s["error"]
    assert s["sim_time_s"] < 0.2  # 0.05 s, then 0.1 s after the retransmission
    assert s["udp"]["retransmissions"] >= 1


def test_run_over_udp_with_bursts_overflowing_the_uplink_completes_by_retransmitting(tmp_path):
    # ue0's uplink is swamped by a replayed burst of 40 datagrams every 20 ms; a copy sent into a
    # full queue loses datagrams and is sent again at its timeout
    csv = tmp_path / "bursts.csv"
    csv.write_text("time_s,bytes\n" + "".join(f"{0.02 * i:.3f},{40 * 1472}\n" for i in range(100)))
    cross = f"backhaul.cross_traffic=[{{src: ue0, dst: edge0, mode: replay, csv: {csv}}}]"
    _, s, t = run(tmp_path, "quickstart", *UDP_LOSSY, cross, "train.steps=4")
    assert s["status"] == "ok" and s["rounds"] == 4
    assert s["udp"]["retransmissions"] >= 1
    # each message reaches the application once, however many copies were sent; a message
    # that was sent again waited at least the first timeout (RFC 6298's initial 1 s)
    m = t["messages"]
    assert len(m) == 4 * 2 * 4 and m["id"].is_unique
    assert (m["t_delivered_s"] - m["t_send_s"]).max() > 1.0
