"""A run's lifecycle with real signals to real processes: interrupts, kills, stalls, the run
directory. Tiny scenarios (a 2-block model of width 32 over the ideal radio) keep each short."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from edgelam_ns3 import cli, config, runner, sweep, traces

TINY = ["radio.mode=ideal", "model.n_layer=2", "model.n_embd=32", "model.n_head=2",
        "model.seq_len=16", "train.batch_size=2"]
HANG_GUARD_S = 300  # only so that a broken run cannot hang the suite; nothing is timed


class Edgelam:
    """``edgelam run quickstart`` as a background process whose output lines are readable."""

    def __init__(self, out: Path, *overrides: str, steps: int = 200):
        sets = [a for o in [*TINY, f"train.steps={steps}", *overrides] for a in ("--set", o)]
        self.stderr = out.parent / f"{out.name}.stderr"
        with self.stderr.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgelam_ns3.cli", "run", "quickstart", "--out",
                 str(out), *sets], stdout=subprocess.PIPE, stderr=err, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.stdout: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str) -> None:
        """Read output until a line contains ``text``."""
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline:
            line = self.lines.get(timeout=HANG_GUARD_S)
            assert line is not None, f"ended before {text!r}:\n{''.join(self.stdout)}"
            self.stdout.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} in the output")

    def child_pid(self) -> int:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        assert len(out) == 1, out
        return int(out[0])

    def finish(self) -> tuple[int, str]:
        """Wait for the end; :return: the exit code and the standard error."""
        rc = self.proc.wait(timeout=HANG_GUARD_S)
        while (line := self.lines.get(timeout=HANG_GUARD_S)) is not None:
            self.stdout.append(line)
        return rc, self.stderr.read_text()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie is gone too: its state in /proc is Z
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_parent_stops_child_and_keeps_summary_and_traces(tmp_path, sig):
    out = tmp_path / "run"
    run = Edgelam(out)
    run.wait_for("round    2/200")
    child = run.child_pid()
    run.proc.send_signal(sig)
    rc, err = run.finish()
    assert rc == 128 + sig  # 130 for Ctrl-C, 143 for SIGTERM
    assert "Traceback" not in err and "Traceback" not in "".join(run.stdout)
    assert err.startswith(f"edgelam: run interrupted: interrupted by {sig.name} at simulated t=")
    assert gone(child)  # no orphan
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["signal"] == sig
    assert 2 <= s["steps"] < 200
    metrics = pd.read_parquet(out / "traces" / "metrics.parquet")
    assert len(metrics) == s["steps"]  # every round done is in the traces
    assert not (out / "traces" / ".parts").exists()
    text = (out / "report.md").read_text()
    assert "- status: **interrupted**" in text and "![loss.png](loss.png)" in text


def test_ctrl_c_while_the_child_starts_up_gives_no_traceback(tmp_path):
    out = tmp_path / "run"
    run = Edgelam(out)
    deadline = time.monotonic() + HANG_GUARD_S
    while not subprocess.run(["pgrep", "-P", str(run.proc.pid)], capture_output=True).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.proc.send_signal(signal.SIGINT)  # the child is still importing torch
    rc, err = run.finish()
    assert rc == 130
    assert "Traceback" not in err and "Traceback" not in (out / "stdout.log").read_text()
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["error"].startswith("interrupted by SIGINT")


def test_kill_9_of_the_child_leaves_flushed_traces_and_names_the_signal(tmp_path):
    out = tmp_path / "run"
    run = Edgelam(out)
    run.wait_for("round    1/200")
    # rows are flushed by time, not only every 5000 rows: part files appear during the run
    deadline = time.monotonic() + HANG_GUARD_S
    while not list((out / "traces" / ".parts").glob(f"metrics-*{traces.PART_SUFFIX}")):
        assert time.monotonic() < deadline and run.proc.poll() is None
        time.sleep(0.2)
    os.kill(run.child_pid(), signal.SIGKILL)
    rc, err = run.finish()
    assert rc == 1
    assert err.startswith("edgelam: run failed: killed by signal 9 (SIGKILL)")
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and s["error"] == "killed by signal 9 (SIGKILL)"
    metrics = pd.read_parquet(out / "traces" / "metrics.parquet")
    assert len(metrics) >= 1 and s["steps"] == len(metrics)  # recovered from the traces
    assert s["sim_time_s"] > 0


def test_parent_killed_child_does_not_run_on(tmp_path):
    run = Edgelam(tmp_path / "run")
    run.wait_for("round    1/200")
    child = run.child_pid()
    run.proc.kill()
    run.finish()
    wait_gone(child)  # the child got SIGTERM from the kernel (PR_SET_PDEATHSIG) and stopped
    # no launcher wrote summary.json; edgelam report recovers it from the child's result
    out = tmp_path / "run"
    assert not (out / "summary.json").exists()
    assert cli.main(["report", str(out)]) == 1  # 1: with a warning that says so
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["signal"] == signal.SIGTERM and s["steps"] >= 1
    assert len(pd.read_parquet(out / "traces" / "metrics.parquet")) == s["steps"]


def test_stalled_run_warns_stops_and_exits_nonzero(tmp_path):
    # a device a thousand kilometres from its gNB: no message ever arrives
    out = tmp_path / "run"
    run = Edgelam(out, "radio.mode=nr", "radio.ue_distance_m=1e6", "sim.stall_warn_s=0.5",
                  "sim.stall_stop_s=1.5", steps=2)
    rc, err = run.finish()
    text = "".join(run.stdout)
    assert "edgelam: warning: no progress for 0.5 s of simulated time" in text
    assert rc == 3
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "incomplete" and s["steps"] == 0
    assert s["error"].startswith("stalled: no message delivered, no compute job or round "
                                 "finished since t=")
    assert s["error"].endswith("(sim.stall_stop_s=1.5 s) after 0 of 2 rounds")
    assert err.startswith("edgelam: run incomplete: stalled:")
    assert 1.5 <= s["sim_time_s"] < 3.0


def test_max_time_reached_is_incomplete_not_ok(tmp_path):
    cfg = config.load("quickstart", TINY + ["train.steps=50", "sim.max_time_s=0.05"])
    s = runner.launch(cfg, tmp_path / "short", quiet=True)
    assert s["status"] == "incomplete" and runner.exit_code(s) == 3
    assert s["error"].startswith("stopped at sim.max_time_s=0.05 s after ")
    assert s["steps"] < 50


def test_interrupted_sweep_keeps_the_points_that_ran(tmp_path):
    sent = []

    def echo(line):  # Ctrl-C as soon as the first point is recorded
        if line.startswith("sweep: [1/") and not sent:
            sent.append(line)
            os.kill(os.getpid(), signal.SIGINT)

    # The first point stops at once (sim.max_time_s); the others would run for long, so the
    # signal finds the second one running, however fast it started (warm).
    with pytest.raises(sweep.SweepInterrupted) as exc:
        sweep.run_sweep("quickstart", {"sim.max_time_s": [0.05, 60.0, 61.0]}, tmp_path / "sw",
                        TINY + ["train.steps=400"], echo=echo)
    rows = exc.value.rows
    assert exc.value.signum == signal.SIGINT and 1 <= len(rows) < 3
    table = pd.read_parquet(tmp_path / "sw" / "sweep.parquet")
    assert table["index"].tolist() == [r["index"] for r in rows] == list(range(len(rows)))
    assert table["status"].iloc[0] == "incomplete"  # ran to sim.max_time_s
    assert set(table["status"].iloc[1:]) <= {"interrupted"}
    plan = json.loads((tmp_path / "sw" / "plan.json").read_text())["points"]
    assert not Path(plan[2]["run_dir"]).exists()  # never started


def test_radio_run_report_has_a_per_ue_table_and_radio_figures(tmp_path):
    cfg = config.load("radio-saturation", ["radio.n_ues=2", "traffic.duration_s=0.05",
                                            "radio.gnb_array=[4,4]"])
    s = runner.launch(cfg, tmp_path / "r", quiet=True)
    assert s["status"] == "ok" and s["plots"] == ["radio_time.png", "radio_cdf.png"]
    text = (tmp_path / "r" / "report.md").read_text()
    assert "None" not in text and "loss" not in text.lower()
    rows = [ln for ln in text.splitlines() if ln.startswith("| ue")]
    assert [r.split(" | ")[0] for r in rows] == ["| ue0", "| ue1"]
    assert all("Mbit/s" in r and " dB |" in r for r in rows)
    assert text.strip().splitlines()[-1].startswith("Files: `config.yaml`, `summary.json`, "
                                                    "`stdout.log`, `traces/link_states.parquet` (")


def test_no_plots_draws_no_figure_and_report_draws_them_later(tmp_path):
    cfg = config.load("quickstart", [*TINY, "train.steps=2"])
    s = runner.launch(cfg, tmp_path / "r", quiet=True, plots=False)
    assert s["status"] == "ok" and s["plots"] == []
    assert not list((tmp_path / "r").glob("*.png"))
    assert "not drawn (--no-plots)" in (tmp_path / "r" / "report.md").read_text()
    assert cli.main(["report", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "loss.png").is_file()
    assert "not drawn" not in (tmp_path / "r" / "report.md").read_text()
