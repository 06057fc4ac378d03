"""Channel prediction in the loop (issue 11.7): the gNB's estimates travel to the edge as
messages of their tensor's size, the edge's prediction is the predictor applied to exactly the
history it received, and the prediction is the gNB's CSI from the slot of its arrival on.
Pipeline checks on a tiny cell (2 UEs, 2x2 gNB array, 20 MHz), not learned accuracy."""
from __future__ import annotations

import numpy as np
import pytest

from edgelam_ns3 import config
from edgelam_ns3.frameworks.channel_prediction import ChannelPredictionLoop, windows
from edgelam_ns3.models.channel_predictors import predict_ar
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec

TINY = ["radio.n_ues=2", "radio.gnb_array=[2,2]", "radio.csi.srs_period_slots=10",
        "prediction.history=3", "prediction.ar_orders=[1,2]", "prediction.warmup_s=0.03",
        "prediction.measure_from_s=0.06", "prediction.measure_s=0.03"]


def _run(mode: str, extra=()):
    cfg = config.load("channel-prediction", [*TINY, f"prediction.csi={mode}", *extra])
    seen = {"messages": [], "applied": [], "edge_series": []}
    with Simulation(network_spec(cfg), seed=2, on_message=seen["messages"].append) as sim:
        loop = ChannelPredictionLoop(cfg, sim)
        apply, at_edge = loop._apply, loop._at_edge

        def spy_apply(edge, pred, target):
            before = [sim.csi(ue) for ue in loop.ues]
            apply(edge, pred, target)
            after = [sim.csi(ue) for ue in loop.ues]
            seen["applied"].append((sim.now, pred, before, after))

        def spy_edge(edge, est, target, gnb):
            at_edge(edge, est, target, gnb)
            seen["edge_series"].append((sim.now, np.stack(loop.series[edge])))

        loop._apply, loop._at_edge = spy_apply, spy_edge
        loop.start()
        sim.run(until_s=1.0)
        assert loop.finished
        return cfg, loop, seen, loop.summary()["prediction"]


def test_ar_prediction_is_the_gnb_csi_from_its_arrival_slot_and_bytes_are_tensor_bytes():
    cfg, loop, seen, summary = _run("ar")
    n_ue, m, s = seen["edge_series"][0][1].shape[1:]
    tensor_bytes = n_ue * m * s * np.dtype(np.complex64).itemsize
    csi_msgs = [x for x in seen["messages"] if x.tag == "csi"]
    pred_msgs = [x for x in seen["messages"] if x.tag == "prediction"]
    assert csi_msgs and pred_msgs
    assert {x.bytes for x in csi_msgs} == {tensor_bytes} == {x.bytes for x in pred_msgs}
    assert (csi_msgs[0].src, csi_msgs[0].dst) == ("gnb", "edge0")
    assert summary["bytes"]["csi"] == tensor_bytes * len(csi_msgs)
    slot_s = loop.slot_s
    for t_arrival, pred, before, after in seen["applied"]:
        first_slot = int(np.ceil(t_arrival / slot_s - 1e-9))
        for u in range(n_ue):
            assert not before[u]["external"]  # the gNB's own SRS estimate until then
            assert after[u]["external"] and after[u]["srs_slot"] == first_slot
            np.testing.assert_array_equal(after[u]["estimate"].reshape(m, s), pred[u])
    # the first prediction is AR (the fitted order) on the last `history` estimates received
    t_arrival, pred, _, _ = seen["applied"][0]
    t_in, series = max((x for x in seen["edge_series"] if x[0] < t_arrival),
                       key=lambda x: x[0])
    hist = np.moveaxis(series[-3:], 1, 0)  # [U, P, M, S]
    expect = predict_ar(hist, 1, summary["fit"]["ar_order"])[:, 0]
    np.testing.assert_allclose(pred, expect, rtol=2e-4, atol=2e-5 * np.abs(expect).max())


def test_aged_mode_sends_nothing_and_ideal_mode_sets_the_true_channel():
    _, _, seen, aged = _run("aged")
    assert not [x for x in seen["messages"] if x.tag in ("csi", "prediction")]
    assert aged["bytes"] == {"csi": 0, "prediction": 0}
    _, _, _, ideal = _run("ideal")
    # the genie's CSI is the channel half a slot before the slot it serves: far closer to the
    # truth at the scoring instants than a 5 ms old SRS estimate
    assert ideal["nmse_csi_db"] < aged["nmse_csi_db"] - 5


