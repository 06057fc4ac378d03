"""Sweeps of real runs (issue 13.3, 13.4): a sweep killed by a signal resumes where it stopped,
and a point past its wall-time limit is recorded as ``timeout``. The points are the cheapest
runs there are (no framework, p2p radio, 10 ms of traffic): what is checked is the
bookkeeping, not the simulation. Nothing is timed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from edgelam_ns3 import sweep
from edgelam_ns3.sweep_design import load_spec, spec_from_dict

CHEAP = {"radio.mode": "ideal", "train.framework": "none", "traffic.duration_s": 0.01,
         "nodes.n_devices": 1}
HANG_GUARD_S = 900  # only so that a broken sweep cannot hang the suite (a loaded machine is slow)


def _processes_naming(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (a sweep's run children)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path) in (proc / "cmdline").read_text():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _run_id(run_dir: str) -> str:
    return json.loads((Path(run_dir) / "summary.json").read_text())["provenance"]["run_id"]


def test_a_sweep_killed_by_sigkill_resumes_with_each_point_once_and_done_ones_not_rerun(
        tmp_path):
    spec_path, out = tmp_path / "spec.yaml", tmp_path / "sweep"
    spec_path.write_text(f"scenario: quickstart\nset: {json.dumps(CHEAP)}\n"
                         "design: {n_seeds: 2}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = (tmp_path / "sweep.out").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "edgelam_ns3.cli", "sweep", str(spec_path),
                             "--out", str(out), "--quiet"], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + HANG_GUARD_S
    try:
        while not (out / "sweep.parquet").exists():  # the first point finished
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "sweep.out").read_text()[-2000:]
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    while _processes_naming(out):  # its running point ends with it (SIGTERM from the kernel)
        assert time.monotonic() < deadline
        time.sleep(0.2)
    before = pd.read_parquet(out / "sweep.parquet")
    assert len(before) == 1 and set(before["status"]) == {"ok"}
    run_ids = {r.point_id: _run_id(r.run_dir) for r in before.itertuples()}

    lines: list[str] = []
    rows = sweep.run_spec(load_spec(spec_path), out, echo=lines.append)
    assert lines[0].endswith(": 1 done, 0 failed, 1 to run")
    table = pd.read_parquet(out / "sweep.parquet")
    plan = [p["id"] for p in json.loads((out / "plan.json").read_text())["points"]]
    assert table["point_id"].tolist() == plan == [r["point_id"] for r in rows]
    assert table["seed"].tolist() == [1, 2] and set(table["status"]) == {"ok"}
    assert {pid: _run_id(table.set_index("point_id").loc[pid, "run_dir"])
            for pid in run_ids} == run_ids  # the points that were done did not run again


def test_a_point_past_its_wall_time_limit_is_recorded_as_timeout(tmp_path):
    spec = spec_from_dict({"scenario": "quickstart",
                           "set": {**CHEAP, "traffic.duration_s": 1000.0},
                           "engine": {"point_timeout_s": 2}})
    rows = sweep.run_spec(spec, tmp_path / "s", echo=lambda line: None)
    assert [r["status"] for r in rows] == ["timeout"]
    assert rows[0]["error"].startswith("ran past the per-point limit of 2 s wall (")
    assert sweep.status_text(tmp_path / "s").startswith(
        f"{tmp_path / 's'}: 1 points: 0 done, 1 failed, 0 pending\n  failed ")
