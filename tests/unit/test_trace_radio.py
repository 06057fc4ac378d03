"""radio.mode trace: the trace-driven hop (ns3::TraceRateLink) against closed forms, and the
trace files checked whole before a run (one-line errors naming file, line and column).

Closed form: a direction serving at the piecewise-constant rate r(t) has carried
C(t) = integral_0^t r(u) du bits by t, so a message whose datagrams put B bits on the wire
from t = 0 has its last bit at T = C^-1(B) plus the propagation delay. ns3::TraceRateLink
gives each packet the serialisation time the integral gives from its start, across rate
changes (a zero-rate sample holds the packet, served at MinRate, until the rate returns), so
T matches to the nanosecond rounding of ns-3's Time and DataRate per packet.
"""

import numpy as np
import pandas as pd
import pytest

from edgelam_ns3 import config
from edgelam_ns3.radio.trace import load_ue_traces
from edgelam_ns3.sim import LinkSpec, NetworkSpec, RateTrace, Simulation

PACKET_BITS = (1472 + 20 + 8 + 2) * 8  # a full UDP datagram on the wire (IPv4, UDP, PPP)
MIN_RATE_BPS = 1e3  # TraceRateLink's MinRate default: the floor of the service rate
ROUNDING_S = 1e-6  # ~200 packets' serialisation times, each rounded to ns-3's 1 ns Time


def inverse_capacity_s(times, rates, bits):
    """T with integral_0^T r = bits for the step function (times, rates)."""
    edges = list(times[1:]) + [np.inf]
    done = 0.0
    for t0, t1, r in zip(times, edges, np.maximum(rates, MIN_RATE_BPS)):
        if done + r * (t1 - t0) >= bits:
            return t0 + (bits - done) / r
        done += r * (t1 - t0)
    raise AssertionError("unreachable")


def send_over_trace(trace, nbytes, delay_s=0.002, share=None):
    net = NetworkSpec(("ue0", "gnb"), (LinkSpec("ue0", "gnb", 1e6, delay_s, 100_000,
                                                trace_ab=trace),),
                      protocol="udp", udp_timeout_s=30.0)
    got = {}
    with Simulation(net) as sim:
        if share is not None:
            sim.set_link_share("ue0", "gnb", share)

        def done(msg):
            got["t"] = msg.t_delivered_s
            got["wire_bits"] = sim.link_states().delivered_bytes[0] * 8
        sim.send("ue0", "gnb", nbytes, on_delivered=done)
        sim.run(until_s=10.0)
    return got


@pytest.mark.parametrize("times,rates", [
    ((0.0, 0.05, 0.12), (8e6, 2e6, 20e6)),     # down, then up, mid-message
    ((0.0, 0.03, 0.05), (20e6, 40e6, 3e6)),    # up, then down
    ((0.0, 0.0301, 0.08), (20e6, 0.0, 10e6)),  # an outage mid-packet, then back
])
def test_message_over_step_trace_is_delivered_at_the_capacity_integral(times, rates):
    got = send_over_trace(RateTrace(times, rates), 250_000)
    expect = inverse_capacity_s(times, rates, got["wire_bits"]) + 0.002
    assert got["t"] > times[-1]  # the message spans every step
    assert got["t"] == pytest.approx(expect, abs=ROUNDING_S)


def test_a_packet_started_in_an_outage_waits_for_the_rate_not_the_floor():
    # at the floor alone the packet in service at 0.0301 s would take 12 s
    times, rates = (0.0, 0.0301, 0.08), (20e6, 0.0, 10e6)
    got = send_over_trace(RateTrace(times, rates), 100_000)
    assert got["t"] < 0.08 + 100_000 * 8 / 10e6 + 0.002


def test_share_scales_the_trace_rate():
    times, rates = (0.0, 0.04), (10e6, 30e6)
    got = send_over_trace(RateTrace(times, rates), 200_000, share=0.5)
    expect = inverse_capacity_s(times, [0.5 * r for r in rates], got["wire_bits"]) + 0.002
    assert got["t"] == pytest.approx(expect, abs=ROUNDING_S)