def test_windows_cut_a_received_history_into_past_and_future():
    series = np.arange(6 * 2 * 1 * 1).reshape(6, 2, 1, 1)  # [T, U, M, S]
    hist, fut = windows(series, past=3)
    assert hist.shape == (6, 3, 1, 1) and fut.shape == (6, 1, 1, 1)  # U x (6 - 3)
    np.testing.assert_array_equal(hist[0, :, 0, 0], series[0:3, 0, 0, 0])
    np.testing.assert_array_equal(fut[1, 0], series[3, 1])  # UE 1 of the first window


@pytest.mark.parametrize("overrides, message", [
    (["radio.csi.mode=ideal"], "radio.csi.mode: channel_prediction needs 'srs'"),
    (["prediction.measure_from_s=0.1"], "prediction: measure_from_s: 0.1 s is before"),
    (["prediction.ar_orders=[8]"], "prediction: ar_orders: every order must be below history"),
    (["prediction.federated.mode=federated"], "prediction.federated.mode: fine-tunes the LAM"),
])
def test_bad_prediction_settings_are_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(config.ConfigError) as e:
        config.load("channel-prediction", overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_prediction_keys_are_rejected_by_other_frameworks():
    with pytest.raises(config.ConfigError, match="prediction.csi: train.framework none"):
        config.load("radio-saturation", ["prediction.csi=ar"])


FED = ["prediction.csi=lam", "nodes.n_edge=2", "prediction.lam.n_embd=16",
       "prediction.lam.n_layer=1", "prediction.lam.n_head=2", "prediction.lam.train_steps=3",
       "prediction.lam.batch=16", "prediction.federated.lr=0.05",
       "backhaul.links=[{a: gnb, b: edge0, rate_bps: 1e9, delay_s: 0.001}, "
       "{a: gnb, b: edge1, rate_bps: 1e9, delay_s: 0.002}]"]


def _finetune(mode: str, rounds: int, local_steps: int):
    from edgelam_ns3.frameworks import channel_prediction_fed as fed_mod

    start = {}
    init = fed_mod.AdapterFinetune.__init__

    def spy_init(self, *a, **kw):
        init(self, *a, **kw)
        start.update(glob={k: v.clone() for k, v in self.glob.items()},
                     sizes={e: len(h) for e, (h, _) in self.shards.items()})

    fed_mod.AdapterFinetune.__init__ = spy_init
    try:
        cfg, loop, seen, summary = _run("lam", [*FED, f"prediction.federated.mode={mode}",
                                               f"prediction.federated.rounds={rounds}",
                                               f"prediction.federated.local_steps={local_steps}"])
    finally:
        fed_mod.AdapterFinetune.__init__ = init
    return loop, seen, summary, start


def test_federated_averaging_in_the_loop_equals_centralised_training_on_equal_shards():
    """One SGD step per edge server on equal shards (one UE each), averaged, equals one SGD
    step on the pooled shards (the loss is the mean over series): FedAvg's adapters are the
    centralised ones, though they reached the server as messages over the backhaul. Bytes:
    the base and the adapters down, the adapters up, the final adapters down (federated); the
    windows up and the base with the adapters down (centralised)."""
    f_loop, f_seen, f_sum, f_start = _finetune("federated", 1, 1)
    c_loop, c_seen, c_sum, c_start = _finetune("centralized", 1, 1)
    assert f_start["sizes"]["edge0"] == f_start["sizes"]["edge1"] > 0
    for k, v in f_start["glob"].items():  # the same starting adapters in both runs
        assert torch_equal(v, c_start["glob"][k])
    changed = 0
    for k, v in f_loop.finetune.glob.items():
        np.testing.assert_allclose(v.numpy(), c_loop.finetune.glob[k].numpy(), rtol=1e-5,
                                   atol=1e-7, err_msg=k)
        changed += not torch_equal(v, f_start["glob"][k])
    assert changed > 0  # the step moved the adapters (the B matrices)
    ft = f_sum["finetune"]
    a, b = ft["adapter_bytes"], ft["base_bytes"]
    assert ft["bytes"] == (b + a) + a + a  # edge1: base+adapters down, adapters up, final down
    tags = sorted(m.tag for m in f_seen["messages"] if m.tag not in ("csi", "prediction"))
    assert tags == ["adapters", "base+adapters", "final_adapters"]
    assert 0 < ft["duration_s"] and f_sum["ready_s"] >= ft["t_end_s"]
    ct = c_sum["finetune"]
    up = [m for m in c_seen["messages"] if m.tag == "csi_windows"]
    _, m, s = c_loop.series["edge1"][0].shape
    n = c_start["sizes"]["edge1"]  # windows of history 3 and one future step, complex64
    assert len(up) == 1 and up[0].bytes == n * (3 + 1) * m * s * 8
    assert ct["bytes"] == up[0].bytes + b + a


def torch_equal(x, y) -> bool:
    import torch

    return bool(torch.equal(x, y))
