"""The message transport and the clock against closed forms, on one point-to-point link.

Closed form for a message of N application bytes over TCP on a warm connection (handshake
done, congestion window not limiting: the initial window of 10 segments outlasts the
round-trip time on these links): the stream carries S = N + 16 bytes (frame header), cut into
segments of at most MSS = 1448 bytes. Each segment costs its payload + 20 (IPv4) + 32 (TCP with
the timestamp option) + 2 (PPP) bytes on the wire; segments leave back to back at rate R, and
the last bit arrives one propagation delay d after the last segment is serialised:

    t_delivered - t_send = sum_i (payload_i + 54) * 8 / R + d
"""

import math

import numpy as np
import pytest

from edgelam_ns3.sim import CrossTrafficSpec, LinkSpec, NetworkSpec, Simulation

MSS = 1448
TCP_OVERHEAD = 20 + 32 + 2
UDP_PAYLOAD = 1472
UDP_OVERHEAD = 20 + 8 + 2
FRAME = 16


def wire_time_s(stream_bytes: int, seg: int, overhead: int, rate_bps: float) -> float:
    full, last = divmod(stream_bytes, seg)
    wire = full * (seg + overhead) + ((last + overhead) if last else 0)
    return wire * 8 / rate_bps


def one_link(rate_bps=10e6, delay_s=0.001, queue=100000, protocol="tcp"):
    return NetworkSpec(("a", "b"), (LinkSpec("a", "b", rate_bps, delay_s, queue),),
                       protocol=protocol)


@pytest.mark.parametrize("nbytes", [1, 1000, 1432, 100_000, 2_500_000])
@pytest.mark.parametrize("rate_bps,delay_s", [(10e6, 0.001), (50e6, 0.0002)])
def test_tcp_message_delivery_time_matches_closed_form(nbytes, rate_bps, delay_s):
    got = []
    with Simulation(one_link(rate_bps, delay_s)) as sim:
        sim.send("a", "b", 1, lambda m: None, tag="warm-up")  # opens the connection
        sim.schedule(0.5, lambda: sim.send("a", "b", nbytes, got.append, tag="x"))
        sim.run()
    (msg,) = got
    expected = wire_time_s(nbytes + FRAME, MSS, TCP_OVERHEAD, rate_bps) + delay_s
    assert msg.t_send_s == pytest.approx(0.5)
    assert msg.latency_s == pytest.approx(expected, rel=0.01)
    first = min(nbytes + FRAME, MSS)
    assert msg.t_first_byte_s - msg.t_send_s == pytest.approx(
        (first + TCP_OVERHEAD) * 8 / rate_bps + delay_s, rel=0.01)
    assert (msg.src, msg.dst, msg.bytes, msg.tag, msg.protocol) == ("a", "b", nbytes, "x", "tcp")


@pytest.mark.parametrize("nbytes", [1, 1472, 200_000])
def test_udp_message_delivery_time_matches_closed_form(nbytes):
    got = []
    with Simulation(one_link(protocol="udp")) as sim:
        sim.send("a", "b", 10, lambda m: None)  # ARP-free p2p: no warm-up needed, but harmless
        sim.schedule(0.5, lambda: sim.send("a", "b", nbytes, got.append))
        sim.run()
    (msg,) = got
    expected = wire_time_s(nbytes, UDP_PAYLOAD, UDP_OVERHEAD, 10e6) + 0.001
    assert msg.protocol == "udp"
    assert msg.latency_s == pytest.approx(expected, rel=0.01)


def test_many_messages_in_flight_between_one_pair_arrive_in_order_back_to_back():
    sizes = [50_000, 1, 120_000, 7_000, 30_000]
    got = []
    with Simulation(one_link()) as sim:
        sim.send("a", "b", 1, lambda m: None)

        def burst():
            for i, n in enumerate(sizes):
                sim.send("a", "b", n, got.append, tag=f"m{i}")
            assert sim.in_flight == len(sizes)

        sim.schedule(0.5, burst)
        sim.run()
    assert [m.tag for m in got] == [f"m{i}" for i in range(len(sizes))]
    # The stream is one byte sequence: message i ends at stream offset sum(sizes[:i+1]) plus
    # its frame headers, and is delivered with the segment holding that byte. All segments
    # but the stream's last are full (the next message fills the rest of a segment).
    total = sum(sizes) + FRAME * len(sizes)
    for i, m in enumerate(got):
        end = sum(sizes[: i + 1]) + FRAME * (i + 1)
        if i < len(sizes) - 1:
            expected = math.ceil(end / MSS) * (MSS + TCP_OVERHEAD) * 8 / 10e6 + 0.001
        else:
            expected = wire_time_s(total, MSS, TCP_OVERHEAD, 10e6) + 0.001
        assert m.latency_s == pytest.approx(expected, rel=0.01)