def test_a_burst_that_finds_the_uplink_idle_waits_the_access_delay_once():
    trace = RateTrace((0.0,), (10e6,), access_delay_s=0.005)
    net = NetworkSpec(("ue0", "gnb"), (LinkSpec("ue0", "gnb", 1e6, 0.002, 100_000,
                                                trace_ab=trace),),
                      protocol="udp", udp_timeout_s=30.0)
    got, bits = [], []
    with Simulation(net) as sim:
        def send():
            sent = sim.link_states().delivered_bytes[0]
            sim.send("ue0", "gnb", 100_000, on_delivered=lambda m: (
                got.append(m.t_delivered_s),
                bits.append((sim.link_states().delivered_bytes[0] - sent) * 8)))
        sim.schedule(0.0, send)
        sim.schedule(1.0, send)  # the uplink idle again: a new burst
        sim.run(until_s=3.0)
    # the datagrams queue behind the first: one wait per burst, not one per packet
    assert got[0] == pytest.approx(0.005 + bits[0] / 10e6 + 0.002, abs=ROUNDING_S)
    assert got[1] == pytest.approx(1.0 + 0.005 + bits[1] / 10e6 + 0.002, abs=ROUNDING_S)


def send_in_one_carrier(rates, nbytes, shares):
    """UE i sends nbytes[i] at t = 0 over its uplink trace (constant rates[i]); all
    uplinks share one carrier. :return: per UE, delivery time and wire bits."""
    ues = [f"ue{i}" for i in range(len(rates))]
    links = tuple(LinkSpec(u, "gnb", 1e6, 0.0, 100_000,
                           trace_ab=RateTrace((0.0,), (r,), share=w, carrier="ul"))
                  for u, r, w in zip(ues, rates, shares))
    net = NetworkSpec((*ues, "gnb"), links, protocol="udp", udp_timeout_s=30.0)
    got = {}
    with Simulation(net) as sim:
        for u, n in zip(ues, nbytes):
            if n:
                sim.send(u, "gnb", n, on_delivered=lambda m, u=u: got.__setitem__(
                    u, m.t_delivered_s))
        sim.run(until_s=10.0)
        st = sim.link_states()
        bits = {u: st.delivered_bytes[list(zip(st.src, st.dst)).index((u, "gnb"))] * 8
                for u in ues}
    return got, bits


def test_one_carrier_is_work_conserving_between_its_ues():
    rates = (10e6, 20e6)
    # alone with data, a UE is served at its whole trace rate whatever its share
    got, bits = send_in_one_carrier(rates, (100_000, 0), (0.5, 0.5))
    assert got["ue0"] == pytest.approx(bits["ue0"] / rates[0], abs=ROUNDING_S)
    # both with data: half the carrier each (ue1 at 10 Mbit/s, ue0 at 5) until ue1 is done,
    # then ue0 alone at 10 Mbit/s; a share change applies from the next packet
    got, bits = send_in_one_carrier(rates, (100_000, 100_000), (0.5, 0.5))
    t1 = bits["ue1"] / (0.5 * rates[1])
    t0 = t1 + (bits["ue0"] - 0.5 * rates[0] * t1) / rates[0]
    assert got["ue1"] == pytest.approx(t1, abs=PACKET_BITS / (0.5 * rates[1]))
    assert got["ue0"] == pytest.approx(t0, abs=PACKET_BITS / (0.5 * rates[0]))
    # weights 0.2 / 0.8: ue1 at 16 Mbit/s, ue0 at 2 until ue1 is done
    got, bits = send_in_one_carrier(rates, (100_000, 100_000), (0.2, 0.8))
    t1 = bits["ue1"] / (0.8 * rates[1])
    t0 = t1 + (bits["ue0"] - 0.2 * rates[0] * t1) / rates[0]
    assert got["ue1"] == pytest.approx(t1, abs=PACKET_BITS / (0.8 * rates[1]))
    assert got["ue0"] == pytest.approx(t0, abs=PACKET_BITS / (0.2 * rates[0]))


def test_looped_trace_restarts_and_link_state_rate_follows_it():
    trace = RateTrace((0.0, 0.1), (5e6, 1e6), loop_period_s=0.3)
    net = NetworkSpec(("ue0", "gnb"), (LinkSpec("ue0", "gnb", 1e6, 0.001, 100, trace_ab=trace),))
    seen = []
    with Simulation(net) as sim:
        for t in (0.05, 0.15, 0.25, 0.35, 0.45):
            sim.schedule(t, lambda: seen.append(sim.link_states().rate_bps[0]))
        sim.run(until_s=0.5)
    assert seen == [5e6, 1e6, 1e6, 5e6, 1e6]


