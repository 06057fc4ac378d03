"""Online orchestration of the light service (``embed``) per request.

At each request's arrival every host is an option, described by :class:`EmbedOption`: the
work the request's ``embed`` calls put on the host (``work_s``), the host's backlog now
(``backlog_s``: the rest of its iteration and its queued work), the delay the choice adds to the
request (``delay_s``: prompt in, backlog, embed compute, hidden states to the first block group,
and per decode step the token id back from the LM head and the hidden state out again), and
the link time the choice occupies on the backhaul (``link_s``: the same transfers' bytes over
their bottleneck rates, without propagation).

``online`` picks the least ``delay_s``. ``lyapunov`` (:class:`DriftPlusPenalty`) is Neely's
drift-plus-penalty rule: with the hosts' backlogs ``Q_h`` as queues and a virtual queue ``Z`` of
the delay in excess of a latency target ``T`` (``Z <- max(Z + d - T, 0)`` after each choice, so
that a stable ``Z`` means a time-average delay of at most ``T``), each request goes to

    argmin_h  V * link_s(h) + Z * delay_s(h) + Q_h * work_s(h)

trading the backhaul it uses (weighted by ``V``) against the latency target and the hosts'
queues: with ``Z`` at 0 the cheapest links win; as requests exceed the target, ``Z`` grows
and the faster hosts take over until the average delay is back under ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmbedOption:
    """One host for a request's ``embed`` calls (all [s])."""

    host: str
    work_s: float
    backlog_s: float
    delay_s: float
    link_s: float


class DriftPlusPenalty:
    """Drift-plus-penalty choice of the ``embed`` host (see the module docstring).

    :param v: weight of the backhaul link time against the queues [-], >= 0
    :param target_s: latency target of the delay the choice adds [s], > 0
    """

    def __init__(self, v: float, target_s: float):
        if v < 0 or target_s <= 0:
            raise ValueError(f"drift-plus-penalty: v >= 0 and target_s > 0 (got {v}, {target_s})")
        self.v, self.target_s, self.z = v, target_s, 0.0

    def score(self, o: EmbedOption) -> float:
        """``V * link_s + Z * delay_s + Q * work_s`` of an option."""
        return self.v * o.link_s + self.z * o.delay_s + o.backlog_s * o.work_s

    def choose(self, options: list[EmbedOption]) -> EmbedOption:
        """The option of least score (the first on a tie); updates the virtual queue."""
        best = min(options, key=self.score)
        self.z = max(self.z + best.delay_s - self.target_s, 0.0)
        return best
