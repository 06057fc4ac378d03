"""Ending a run early, inside the simulation's process: on a signal, or when it stalls.

:class:`RunControl` is what :func:`edgelam_ns3.scenario.run_scenario` consults while the
simulation runs. Its signal handler (installed by :mod:`edgelam_ns3.runner`'s child for SIGINT
and SIGTERM) aborts the set-up, or stops the simulation after the current event so that the
scenario still writes its traces and summary (status "interrupted"). Its stall watchdog checks
every ``check_period_s`` of simulated time whether the framework made progress (a message
delivered, a compute job or a round finished): after ``sim.stall_warn_s`` without any it prints
a warning, after ``sim.stall_stop_s`` it stops the run (status "incomplete", with the reason).
"""

from __future__ import annotations

import signal
from typing import Callable


class Interrupted(BaseException):
    """A signal ended the run before its simulation started (a BaseException, as
    KeyboardInterrupt, so that no ``except Exception`` swallows it)."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal_name(signum)}")
        self.signum = signum


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2, ``signal 64`` for a number without a name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class RunControl:
    """Stop requests (signals) and the stall watchdog of one simulation.

    :param stall_warn_s: simulated seconds without progress before a warning (None: never)
    :param stall_stop_s: simulated seconds without progress before the run stops (None: never)
    :param echo: where warnings go (``print`` to the run's log by default)
    """

    def __init__(self, stall_warn_s: float | None = None, stall_stop_s: float | None = None,
                 echo: Callable[[str], None] = lambda line: print(line, flush=True)):
        self.stall_warn_s, self.stall_stop_s, self.echo = stall_warn_s, stall_stop_s, echo
        self.signum: int | None = None
        self.stalled: str | None = None
        self._sim = None
        self._started = False  # attach() was called: a signal no longer aborts the set-up
        self._progress: Callable[[], int] = lambda: 0
        self._last = (0, 0.0)  # (progress count, simulated instant it last changed)
        self._warned = False

    # -- signals ------------------------------------------------------------------------------

    def install(self) -> None:
        """Handle SIGINT and SIGTERM with :meth:`on_signal` (main thread only), then unblock
        them: a child of :func:`edgelam_ns3.runner.launch` starts with both blocked, and one
        that came during its start-up is handled here, now."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.on_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def on_signal(self, signum: int, frame=None) -> None:
        """The first signal stops the simulation after the current event (before it runs:
        raises :class:`Interrupted`; after it ran: only noted, the summary is being written);
        later ones are ignored, the run is already ending."""
        if self.signum is not None:
            return
        self.signum = signum
        if not self._started:
            raise Interrupted(signum)
        if self._sim is not None:
            self._sim.stop()

    # -- the simulation -----------------------------------------------------------------------

    def attach(self, sim, progress: Callable[[], int] | None, check_period_s: float) -> None:
        """Watch ``sim``: ``progress()`` is a count that grows while the run progresses (None:
        no stall watchdog, only stop requests)."""
        self._sim, self._started = sim, True
        if progress is None:
            self.stall_warn_s = self.stall_stop_s = None
        else:
            self._progress = progress
        self._last = (self._progress(), sim.now)

        def tick():
            self.check()
            self._sim.schedule(check_period_s, tick)

        sim.schedule(check_period_s, tick)

    def detach(self) -> None:
        """The simulation is over: later signals no longer stop it."""
        self._sim = None

    def check(self) -> None:
        """Honour a pending stop request; warn or stop when the run has stalled."""
        sim = self._sim
        if self.signum is not None:
            sim.stop()
            return
        count, t = self._progress(), sim.now
        if count != self._last[0]:
            if self._warned:
                self.echo(f"[sim {t:9.4f} s] progress again after "
                          f"{t - self._last[1]:.3g} s of simulated time")
            self._last, self._warned = (count, t), False
            return
        idle = t - self._last[1]
        what = (f"no message delivered, no compute job or round finished since "
                f"t={self._last[1]:.4g} s")
        if self.stall_stop_s is not None and idle >= self.stall_stop_s:
            self.stalled = f"stalled: {what} (sim.stall_stop_s={self.stall_stop_s:g} s)"
            self.echo(f"[sim {t:9.4f} s] edgelam: stopping the run: {self.stalled}")
            sim.stop()
        elif self.stall_warn_s is not None and idle >= self.stall_warn_s and not self._warned:
            self._warned = True
            stop = (f"; the run stops after sim.stall_stop_s={self.stall_stop_s:g} s without "
                    "progress" if self.stall_stop_s is not None else "")
            self.echo(f"[sim {t:9.4f} s] edgelam: warning: no progress for {idle:.3g} s of "
                      f"simulated time ({what}){stop}")