# -- trace files -------------------------------------------------------------------------------

def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def trace_cfg(**kw):
    return config.TraceRadioConfig(**kw)


def test_edgelam_csv_hold_offset_and_loop(tmp_path):
    path = write(tmp_path, "ue0.csv", "t_s,dl_bps,ul_bps,delay_s,loss\n"
                 "0,1e6,2e5,0.01,0\n1,3e6,4e5,0.02,0.1\n2,2e6,1e5,0.01,0\n")
    src = config.TraceSourceConfig(path=path)
    [tr] = load_ue_traces(trace_cfg(sources=[src]), 1)
    assert list(tr.dl_bps) == [1e6, 3e6, 2e6] and list(tr.loss) == [0, 0.1, 0]
    [tr] = load_ue_traces(trace_cfg(sources=[src], loop=True, offset_s=[1.5]), 1)
    # period 3 s (span 2 s + last interval 1 s); from 1.5 s in: 3e6 until 0.5, 2e6, then 1e6
    assert tr.loop_period_s == 3.0
    assert list(tr.times_s) == [0.0, 0.5, 1.5, 2.5] and list(tr.dl_bps) == [3e6, 2e6, 1e6, 3e6]


def test_android_kpi_log_several_ues_kbit_and_timestamps(tmp_path):
    path = write(tmp_path, "drive.csv",
                 "Timestamp,ue,DL_bitrate,UL_bitrate,SNR,CQI,RSRP\n"
                 "2019.12.16_09.40.08,a,1000,50,12,9,-90\n"
                 "2019.12.16_09.40.08,b,2000,60,-,9,-91\n"
                 "2019.12.16_09.40.09,a,1500,70,11,9,-90\n"
                 "2019.12.16_09.40.10,b,500,80,10,8,-95\n")
    src = config.TraceSourceConfig(path=path, format="android_kpi", ues=["b", "a"])
    b, a = load_ue_traces(trace_cfg(sources=[src]), 2)
    assert list(a.times_s) == [0.0, 1.0] and list(a.dl_bps) == [1e6, 1.5e6]
    assert list(b.times_s) == [0.0, 2.0] and list(b.ul_bps) == [6e4, 8e4]
    assert len(a.delay_s) == 0


def test_linear_interpolation_keeps_the_integral(tmp_path):
    path = write(tmp_path, "lin.parquet", "")
    pd.DataFrame({"t_s": [0.0, 1.0, 3.0], "dl_bps": [0.0, 10e6, 2e6],
                  "ul_bps": [1e6, 1e6, 1e6]}).to_parquet(path)
    [tr] = load_ue_traces(trace_cfg(sources=[config.TraceSourceConfig(path=path)],
                                    interpolation="linear", resolution_s=0.25), 1)
    # 0..1: 0 -> 10e6 (5e6 mean), 1..3: 10e6 -> 2e6 (6e6 mean), 3..5: 2e6 held
    assert np.sum(tr.dl_bps * 0.25) == pytest.approx(5e6 + 12e6 + 4e6)
    assert tr.dl_bps[0] == pytest.approx(10e6 * 0.125)


@pytest.mark.parametrize("text,units,message", [
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n1,abc,1e6\n", {}, ":3: column dl_bps: 'abc' is not a number"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n1,1e6\n", {}, ":3: column ul_bps: missing value"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n1,-5,1e6\n", {}, ":3: column dl_bps: '-5' is not a finite"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n2,1e6,1e6\n1,1e6,1e6\n", {},
     ":4: column t_s: time 1 s is not after the previous sample's 2 s"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n60,1e6,1e6\n", {},
     ":3: column t_s: gap of 60 s since the previous sample"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n", {"dl": "kbit"}, ":1: column dl_bps: unknown unit 'kbit'"),
    ("t_s,dl_bps,ul_bps\n0,1e6,1e6\n", {"time": "hours"}, ":1: column t_s: unknown unit 'hours'"),
    ("t_s,dl_bps\n0,1e6\n", {}, ":1: no column ul_bps in the header"),
    ("t_s,dl_bps,ul_bps\n", {}, ": no rows after the header"),
])
def test_bad_trace_file_is_one_line_error_naming_file_line_and_column(
        tmp_path, text, units, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ValueError) as err:
        load_ue_traces(trace_cfg(sources=[config.TraceSourceConfig(path=path, units=units)]), 1)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"radio.trace.sources[0]: {path}")
    assert message in msg