def test_two_hop_route_store_and_forward():
    # a -> r at 10 Mbit/s, r -> b at 100 Mbit/s: the slow first hop paces the packets; the last
    # one is then forwarded in its own serialisation time on the second hop.
    net = NetworkSpec(("a", "r", "b"), (LinkSpec("a", "r", 10e6, 0.001, 10000),
                                        LinkSpec("r", "b", 100e6, 0.002, 10000)))
    got = []
    n = 300_000
    with Simulation(net) as sim:
        sim.send("a", "b", 1, lambda m: None)
        sim.schedule(0.5, lambda: sim.send("a", "b", n, got.append))
        sim.run()
    s = n + FRAME
    last = s - (math.ceil(s / MSS) - 1) * MSS
    expected = (wire_time_s(s, MSS, TCP_OVERHEAD, 10e6) + 0.001
                + (last + TCP_OVERHEAD) * 8 / 100e6 + 0.002)
    assert got[0].latency_s == pytest.approx(expected, rel=0.01)


def test_exception_in_callback_reaches_run_and_process_survives():
    class Boom(RuntimeError):
        pass

    def explode(msg):
        raise Boom(f"delivered {msg.bytes}")

    with Simulation(one_link()) as sim:
        sim.send("a", "b", 5000, explode)
        with pytest.raises(Boom, match="delivered 5000"):
            sim.run()
        t_stop = sim.now
    assert t_stop < 0.1  # stopped at the failing callback, not run to the end
    with Simulation(one_link()) as sim:  # the process (and ns-3) still work
        got = []
        sim.send("a", "b", 10, got.append)
        sim.run()
        assert len(got) == 1


def test_schedule_runs_at_simulated_instants_in_order():
    seen = []
    with Simulation(one_link()) as sim:
        sim.schedule(0.3, lambda: seen.append(("c", sim.now)))
        sim.schedule(0.1, lambda: seen.append(("a", sim.now)))
        sim.schedule(0.2, lambda x: seen.append((x, sim.now)), "b")
        sim.run(until_s=0.25)
        assert sim.now == pytest.approx(0.25)
        sim.run()
    assert seen == [("a", pytest.approx(0.1)), ("b", pytest.approx(0.2)), ("c", pytest.approx(0.3))]


def test_link_state_tap_gives_zero_copy_views_of_live_counters():
    snapshots = []
    arrays = []
    with Simulation(one_link(queue=1000)) as sim:
        def tap(st):
            arrays.append(st.delivered_bytes)
            snapshots.append((st.t_s, st.delivered_bytes.copy(), st.queue_bytes.copy()))
            if st.t_s >= 0.4:
                sim.stop()

        sim.every(0.1, tap)
        sim.send("a", "b", 1, lambda m: None)
        sim.schedule(0.15, lambda: sim.send("a", "b", 400_000, lambda m: None))
        sim.run()
    # the same C++ buffer each time (no copies), read-only data owned by the simulation
    assert all(np.shares_memory(arrays[0], a) for a in arrays)
    assert arrays[0].base is not None
    t = [s[0] for s in snapshots]
    assert t == pytest.approx([0.1, 0.2, 0.3, 0.4])
    delivered_ab = [s[1][0] for s in snapshots]
    assert delivered_ab == sorted(delivered_ab) and delivered_ab[-1] > delivered_ab[1] > 0
    # at 0.2 s the 400 kB message (335 ms at 10 Mbit/s) is still queued behind the link
    assert snapshots[1][2][0] > 0


def test_link_rate_change_takes_effect_from_that_instant():
    got = []
    with Simulation(one_link()) as sim:
        sim.send("a", "b", 1, lambda m: None)
        sim.schedule(0.4, lambda: sim.set_link_rate("a", "b", 50e6))
        sim.schedule(0.5, lambda: sim.send("a", "b", 100_000, got.append))
        sim.run()
    expected = wire_time_s(100_000 + FRAME, MSS, TCP_OVERHEAD, 50e6) + 0.001
    assert got[0].latency_s == pytest.approx(expected, rel=0.01)


