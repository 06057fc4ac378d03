"""Benchmarks (``edgelam bench ...``). Figures are wall-clock and machine-dependent: they
belong in reports, never in tests.

``bench_bridge``: the cost of one C++ -> Python callback fired by an ns-3 event and carrying a
numpy view of C++-owned state (1 KB and 1 MB: zero-copy, so the size should not matter), against
a pyzmq ``ipc://`` request/reply round trip between two processes (64 B and 1 MB), and an
exchange over the out-of-process ZeroMQ bridge (``bridge.transport: zmq``: an ns-3 event of
edgelam-zmq-server handed to a Python callback and back).

``bench_radio``: simulated slots per wall second of the 6G radio (NrRadioHelper, NrCellMac over
the TR 38.901 channel ThreeGppNrChannel), 1 cell, 100 MHz, mu = 1, full-buffer downlink, for
several UE counts and gNB arrays. Each case runs in its own child process (ns-3's Simulator is a
process singleton); see :func:`bench_radio` for the set-up.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid

from . import _load_core
from .cosim_bench import bench_cosim, format_cosim_table  # noqa: F401 - edgelam bench cosim
from .replay_bench import bench_replay, format_replay_table  # noqa: F401 - edgelam bench replay
from .sweep_bench import bench_sweep, format_sweep_table  # noqa: F401 - edgelam bench sweep


def _callback_ns(n: int, nbytes: int) -> float:
    """Mean wall ns per periodic ns-3 event calling a Python function with a zero-copy view of
    an ``nbytes`` C++ buffer (the path link-state taps use)."""
    core = _load_core()
    sim = core.CoSim(1)
    try:
        state = sim.bench_buffer(nbytes)
        count = 0
        total = 0.0

        def cb(view):
            nonlocal count, total
            total += view[count & 7]  # touch the state: it is really there, not copied
            count += 1
            if count == n:
                sim.stop()

        sim.every(1e-6, cb, state, False)
        t0 = time.perf_counter_ns()
        sim.run()
        dt = time.perf_counter_ns() - t0
        assert count == n
        return dt / n
    finally:
        sim.destroy()


def _zmq_server(endpoint: str, ready) -> None:
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.REP)
    s.bind(endpoint)
    ready.set()
    while True:
        msg = s.recv(copy=False)
        if len(msg) == 1 and msg.bytes == b"q":
            s.send(b"q")
            break
        s.send(msg, copy=False)
    s.close(linger=0)
    ctx.term()


def _zmq_rtt_ns(sizes_iters: list[tuple[int, int]]) -> list[float]:
    """Mean wall ns per REQ/REP round trip over ipc:// for each (payload bytes, iterations).
    The endpoint is unique per call; both sides block in recv (no busy spinning)."""
    import zmq

    endpoint = f"ipc://{tempfile.gettempdir()}/edgelam-bench-{os.getpid()}-{uuid.uuid4().hex}.ipc"
    mpctx = mp.get_context("spawn")
    ready = mpctx.Event()
    proc = mpctx.Process(target=_zmq_server, args=(endpoint, ready), daemon=True)
    proc.start()
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    out = []
    try:
        if not ready.wait(60):
            raise RuntimeError("zmq bench server did not start")
        s.connect(endpoint)
        for size, iters in sizes_iters:
            payload = b"x" * size
            for _ in range(min(50, iters)):  # warm-up
                s.send(payload, copy=False)
                s.recv(copy=False)
            t0 = time.perf_counter_ns()
            for _ in range(iters):
                s.send(payload, copy=False)
                s.recv(copy=False)
            out.append((time.perf_counter_ns() - t0) / iters)
        s.send(b"q")
        s.recv()
    finally:
        s.close(linger=0)
        ctx.term()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        path = endpoint[len("ipc://"):]
        if os.path.exists(path):
            os.unlink(path)
    return out


def _zmq_exchange_ns(n: int) -> float:
    """Mean wall ns per exchange over the ZeroMQ bridge (bridge.transport zmq, default ipc
    endpoint): a periodic ns-3 event of edgelam-zmq-server handed to a Python callback (TICK)
    and control handed back (DONE), one round trip: the zmq counterpart of
    :func:`_callback_ns` without state."""
    from .config import BridgeConfig
    from .zmq_bridge import ZmqCoSim

    sim = ZmqCoSim(BridgeConfig(transport="zmq"), 1, 1)
    try:
        count = 0

        def cb():
            nonlocal count
            count += 1
            if count == n:
                sim.stop()

        sim.every(1e-6, cb, None, False)
        t0 = time.perf_counter_ns()
        sim.run()
        dt = time.perf_counter_ns() - t0
        assert count == n
        return dt / n
    finally:
        sim.destroy()


def bench_bridge(n_callbacks: int = 200_000) -> dict:
    """Run the bridge benchmark; returns the figures in ns (lower is better)."""
    if int(n_callbacks) < 1:
        raise ValueError(f"bench bridge: the number of callbacks (--n) must be >= 1, "
                         f"not {n_callbacks}")
    callback_ns = _callback_ns(n_callbacks, 1024)
    state_1mb_ns = _callback_ns(n_callbacks, 1 << 20)
    zmq_64, zmq_1mb = _zmq_rtt_ns([(64, 20_000), (1 << 20, 300)])
    exchange_ns = _zmq_exchange_ns(max(1, min(n_callbacks, 20_000)))
    return {
        "zmq_exchange_ns": exchange_ns,
        "zmq_exchange_over_callback": exchange_ns / callback_ns,
        "callback_ns": callback_ns,
        "state_1mb_ns": state_1mb_ns,
        "zmq_rtt_64b_ns": zmq_64,
        "zmq_rtt_1mb_ns": zmq_1mb,
        "zmq_64b_over_callback": zmq_64 / callback_ns,
        "n_callbacks": n_callbacks,
    }


def format_table(r: dict) -> str:
    """Human-readable bridge figures."""
    rows = [
        ("C++ -> Python callback, 1 KB numpy state (zero-copy)", r["callback_ns"]),
        ("C++ -> Python callback, 1 MB numpy state (zero-copy)", r["state_1mb_ns"]),
        ("pyzmq ipc:// round trip, 64 B", r["zmq_rtt_64b_ns"]),
        ("pyzmq ipc:// round trip, 1 MB", r["zmq_rtt_1mb_ns"]),
    ]
    lines = [f"{name:55s} {ns / 1e3:10.3f} us" for name, ns in rows]
    lines.insert(2, f"{'bridge.transport zmq: ns-3 event -> Python callback -> ns-3':55s} "
                    f"{r['zmq_exchange_ns'] / 1e3:10.3f} us")
    lines.append(f"{'64 B ZeroMQ round trip / callback':55s} {r['zmq_64b_over_callback']:10.1f} x")
    lines.append(f"{'zmq exchange / in-process callback':55s} "
                 f"{r['zmq_exchange_over_callback']:10.1f} x")
    return "\n".join(lines)


# --- radio -------------------------------------------------------------------------------------

#: (UEs, gNB array side, mode, channel update period in s or None for bench_radio's) of each
#: ``bench_radio`` case; the first is the headline. The last one updates the channel every 1 ms
#: (2 slots: vehicular speeds) instead of 10 ms, to show what channel updates cost.
RADIO_CASES: tuple[tuple[int, int, str, float | None], ...] = (
    (16, 8, "mac", None),
    (16, 8, "udp", None),
    (4, 8, "mac", None),
    (64, 8, "mac", None),
    (16, 4, "mac", None),
    (16, 16, "mac", None),
    (16, 8, "mac", 0.001),
    (16, 8, "su-srs", None),
    (16, 8, "mu-srs", None),
    (16, 8, "mu-ideal", None),
)
#: MAC attributes of the modes beyond full-buffer ``mac`` (and ``udp``): SRS every 10 ms (20
#: slots at mu = 1, in the S slot of DDDSU), single layer (``su-srs``) or MU-MIMO with 4 layers
#: per RBG and ZF (``mu-srs``; ``mu-ideal`` with the ideal CSI of the all-DL pattern).
_RADIO_MODES: dict[str, dict[str, str]] = {
    "su-srs": {"TddPattern": "DDDSU", "CsiMode": "Srs", "SrsPeriodSlots": "20",
               "SrsOffsetSlots": "3"},
    "mu-srs": {"TddPattern": "DDDSU", "CsiMode": "Srs", "SrsPeriodSlots": "20",
               "SrsOffsetSlots": "3", "MaxLayers": "4", "Precoder": "zf"},
    "mu-ideal": {"MaxLayers": "4", "Precoder": "zf"},
}
#: TS 38.306 §4.1.2 rate of the benchmarked carrier (100 MHz, mu = 1, 273 PRBs, 256-QAM, one
#: layer, OH 0.14): the UDP variant offers 1.2 times it, shared by the UEs.
_PEAK_BPS = 8 * 948 / 1024 * 273 * 12 * 14 * 2 * 1000 * (1 - 0.14)


def _radio_case(n_ues: int, side: int, mode: str, duration_s: float, warmup_s: float,
                update_period_s: float, speed_kmh: float, seed: int) -> dict:
    """One case, in this (child) process: build, warm up (first channel realization, first
    slots), then time ``duration_s`` simulated seconds."""
    from .radio import load_bler_tables, load_eesm_betas

    core = _load_core()
    sim = core.CoSim(seed)
    try:
        t0 = time.perf_counter()
        helper = {"Scenario": "UMa", "CarrierHz": "7e9", "BandwidthHz": "100e6",
                  "Numerology": "1", "GnbTxPowerDbm": "43", "GnbArrayRows": str(side),
                  "GnbArrayCols": str(side), "UeDistanceM": "-1", "MinUeDistanceM": "35",
                  "Mobility": "constant-velocity" if speed_kmh > 0 else "static",
                  "UeSpeedKmh": repr(speed_kmh)}
        mac = {"TddPattern": "D", "McsTable": "qam256", "Scheduler": "PF", "Olla": "true"}
        if mode != "udp":
            mac["FullBufferDl"] = "true"
        mac.update(_RADIO_MODES.get(mode, {}))
        channel = {"UpdatePeriod": f"{update_period_s}s", "Condition": "3gpp",
                   "ShadowingEnabled": "true"}
        tb = core.NrRadioTestBed(sim, 1, n_ues, helper=helper, mac=mac, channel_attrs=channel,
                                 channel="3gpp", stream=1000)
        for c in load_bler_tables():
            if c.channel == 1:  # PDSCH curves (as radio.make_bler_model)
                for ch in (1, 0):
                    tb.add_bler_curve(ch, c.table, c.mcs, c.snr_db, c.cb_sizes, c.bler)
        for t, b in load_eesm_betas().items():
            tb.set_eesm_betas(t, b)
        tb.build(ipv4=(mode == "udp"))
        if mode == "udp":
            tb.add_udp(downlink=True, rate_bps=1.2 * _PEAK_BPS / n_ues, packet_size=1472)
        tb.start()
        setup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        sim.run(warmup_s)
        warmup_wall = time.perf_counter() - t1
        slots0 = tb.slots
        t2 = time.perf_counter()
        c2 = time.process_time()
        sim.run(warmup_s + duration_s)
        wall = time.perf_counter() - t2
        cpu = time.process_time() - c2
        slots = tb.slots - slots0
        r = tb.results()
        slot_s = tb.slot_s
    finally:
        sim.destroy()
    row = {"ues": n_ues, "gnb_array": f"{side}x{side}", "mode": mode,
           "slots_per_s": slots / wall, "realtime_factor": slots * slot_s / wall,
           "slots_per_cpu_s": slots / cpu if cpu > 0 else float("nan"),
           "wall_s": wall, "slots": int(slots), "update_period_s": update_period_s,
           "setup_s": setup_s, "warmup_wall_s": warmup_wall,
           "cell_dl_mbps": float(r["dl_mac_bps"].sum()) / 1e6,
           "tdd_pattern": mac["TddPattern"]}
    if mode == "udp":
        row["cell_dl_goodput_mbps"] = float(r["dl_goodput_bps"].sum()) / 1e6
        row["min_queue_bytes"] = float(r["dl_queue_bytes"].min())  # > 0: still full buffer
    return row


def _radio_child(conn, args) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        conn.send(("ok", _radio_case(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def bench_radio(duration_s: float = 2.0, warmup_s: float = 0.02,
                update_period_s: float = 0.01, speed_kmh: float = 3.0, seed: int = 1,
                cases=RADIO_CASES, progress=sys.stderr) -> dict:
    """Simulated slots per wall second of the radio, one child process per case.

    Set-up (the project's radio defaults where it has them): TR 38.901 UMa (LOS/NLOS drawn per
    Table 7.4.2-1, shadowing on), 7 GHz carrier (the default 6G upper mid-band carrier of
    ``radio.carrier_hz``; the carrier only changes path loss and Doppler, not the cost),
    100 MHz, mu = 1 (273 PRBs, 18 RBGs, 18 channel subbands), TDD pattern ``D`` (every slot
    downlink; DDDSU for the SRS cases), 256-QAM table, PF scheduler, OLLA, one cell (gNB 25 m high, 43 dBm, array
    facing +x), UEs dropped uniformly 35-250 m from it, moving at ``speed_kmh`` (3 km/h:
    pedestrians) so that every channel update (period ``update_period_s``, 10 ms as
    ``radio.channel_update_period_s``; the last case 1 ms) recomputes every pair, default LOS
    beams (no beam-management policy: the test bed installs none). Mode ``mac``:
    the MAC's full-buffer DL (no packets); ``udp``: IPv4 and an OnOff UDP source per UE at 1.2
    times the TS 38.306 rate of the carrier shared by the UEs (each device queue stays full);
    ``su-srs``, ``mu-srs``, ``mu-ideal``: full-buffer DL with the CSI and MIMO of
    ``_RADIO_MODES`` (MU-MIMO: 4 layers per RBG, ZF, SUS on the PF metric).

    Timing: the first ``warmup_s`` simulated seconds (ns-3's first channel realization, about
    7-25 ms of wall time per pair) are not timed; ``setup_s`` and ``warmup_wall_s`` report them.

    :return: ``slots_per_s`` and ``realtime_factor`` (simulated seconds per wall second) of the
        first case (16 UEs, 8x8, mac), and ``table``: one row per case (also
        ``slots_per_cpu_s``: slots per second of this process's CPU time, which a loaded
        machine changes less than the wall time).
    """
    _check_radio_args(duration_s=duration_s, warmup_s=warmup_s,
                      update_period_s=update_period_s, speed_kmh=speed_kmh, seed=seed)
    mpctx = mp.get_context("spawn")
    rows = []
    for i, (n_ues, side, mode, period) in enumerate(cases):
        period = update_period_s if period is None else period
        if progress is not None:
            print(f"edgelam bench radio: [{i + 1}/{len(cases)}] {n_ues} UEs, {side}x{side}, "
                  f"{mode}, channel update {period * 1e3:g} ms ...", end="", file=progress,
                  flush=True)
        args = (n_ues, side, mode, duration_s, warmup_s, period, speed_kmh, seed)
        parent, child = mpctx.Pipe(duplex=False)
        proc = mpctx.Process(target=_radio_child, args=(child, args), daemon=True)
        proc.start()
        child.close()
        try:
            status, value = parent.recv()
        except EOFError:
            status, value = "error", "the child process died"
        proc.join(60)
        if proc.is_alive():
            proc.kill()
            proc.join()
        if status != "ok":
            if proc.exitcode not in (0, None):
                value = f"{value} (exit code {proc.exitcode})"
            raise RuntimeError(f"bench radio case {n_ues} UEs {side}x{side} {mode}: {value}")
        rows.append(value)
        if progress is not None:
            print(f" {value['slots_per_s']:.0f} slots/s ({value['wall_s']:.2f} s wall)",
                  file=progress, flush=True)
    head = rows[0]
    return {"slots_per_s": head["slots_per_s"], "realtime_factor": head["realtime_factor"],
            "table": rows,
            "setup": {"scenario": "UMa", "carrier_hz": 7e9, "bandwidth_hz": 100e6,
                      "numerology": 1, "tdd_pattern": "D", "duration_s": duration_s,
                      "warmup_s": warmup_s, "update_period_s": update_period_s,
                      "ue_speed_kmh": speed_kmh, "seed": seed}}


def _check_radio_args(**args) -> None:
    """One-line ValueError for a bench radio argument out of range (before any case runs)."""
    rules = {"duration_s": (lambda v: v > 0, "> 0 (--duration-s)"),
             "warmup_s": (lambda v: v >= 0, ">= 0"), "update_period_s": (lambda v: v > 0, "> 0"),
             "speed_kmh": (lambda v: v >= 0, ">= 0"), "seed": (lambda v: v >= 1, ">= 1")}
    for name, value in args.items():
        ok, what = rules[name]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and ok(value)):
            raise ValueError(f"bench radio: {name} must be a finite number {what}, not {value}")


def format_radio_table(r: dict) -> str:
    """Human-readable radio figures."""
    s = r["setup"]
    lines = [f"1 cell, TR 38.901 {s['scenario']}, {s['carrier_hz'] / 1e9:g} GHz, "
             f"{s['bandwidth_hz'] / 1e6:g} MHz, mu={s['numerology']}, full-buffer DL, UEs at "
             f"{s['ue_speed_kmh']:g} km/h, {s['duration_s']:g} s simulated per case",
             f"{'UEs':>4s} {'gNB':>6s} {'mode':>8s} {'update':>6s} {'slots/s':>9s} "
             f"{'x real':>7s} {'wall s':>7s} {'slots':>6s} {'setup s':>8s} {'cell Mb/s':>9s} "
             f"{'slots/cpu s':>11s}"]
    for row in r["table"]:
        lines.append(f"{row['ues']:4d} {row['gnb_array']:>6s} {row['mode']:>8s} "
                     f"{row['update_period_s'] * 1e3:4g}ms {row['slots_per_s']:9.0f} "
                     f"{row['realtime_factor']:7.2f} {row['wall_s']:7.2f} {row['slots']:6d} "
                     f"{row['setup_s']:8.2f} {row['cell_dl_mbps']:9.1f} "
                     f"{row.get('slots_per_cpu_s', float('nan')):11.0f}")
    lines.append(f"headline (16 UEs, 8x8): {r['slots_per_s']:.0f} slots/s, "
                 f"{r['realtime_factor']:.2f} x real time")
    return "\n".join(lines)
