"""bridge.transport zmq (issue 14 item 2): the frameworks on an ns-3 program in another process
over ZeroMQ, built from the edgelam-zmq module against Debian's ns-3.

- the package's edgelam-zmq-server gives traces identical to the in-process bridge;
- the module builds standalone (installed ns-3) with its minimal example (doc/zmq.md), which
  serves a Simulation: delivery times match its link's closed form, over ipc and tcp;
- a killed or silent ns-3 side raises a BridgeError naming it within the timeout;
- no ipc socket, log or private directory is left behind.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from edgelam_ns3 import config, runner
from edgelam_ns3.config import BridgeConfig
from edgelam_ns3.sim import LinkSpec, NetworkSpec, Simulation
from edgelam_ns3.zmq_bridge import BridgeError

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "ns3_scenarios" / "contrib" / "edgelam-zmq"
CROSS = ("backhaul.cross_traffic=[{src: cloud, dst: ue0, mode: onoff, rate_bps: 60e6, "
         "mean_on_s: 0.02, mean_off_s: 0.02}]")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temp dir for this test's runs (tempfile and child processes): empty at the end
    if nothing is left behind."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _leftovers(d):
    """What the bridge would leave: its private dirs, ipc sockets, logs (torch may add its
    own caches here)."""
    return [p for p in d.rglob("*") if p.name.startswith("edgelam-zmq") or p.suffix == ".ipc"
            or p.is_socket()]


def _run(tmp_path, name, *overrides):
    cfg = config.load("quickstart", ["radio.mode=ideal", "train.steps=2", CROSS, *overrides])
    out = tmp_path / name
    summary = runner.launch(cfg, out, quiet=True)
    assert summary["status"] == "ok", summary.get("error")
    return {k: pd.read_parquet(out / "traces" / f"{k}.parquet")
            for k in ("messages", "compute", "metrics", "link_states")}


def test_zmq_backend_gives_the_in_process_traces_and_leaves_no_files(tmp_path, private_tmp):
    inproc = _run(tmp_path, "inprocess")
    zmq = _run(tmp_path, "zmq", "bridge.transport=zmq", "bridge.timeout_s=60")
    for kind, table in inproc.items():
        assert len(table) > 0, kind
        pd.testing.assert_frame_equal(zmq[kind], table, check_exact=True, obj=kind)
    assert _leftovers(private_tmp) == []  # ipc socket, log and private dir removed


@pytest.fixture(scope="module")
def minimal_example(tmp_path_factory):
    """The module built standalone against the installed ns-3, with its minimal example."""
    build = tmp_path_factory.mktemp("edgelam-zmq-build")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    for cmd in (["cmake", "-S", str(MODULE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 *gen], ["cmake", "--build", str(build), "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return build / "edgelam-zmq-minimal"


def _two_nodes(example, endpoint="ipc", timeout_s=10.0):
    bridge = BridgeConfig(transport="zmq", endpoint=endpoint, timeout_s=timeout_s,
                          command=[str(example), "--edgelam-endpoint={endpoint}"])
    return Simulation(NetworkSpec(("a", "b"), (LinkSpec("a", "b", 1e6, 0.01),)), bridge=bridge)


@pytest.mark.parametrize("endpoint", ["ipc", "tcp"])
def test_minimal_example_delivers_at_its_links_closed_form(minimal_example, private_tmp,
                                                           endpoint):
    got, states = [], []
    with _two_nodes(minimal_example, endpoint) as sim:
        assert re.match(r"ipc://.*/bridge\.ipc$" if endpoint == "ipc"
                        else r"tcp://127\.0\.0\.1:\d+$", sim._sim.endpoint)
        ipc = sim._sim.endpoint[len("ipc://"):] if endpoint == "ipc" else None
        assert ipc is None or Path(ipc).is_socket()
        sim.send("a", "b", 1000, got.append)  # 8 ms on the wire at 1 Mbit/s, then 10 ms
        sim.send("a", "b", 500, got.append)   # queued behind it: 4 ms more
        tap = sim.every(0.002, lambda s: states.append((s.t_s, s.queue_bytes[0])))
        sim.schedule(0.0105, sim.cancel, tap)
        sim.run()
    assert [(m.src, m.dst, m.bytes) for m in got] == [("a", "b", 1000), ("a", "b", 500)]
    assert got[0].t_delivered_s == pytest.approx(0.018, abs=1e-12)
    assert got[1].t_delivered_s == pytest.approx(0.022, abs=1e-12)
    assert got[1].t_first_byte_s == pytest.approx(0.018, abs=1e-12)
    # the queue drains at 1 Mbit/s: 1500 bytes at 0 s, empty at 12 ms
    assert [t for t, _ in states] == pytest.approx([0.002, 0.004, 0.006, 0.008, 0.010])
    assert [q for _, q in states] == pytest.approx([1250, 1000, 750, 500, 250])
    assert ipc is None or not Path(ipc).parent.exists()
    assert _leftovers(private_tmp) == []


def test_killed_ns3_side_raises_a_bridge_error_naming_it_within_the_timeout(minimal_example,
                                                                             private_tmp):
    with _two_nodes(minimal_example, timeout_s=30.0) as sim:
        pid = sim._sim._proc.pid
        sim.schedule(0.001, os.kill, pid, signal.SIGKILL)
        sim.send("a", "b", 1000)
        t0 = time.monotonic()
        with pytest.raises(BridgeError, match=rf"ns-3 side \(edgelam-zmq-minimal, pid {pid}\) "
                                              r"exited with code -9"):
            sim.run()
        assert time.monotonic() - t0 < 5.0  # detected by the poll slices, not the 30 s timeout
    assert _leftovers(private_tmp) == []


def test_silent_ns3_side_times_out_with_a_bridge_error(private_tmp):
    bridge = BridgeConfig(transport="zmq", timeout_s=1.0, command=["sleep", "60"])
    t0 = time.monotonic()
    with pytest.raises(BridgeError, match=r"no message from the ns-3 side \(sleep, pid \d+\) "
                                          r"within 1 s \(bridge.timeout_s\) while Python "
                                          r"waited for its HELLO"):
        Simulation(NetworkSpec(("a", "b"), ()), bridge=bridge)
    assert time.monotonic() - t0 < 10.0
    assert _leftovers(private_tmp) == []


def test_zmq_doc_example_is_the_built_minimal_example():
    """doc/zmq.md shows the minimal scenario that the tests above build and run."""
    doc = (ROOT / "doc" / "zmq.md").read_text()
    src = (MODULE / "examples" / "edgelam-zmq-minimal.cc").read_text()
    blocks = re.findall(r"```cpp\n(.*?)```", doc, re.S)
    assert blocks and all(b in src for b in blocks)