def test_replayed_cross_traffic_crosses_the_link():
    net = NetworkSpec(("a", "b"), (LinkSpec("a", "b", 10e6, 0.001, 10000),),
                      cross_traffic=(CrossTrafficSpec("a", "b", "replay", times_s=(0.1, 0.2),
                                                      bytes=(3000.0, 1472.0)),))
    with Simulation(net) as sim:
        sim.run(until_s=1.0)
        st = sim.link_states()
    # (the views stay readable after the simulation is closed, with their final values)
    # 3000 B -> datagrams of 1472, 1472, 56; 1472 B -> one; each + 30 B of headers on the wire
    assert st.delivered_bytes[0] == 3000 + 1472 + 4 * UDP_OVERHEAD


def test_cross_traffic_delays_messages():
    def latency(cross):
        net = NetworkSpec(("a", "b"), (LinkSpec("a", "b", 10e6, 0.001, 10000),),
                          cross_traffic=cross)
        got = []
        with Simulation(net, seed=3) as sim:
            sim.send("a", "b", 1, lambda m: None)
            sim.schedule(0.5, lambda: sim.send("a", "b", 200_000, got.append))
            sim.run(until_s=5)
        return got[0].latency_s

    busy = (CrossTrafficSpec("a", "b", "onoff", rate_bps=5e6, mean_on_s=1, mean_off_s=0),)
    assert latency(busy) > 1.3 * latency(())


def test_bad_send_is_rejected_before_anything_is_scheduled():
    with Simulation(one_link()) as sim:
        with pytest.raises(KeyError, match="unknown node 'zz'"):
            sim.send("a", "zz", 10)
        with pytest.raises(ValueError, match="nbytes"):
            sim.send("a", "b", 0)
        with pytest.raises(ValueError, match="protocol"):
            sim.send("a", "b", 10, protocol="sctp")


def test_only_one_simulation_per_process_at_a_time():
    with Simulation(one_link()):
        with pytest.raises(RuntimeError, match="already alive"):
            Simulation(one_link())


# -- UDP messages over a lossy link: acknowledged, retransmitted, or lost with a clear error ----

def lossy_link(queue=5, burst_times=(), burst_bytes=30 * UDP_PAYLOAD, reverse=False, **arq):
    """a -> b at 10 Mbit/s with a queue of ``queue`` packets per direction; replayed UDP bursts
    (a -> b, or b -> a with ``reverse``) overflow it at ``burst_times``."""
    src, dst = ("b", "a") if reverse else ("a", "b")
    cross = (CrossTrafficSpec(src, dst, "replay", times_s=tuple(burst_times),
                              bytes=(float(burst_bytes),) * len(burst_times)),) if burst_times else ()
    return NetworkSpec(("a", "b"), (LinkSpec("a", "b", 10e6, 0.001, queue),), cross,
                       protocol="udp", **arq)


def test_a_burst_into_a_full_queue_counts_every_datagram_the_link_could_not_hold():
    # 30 datagrams at one instant into an idle 10 Mbit/s link with a 5-packet queue: the first
    # starts transmitting at once, the next 5 wait in the queue and the other 24 are dropped.
    # (ns-3 3.37 drops them in the traffic-control layer, with no trace, once the device
    # queue is full; the link's counter must still see them.)
    with Simulation(lossy_link(queue=5, burst_times=(0.1,))) as sim:
        sim.run(until_s=0.5)
        st = sim.link_states()
    assert st.dropped_packets[0] == 30 - 1 - 5
    assert st.delivered_bytes[0] == 6 * (UDP_PAYLOAD + UDP_OVERHEAD)
    assert st.dropped_packets[1] == 0


def test_udp_message_dropped_by_a_full_queue_is_retransmitted_after_its_timeout():
    # the burst at 0.1 s fills the queue; the message's 3 datagrams sent right after are dropped.
    # The queue drains in ~7 ms; the copy sent at the timeout (0.2 s later) gets through.
    got = []
    with Simulation(lossy_link(burst_times=(0.1,), udp_timeout_s=0.2)) as sim:
        sim.schedule(0.1001, lambda: sim.send("a", "b", 3000, got.append, tag="x"))
        sim.run()
        stats = sim.udp_stats()
    (msg,) = got
    assert msg.t_send_s == pytest.approx(0.1001)  # the latency includes the wait for the timeout
    assert msg.latency_s == pytest.approx(
        0.2 + wire_time_s(3000, UDP_PAYLOAD, UDP_OVERHEAD, 10e6) + 0.001, rel=1e-3)
    assert (msg.tag, msg.bytes) == ("x", 3000)
    assert stats["retransmissions"] == 1 and stats["retransmitted_bytes"] == 3000
    assert stats["duplicates"] == 0


