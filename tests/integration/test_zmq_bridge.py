"""bridge.transport zmq (issue 14 item 2): the frameworks on an ns-3 program in another process
over ZeroMQ, built from the edgelam-zmq module against Debian's ns-3.

- the package's edgelam-zmq-server gives traces identical to the in-process bridge;
- the module builds standalone (installed ns-3) with its minimal example (doc/zmq.md), which
  serves a Simulation: delivery times match its link's closed form, over ipc and tcp;
- a killed or silent ns-3 side raises a BridgeError naming it within the timeout; a killed
  Python side makes the ns-3 side exit with a message naming it; a stop from a signal handler
  keeps the lockstep; the module's CMake takes the build_lib path inside an ns-3 tree;
- no ipc socket, log or private directory is left behind.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
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
    summary = runner.launch(cfg, out, quiet=True, warm=True)
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


def _generator() -> list[str]:
    """Ninja where it is installed (scripts/setup.sh installs it; a fresh Debian has no make)."""
    return ["-G", "Ninja"] if shutil.which("ninja") else []


@pytest.fixture(scope="module")
def minimal_example(tmp_path_factory):
    """The module built standalone against the installed ns-3, with its minimal example."""
    build = tmp_path_factory.mktemp("edgelam-zmq-build")
    for cmd in (["cmake", "-S", str(MODULE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                 *_generator()], ["cmake", "--build", str(build), "-j", "2"]):
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


STUB_NS3_TREE = """
cmake_minimum_required(VERSION 3.13)
project(stub-ns3-tree CXX)
set(libcore core)
set(libedgelam-zmq edgelam-zmq)
function(build_lib)  # records what the module hands to ns-3's build_lib
  cmake_parse_arguments(L "" "LIBNAME" "SOURCE_FILES;HEADER_FILES;LIBRARIES_TO_LINK" ${ARGN})
  foreach(f ${L_SOURCE_FILES} ${L_HEADER_FILES})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${f})
      message(FATAL_ERROR "no file ${f}")
    endif()
  endforeach()
  file(WRITE ${CMAKE_BINARY_DIR}/lib.txt
       "${L_LIBNAME}|${L_SOURCE_FILES}|${L_HEADER_FILES}|${L_LIBRARIES_TO_LINK}")
  add_subdirectory(examples)  # as ns-3's build_lib does with examples enabled
endfunction()
function(build_lib_example)
  cmake_parse_arguments(E "" "NAME" "SOURCE_FILES;LIBRARIES_TO_LINK" ${ARGN})
  file(WRITE ${CMAKE_BINARY_DIR}/example.txt "${E_NAME}|${E_SOURCE_FILES}|${E_LIBRARIES_TO_LINK}")
endfunction()
add_subdirectory(MODULE contrib/edgelam-zmq)
"""


def test_module_cmake_hands_its_files_to_build_lib_inside_an_ns3_tree(tmp_path):
    """Inside an ns-3 source tree (build_lib defined) the module is an ns-3 module: its
    sources, headers, libcore and libzmq go to build_lib, its example to build_lib_example.
    A stand-in build_lib records them (no ns-3 source tree on this machine)."""
    (tmp_path / "CMakeLists.txt").write_text(STUB_NS3_TREE.replace("MODULE", str(MODULE)))
    proc = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b"), *_generator()],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    name, sources, headers, libs = (tmp_path / "b" / "lib.txt").read_text().split("|")
    assert name == "edgelam-zmq"
    assert sources.split(";") == ["model/edgelam-zmq-bridge.cc", "helper/edgelam-zmq-helper.cc"]
    assert "model/edgelam-zmq-bridge.h" in headers.split(";")
    core, libzmq = libs.split(";")
    assert core == "core" and re.search(r"/libzmq\.(so|a)$", libzmq)
    example = (tmp_path / "b" / "example.txt").read_text()
    assert example == "edgelam-zmq-minimal|edgelam-zmq-minimal.cc|edgelam-zmq;core"


def test_stop_from_a_signal_handler_while_ns3_runs_ends_the_run(minimal_example, private_tmp):
    """RunControl stops a run from its SIGINT/SIGTERM handler, which may fire while ns-3 is
    executing events: the stop is sent with the next callback's reply, the lockstep holds."""
    with _two_nodes(minimal_example) as sim:
        taps = []
        sim.every(0.001, lambda s: (taps.append(s.t_s), time.sleep(0.002)))
        old = signal.signal(signal.SIGALRM, lambda *_: sim.stop())
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            sim.run(until_s=1e6)  # an endless tap: only the stop ends it
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        assert 0 < sim.now < 1e6 and taps[-1] == pytest.approx(sim.now)
        sim.send("a", "b", 1000)  # the session still works
        sim.run(until_s=sim.now + 0.05)
    assert _leftovers(private_tmp) == []


KILLED_PYTHON = """
import json, os, signal, sys
from edgelam_ns3.config import BridgeConfig
from edgelam_ns3.sim import LinkSpec, NetworkSpec, Simulation
bridge = BridgeConfig(transport="zmq", command=[sys.argv[1], "--edgelam-endpoint={endpoint}"])
sim = Simulation(NetworkSpec(("a", "b"), (LinkSpec("a", "b", 1e6, 0.01),)), bridge=bridge)
print(json.dumps({"pid": sim._sim._proc.pid, "dir": sim._sim._dir}), flush=True)
sim.schedule(0.001, os.kill, os.getpid(), signal.SIGKILL)
sim.run()
"""


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") >= 0  # zombie
    except FileNotFoundError:
        return True


def test_ns3_side_exits_naming_the_python_side_when_python_is_killed(minimal_example):
    proc = subprocess.run([sys.executable, "-c", KILLED_PYTHON, str(minimal_example)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    try:
        t0 = time.monotonic()
        while not _gone(info["pid"]) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        assert _gone(info["pid"])  # within its 0.5 s liveness slices, not its 600 s Timeout
        log = (Path(info["dir"]) / "ns3.log").read_text()
        assert re.search(r"edgelam-zmq: the Python side \(pid \d+\) exited while ns-3 waited "
                         r"for a timer callback", log), log
    finally:
        shutil.rmtree(info["dir"], ignore_errors=True)  # what a SIGKILLed Python leaves
