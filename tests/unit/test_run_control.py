"""RunControl: the stall watchdog and stop requests, on a stand-in for the simulation clock."""

import signal

import pytest

from edgelam_ns3.run_control import Interrupted, RunControl


class Clock:
    """The part of Simulation that RunControl uses: now, schedule, stop."""

    def __init__(self):
        self.now, self.stopped, self.events = 0.0, False, []

    def schedule(self, delay, fn):
        self.events.append((self.now + delay, fn))

    def stop(self):
        self.stopped = True

    def run_until(self, t_end):
        while self.events and not self.stopped:
            self.events.sort(key=lambda e: e[0])
            t, fn = self.events.pop(0)
            if t > t_end:
                break
            self.now = t
            fn()


def test_watchdog_warns_once_then_stops_a_run_without_progress():
    lines = []
    control = RunControl(stall_warn_s=2.0, stall_stop_s=5.0, echo=lines.append)
    clock, progress = Clock(), [0]
    control.attach(clock, lambda: progress[0], check_period_s=0.5)
    clock.run_until(100.0)
    assert clock.stopped and clock.now == 5.0
    warnings = [ln for ln in lines if "warning" in ln]
    assert len(warnings) == 1 and "no progress for 2 s of simulated time" in warnings[0]
    assert control.stalled == ("stalled: no message delivered, no compute job or round finished "
                               "since t=0 s (sim.stall_stop_s=5 s)")


def test_watchdog_restarts_its_count_at_each_progress():
    lines = []
    control = RunControl(stall_warn_s=2.0, stall_stop_s=5.0, echo=lines.append)
    clock, progress = Clock(), [0]
    control.attach(clock, lambda: progress[0], check_period_s=0.5)

    def tick():  # progress every 4 s: a warning each time, never a stop
        progress[0] += 1
        clock.schedule(4.0, tick)

    clock.schedule(4.0, tick)
    clock.run_until(19.0)  # warnings at 2, 6, 10, 14, 18 s; progress at 4, 8, 12, 16 s
    assert not clock.stopped and control.stalled is None
    assert sum("warning" in ln for ln in lines) == 5
    assert sum("progress again after" in ln for ln in lines) == 4


def test_no_watchdog_without_a_progress_count_or_limits():
    control = RunControl(stall_warn_s=1.0, stall_stop_s=1.0, echo=print)
    clock = Clock()
    control.attach(clock, None, check_period_s=0.5)  # traffic-only runs
    clock.run_until(10.0)
    assert not clock.stopped


def test_a_signal_stops_the_running_simulation_and_later_ones_are_ignored():
    control = RunControl()
    clock = Clock()
    control.attach(clock, lambda: 0, check_period_s=1.0)
    control.on_signal(signal.SIGTERM)
    assert clock.stopped and control.signum == signal.SIGTERM
    control.on_signal(signal.SIGINT)
    assert control.signum == signal.SIGTERM


def test_a_signal_before_the_simulation_aborts_the_set_up():
    control = RunControl()
    with pytest.raises(Interrupted, match="interrupted by SIGINT"):
        control.on_signal(signal.SIGINT)
    clock = Clock()
    control.attach(clock, lambda: 0, check_period_s=1.0)
    clock.run_until(5.0)  # a request that came before attach is honoured at the first check
    assert clock.stopped and clock.now == 1.0


def test_a_signal_after_the_simulation_is_only_noted():
    control = RunControl()
    clock = Clock()
    control.attach(clock, lambda: 0, check_period_s=1.0)
    control.detach()  # the summary is being written: it must not be cut short
    control.on_signal(signal.SIGINT)
    assert control.signum == signal.SIGINT and not clock.stopped


def _blocked_in(pid: int) -> set[int]:
    """The signals blocked in process ``pid`` (its SigBlk line in /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        mask = int(next(line for line in fh if line.startswith("SigBlk:")).split()[1], 16)
    return {s for s in range(1, 65) if mask >> (s - 1) & 1}


def test_a_signal_while_the_child_starts_is_held_for_both_never_lost():
    # The launcher starts its child with SIGINT and SIGTERM blocked (not ignored): a Ctrl-C to
    # the parent in that window reaches its forwarding handler once the child exists, and one
    # sent to the child waits there until it is ready (RunControl.install unblocks).
    import os
    import subprocess
    import sys
    import threading

    from edgelam_ns3.runner import _signals_held

    seen = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with _signals_held():
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
            # (to this thread: a process-wide one could go to another thread of pytest's)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            assert seen == []  # held while inside
        assert seen == [signal.SIGINT]  # ... and delivered after, not lost
        try:
            assert {signal.SIGINT, signal.SIGTERM} <= _blocked_in(child.pid)
        finally:
            child.kill()
            child.wait()
    finally:
        signal.signal(signal.SIGINT, before)
    assert signal.SIGINT not in _blocked_in(os.getpid())  # the launcher's mask is restored
