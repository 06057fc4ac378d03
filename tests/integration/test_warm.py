"""Warm starts (issue 14.1): runs forked from a server that has imported torch and the
frameworks give the traces of a cold run, start with those modules imported, keep exit codes
and signals, never run the launcher's main script again, and do not outlive their launcher."""

import os
import signal
import subprocess
import threading
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_run_lifecycle import gone

from edgelam_ns3 import config, runner, warm

TINY = ["radio.mode=ideal", "model.n_layer=2", "model.n_embd=32", "model.n_head=2",
        "model.seq_len=16", "train.batch_size=2"]
HANG_GUARD_S = 300  # only so that a broken start cannot hang the suite; nothing is timed
WALL_COLUMNS = ("wall",)  # columns that hold wall-clock time, which no two runs share


def _table(run: Path, name: str) -> pd.DataFrame:
    df = pd.read_parquet(run / "traces" / f"{name}.parquet")
    return df.drop(columns=[c for c in df.columns if any(w in c for w in WALL_COLUMNS)])


def test_a_warm_run_gives_the_cold_runs_traces(tmp_path):
    cfg = config.load("quickstart", TINY + ["train.steps=3"])
    runs = {}
    for name, is_warm in (("cold", False), ("warm1", True), ("warm2", True)):
        s = runner.launch(cfg, tmp_path / name, quiet=True, plots=False, warm=is_warm)
        assert s["status"] == "ok", s.get("error")
        assert s["rounds"] == 3
        runs[name] = tmp_path / name
    tables = sorted(p.stem for p in (runs["cold"] / "traces").glob("*.parquet"))
    assert {"messages", "compute", "metrics"} <= set(tables), tables
    for table in tables:
        cold = _table(runs["cold"], table)
        assert len(cold) > 0, table
        for name in ("warm1", "warm2"):
            pd.testing.assert_frame_equal(cold, _table(runs[name], table), obj=table)
    for name in ("warm1", "warm2"):  # the child's progress lines reach the run's log
        assert "round    3/3" in (runs[name] / "stdout.log").read_text()


def _output(proc: warm.WarmProcess) -> str:
    text = proc.stdout.read()
    proc.stdout.close()
    return text


def test_a_warm_child_has_the_frameworks_imported_the_given_environment_and_its_exit_code():
    code = ("import os, sys; print(sorted(m for m in ('torch', 'edgelam_ns3.frameworks."
            "split_learning', 'transformers.models.gpt2.modeling_gpt2') if m in sys.modules)); "
            "print(os.environ['EDGELAM_TEST_VALUE'], os.environ.get('EDGELAM_NOT_GIVEN')); "
            "print(os.getppid()); sys.exit(3)")
    env = {"PATH": os.environ.get("PATH", ""), "EDGELAM_TEST_VALUE": "given"}
    os.environ["EDGELAM_NOT_GIVEN"] = "launcher's"
    try:
        proc = warm.start(exec, (code,), env)
    finally:
        del os.environ["EDGELAM_NOT_GIVEN"]
    lines = _output(proc).splitlines()
    assert proc.wait(HANG_GUARD_S) == 3
    assert lines == ["['edgelam_ns3.frameworks.split_learning', 'torch', "
                     "'transformers.models.gpt2.modeling_gpt2']", "given None",
                     str(warm.server().proc.pid)]


def test_a_signal_to_a_warm_child_is_its_exit_code_as_with_popen():
    proc = warm.start(exec, ("import time; print('up', flush=True); time.sleep(120)",),
                      dict(os.environ))
    assert proc.stdout.readline() == "up\n"
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(HANG_GUARD_S) == -signal.SIGKILL
    _output(proc)
    with pytest.raises(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)


def test_an_unguarded_main_script_runs_once_and_its_exit_ends_the_server(tmp_path):
    """multiprocessing's forkserver would import it again in the server and each child."""
    script = tmp_path / "unguarded.py"
    script.write_text("import os\nfrom edgelam_ns3 import warm\nprint('MAIN RAN', flush=True)\n"
                      "p = warm.start(print, ('child',), dict(os.environ))\n"
                      "print(p.stdout.read().strip(), p.wait(), flush=True)\n"
                      "print(warm.server().proc.pid)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=HANG_GUARD_S)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["MAIN RAN", "child 0"]
    assert gone(int(lines[2]))  # at its exit the launcher ended its server and waited for it


def test_a_warm_run_ends_with_its_killed_launcher(tmp_path):
    script = tmp_path / "launcher.py"
    script.write_text(
        "import sys\nfrom edgelam_ns3 import config, runner\n"
        f"cfg = config.load('quickstart', {TINY + ['train.steps=100000']!r})\n"
        "runner.launch(cfg, sys.argv[1], quiet=False, plots=False, warm=True)\n")
    launcher = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run")],
                                stdout=subprocess.PIPE, text=True)
    try:
        for line in launcher.stdout:
            if "round" in line:  # the child is simulating
                break
        else:
            pytest.fail("the warm run printed no round")
        server = _children(launcher.pid)
        assert len(server) == 1, server
        child = _children(server[0])
        assert len(child) == 1, child
        launcher.kill()
        launcher.wait(HANG_GUARD_S)
        deadline = time.monotonic() + HANG_GUARD_S
        while not all(gone(p) for p in server + child):
            assert time.monotonic() < deadline, "the server or its child runs on"
            time.sleep(0.1)
    finally:
        launcher.kill()
        launcher.stdout.close()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_run_whose_server_dies_keeps_what_it_wrote_and_the_next_start_gets_a_new_server(
        tmp_path):
    cfg = config.load("quickstart", TINY + ["train.steps=100000"])
    out = tmp_path / "run"
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(
        runner.launch(cfg, out, quiet=True, plots=False, warm=True)))
    old = warm.server()
    t.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while "round    3/" not in (out / "stdout.log").read_text() if (out / "stdout.log").exists() \
            else True:
        assert time.monotonic() < deadline, "the warm run printed no third round"
        time.sleep(0.1)
    old.proc.kill()  # the child gets SIGTERM (it dies with its parent) and writes its results
    t.join(HANG_GUARD_S)
    assert not t.is_alive()
    assert result["status"] == "interrupted" and result["signal"] == signal.SIGTERM
    assert len(pd.read_parquet(out / "traces" / "metrics.parquet")) >= 3
    proc = warm.start(print, ("again",), dict(os.environ))
    assert _output(proc) == "again\n" and proc.wait(HANG_GUARD_S) == 0
    assert warm.server() is not old and warm.server().proc.pid != old.proc.pid
