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

        def spy_apply(pred, target):
            before = [sim.csi(ue) for ue in loop.ues]
            apply(pred, target)
            after = [sim.csi(ue) for ue in loop.ues]
            seen["applied"].append((sim.now, pred, before, after))

        def spy_edge(est, target, gnb):
            at_edge(est, target, gnb)
            seen["edge_series"].append((sim.now, np.stack(loop.series)))

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
    assert ideal["nmse_csi_db"] < aged["nmse_csi_db"] - 10


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