def test_udp_message_the_network_always_drops_fails_clearly_after_its_tries():
    # 20 datagrams at once into a queue of 5: every copy loses datagrams. Tries at 0, 0.1 and
    # 0.3 s (the timeout doubles); the last one expires at 0.7 s.
    from edgelam_ns3.arq import MessageLost

    got = []
    with Simulation(lossy_link(udp_timeout_s=0.1, udp_max_tries=3)) as sim:
        sim.send("a", "b", 20 * UDP_PAYLOAD, got.append, tag="act_up")
        with pytest.raises(MessageLost) as exc:
            sim.run()
        assert sim.now == pytest.approx(0.7)
    assert got == []
    text = str(exc.value)
    assert "'act_up' a->b" in text and "not delivered after 3 tries" in text
    assert "\n" not in text


def test_copy_whose_ack_was_lost_reaches_the_application_once():
    # bursts b -> a every 50 us keep the reverse queue full for 20 ms: the first ACK is dropped,
    # the sender retransmits at its timeout, the receiver drops the duplicate and acknowledges it
    # again.
    got = []
    bursts = [0.1 + 0.00005 * i for i in range(400)]
    with Simulation(lossy_link(burst_times=bursts, burst_bytes=2 * UDP_PAYLOAD, reverse=True,
                               udp_timeout_s=0.2)) as sim:
        sim.schedule(0.1001, lambda: sim.send("a", "b", 1000, got.append))
        sim.run()
        stats = sim.udp_stats()
    assert len(got) == 1
    assert got[0].latency_s == pytest.approx((1000 + UDP_OVERHEAD) * 8 / 10e6 + 0.001, rel=1e-3)
    assert stats["retransmissions"] == 1 and stats["duplicates"] == 1 and stats["acks"] == 2


def test_adaptive_udp_timeout_follows_rfc6298_from_the_measured_round_trips():
    # two messages of 3000 B measure the round trip R (message, then an 8-byte ACK back);
    # RFC 6298: SRTT = R, RTTVAR = R/2, then RTTVAR = 3/4 R/2, SRTT = R; RTO = SRTT + 4 RTTVAR,
    # at least 0.2 s. A third copy, dropped by a burst, is retransmitted RTO after its send.
    from edgelam_ns3.arq import ACK_BYTES, MIN_RTO_S

    got = []
    with Simulation(lossy_link(burst_times=(1.0,))) as sim:
        for t in (0.1, 0.5, 1.0001):
            sim.schedule(t, lambda: sim.send("a", "b", 3000, got.append))
        sim.run()
    r = wire_time_s(3000, UDP_PAYLOAD, UDP_OVERHEAD, 10e6) + 0.001
    rtt = r + (ACK_BYTES + UDP_OVERHEAD) * 8 / 10e6 + 0.001
    rto = max(rtt + 4 * (0.75 * rtt / 2), MIN_RTO_S)
    assert [m.latency_s for m in got] == pytest.approx([r, r, rto + r], rel=1e-3)


@pytest.mark.parametrize("kwargs, field", [
    (dict(mode="onoff", rate_bps=float("nan")), "rate_bps"),
    (dict(mode="onoff", rate_bps=0.0), "rate_bps"),
    (dict(mode="onoff", rate_bps=1e6, mean_on_s=-1.0), "mean_on_s"),
    (dict(mode="onoff", rate_bps=1e6, mean_off_s=float("inf")), "mean_off_s"),
    (dict(mode="onoff", rate_bps=1e6, packet_bytes=0), "packet_bytes"),
    (dict(mode="replay", times_s=(0.2, 0.1), bytes=(1.0, 1.0)), "times_s"),
    (dict(mode="replay", times_s=(0.1,), bytes=(1.0, 2.0)), "differ in length"),
    (dict(mode="replay", times_s=(0.1,), bytes=(float("nan"),)), "bytes"),
    (dict(mode="poisson"), "mode"),
])
def test_bad_cross_traffic_is_rejected_when_built_naming_the_field(kwargs, field):
    # (a NaN or zero on/off rate used to reach ns-3's OnOffApplication and hang the run)
    with pytest.raises(ValueError, match=f"^cross traffic a->b: .*{field}"):
        CrossTrafficSpec("a", "b", **kwargs)
