"""Benchmarks (``edgelam bench ...``). Figures are wall-clock and machine-dependent: they
belong in reports, never in tests.

``bench_bridge``: the cost of one C++ -> Python callback fired by an ns-3 event and carrying a
numpy view of C++-owned state (1 KB and 1 MB: zero-copy, so the size should not matter), against
a pyzmq ``ipc://`` request/reply round trip between two processes (64 B and 1 MB), the
out-of-process alternative.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import time
import uuid

from . import _load_core


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


def bench_bridge(n_callbacks: int = 200_000) -> dict:
    """Run the bridge benchmark; returns the figures in ns (lower is better)."""
    callback_ns = _callback_ns(n_callbacks, 1024)
    state_1mb_ns = _callback_ns(n_callbacks, 1 << 20)
    zmq_64, zmq_1mb = _zmq_rtt_ns([(64, 20_000), (1 << 20, 300)])
    return {
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
    lines.append(f"{'64 B ZeroMQ round trip / callback':55s} {r['zmq_64b_over_callback']:10.1f} x")
    return "\n".join(lines)