def test_bad_timestamp_names_line_and_column(tmp_path):
    path = write(tmp_path, "drive.csv", "Timestamp,DL_bitrate,UL_bitrate\n"
                 "2019.12.16_09.40.08,1000,50\n2019-12-16 09:40:09,1000,50\n")
    with pytest.raises(ValueError, match=r"drive.csv:3: column Timestamp: '2019-12-16 09:40:09' "
                       r"does not match the time format"):
        load_ue_traces(trace_cfg(sources=[config.TraceSourceConfig(
            path=path, format="android_kpi")]), 1)


def test_scenario_config_checks_trace_files_before_the_run(tmp_path):
    path = write(tmp_path, "ue.csv", "t_s,dl_bps,ul_bps\n0,1e6,1e6\n")
    with pytest.raises(config.ConfigError, match="2 devices|files give 1 UE series"):
        config.load("quickstart", ["radio.mode=trace", "nodes.n_devices=2",
                                   f"radio.trace.sources=[{{path: {path}}}]"])


def test_full_carrier_rate_is_the_ts38306_rate_at_the_ues_mcs(ts38306_rate_bps):
    from edgelam_ns3.radio.phy import mcs
    from edgelam_ns3.radio.trace import FullCarrierRate

    radio = config.RadioConfig(tdd_pattern="D", bandwidth_hz=100e6, numerology=1,
                               carrier_hz=3.5e9, mcs_table="qam256")
    full = FullCarrierRate(radio)
    assert full("ue0", "dl", 27.0, 0.0) == pytest.approx(ts38306_rate_bps(mu=1, n_prb=273))
    m = mcs("qam256", 10)
    expect = ts38306_rate_bps(qm=m.qm, rmax=m.rate_x1024 / 1024) * (1 - 0.1)
    assert full("ue2", "dl", 10.0, 0.1) == pytest.approx(expect)
    # a period without a transmission (-1 or NaN) keeps the UE's previous value
    assert full("ue2", "dl", -1.0, float("nan")) == pytest.approx(expect)
    assert np.isnan(full("ue1", "dl", float("nan"), float("nan")))


def test_full_carrier_rate_averages_the_bler_of_the_last_periods():
    from edgelam_ns3.radio.trace import FullCarrierRate

    radio = config.RadioConfig(tdd_pattern="D", bandwidth_hz=100e6, numerology=1,
                               carrier_hz=3.5e9, mcs_table="qam256")
    full = FullCarrierRate(radio)
    top = full("u", "dl", 27.0, 0.0)
    # one failed TB in a quiet period (BLER 1) does not make the carrier look dead
    assert full("u", "dl", 27.0, 1.0) == pytest.approx(top * (1 - 1.0 / 2))
    for _ in range(FullCarrierRate.BLER_PERIODS):
        last = full("u", "dl", 27.0, 0.1)
    assert last == pytest.approx(top * 0.9)  # the window has moved past both


def test_full_carrier_rate_counts_the_directions_symbols_of_the_tdd_pattern():
    from edgelam_ns3.radio.trace import FullCarrierRate

    radio = config.RadioConfig(tdd_pattern="DDDSU", dl_overhead=0.14, ul_overhead=0.08)
    full = FullCarrierRate(radio)
    top_dl = FullCarrierRate(radio.model_copy(update={"tdd_pattern": "D"}))("u", "dl", 27, 0)
    # DL: 3 D slots + 10 of the S slot's 14 symbols, of 5 slots; UL: 1 U slot + 2 symbols
    assert full("u", "dl", 27, 0) == pytest.approx(top_dl * (3 * 14 + 10) / 70)
    assert full("u", "ul", 27, 0) == pytest.approx(top_dl * (14 + 2) / 70 * 0.92 / 0.86)
