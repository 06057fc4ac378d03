"""Application-level retransmission of messages sent over UDP (an ARQ on top of the transport).

A UDP message is cut into datagrams and is lost if any one of them is (a queue overflow, a radio
transport block that HARQ gave up on). Without a retransmission its receiver would wait for ever.
:class:`UdpArq` makes each UDP message reliable the way a request/response protocol over UDP
does:

- the receiver acknowledges every copy it receives with an ACK of :data:`ACK_BYTES` (the
  message id), itself a UDP message through the network, and hands the message to the
  application once (later copies are duplicates);
- the sender retransmits the whole message when no ACK came within its timeout, and doubles the
  timeout at each retransmission (exponential backoff, RFC 6298 §5.5);
- after ``max_tries`` copies without an ACK the message is lost: :class:`MessageLost` is raised
  (it stops the simulation and reaches the caller of ``Simulation.run``), unless the receiver
  did get it and only the ACKs were lost, in which case the sender gives up quietly.

The timeout is fixed (``timeout_s``) or, by default, adaptive: an RFC 6298 estimator (smoothed
round-trip time and its variation, Karn's rule: no sample from a retransmitted message) per
sender, receiver and message size, since a message's round trip grows with its size. Its first
timeout is RFC 6298's initial 1 s, its floor :data:`MIN_RTO_S` (Linux's ``TCP_RTO_MIN``) and its
ceiling :data:`MAX_RTO_S`.
"""

from __future__ import annotations

from dataclasses import dataclass
ACK_BYTES = 8
"""Size of an acknowledgement: the acknowledged message's id (a uint64), bytes."""
INITIAL_RTO_S = 1.0
"""Timeout before any round trip was measured (RFC 6298 §2.1), s."""
MIN_RTO_S = 0.2
"""Floor of the adaptive timeout (Linux TCP_RTO_MIN; RFC 6298 §2.4 allows less than 1 s), s."""
MAX_RTO_S = 60.0
"""Ceiling of any timeout, backoff included (RFC 6298 §2.5), s."""


class MessageLost(RuntimeError):
    """A UDP message did not reach its receiver after every try."""


class RtoEstimator:
    """Retransmission timeout from measured round trips (RFC 6298 §2, clock granularity 0)."""

    def __init__(self):
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = INITIAL_RTO_S

    def sample(self, rtt_s: float) -> None:
        """Account a round trip (send to ACK) of a message sent once."""
        if self.srtt is None:
            self.srtt, self.rttvar = rtt_s, rtt_s / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt_s)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt_s
        self.rto = min(max(self.srtt + 4 * self.rttvar, MIN_RTO_S), MAX_RTO_S)

    def backoff(self) -> None:
        """A timeout expired: double the timeout (kept until the next sample, §5.5 and §5.7)."""
        self.rto = min(2 * self.rto, MAX_RTO_S)


@dataclass
class _Outgoing:
    """A UDP message not yet acknowledged, as its sender and receiver know it."""

    id: int
    src: int
    dst: int
    nbytes: int
    tag: str
    t_send_s: float
    timeout_s: float
    tries: int = 1
    delivered: bool = False  # the receiver has handed it to the application


class UdpArq:
    """Retransmission of the UDP messages of one simulation.

    :param core: the bridge's simulation (``send``, ``schedule``, ``now``)
    :param names: node names by index (for error messages)
    :param timeout_s: timeout of a message's first copy, s (None: adaptive, see the module)
    :param max_tries: copies of a message sent at most (1: no retransmission)
    """

    def __init__(self, core, names, timeout_s: float | None = None, max_tries: int = 6):
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"udp timeout must be > 0 s, got {timeout_s!r}")
        if max_tries < 1:
            raise ValueError(f"udp max tries must be >= 1, got {max_tries!r}")
        self._core, self._names = core, names
        self.timeout_s, self.max_tries = timeout_s, max_tries
        self._out: dict[int, _Outgoing] = {}  # by message id (the id of its first copy)
        self._copy: dict[int, int] = {}  # transport id of a copy -> message id
        self._ack: dict[int, int] = {}  # transport id of an ACK -> message id
        self._rto: dict[tuple[int, int, int], RtoEstimator] = {}
        self.retransmissions = 0
        self.retransmitted_bytes = 0
        self.acks = 0
        self.duplicates = 0

    def send(self, src: int, dst: int, nbytes: int, tag: str) -> int:
        """Send a message now; :return: its id (the id its delivery record will carry)."""
        mid = self._core.send(src, dst, nbytes, True)
        est = self._estimator(src, dst, nbytes)
        out = _Outgoing(mid, src, dst, nbytes, tag, self._core.now,
                        self.timeout_s if self.timeout_s is not None else est.rto)
        self._out[mid] = out
        self._copy[mid] = mid
        self._arm(out)
        return mid

    def on_delivery(self, rec: tuple) -> tuple | None:
        """A transport delivery record (id, src, dst, bytes, udp, t_send, t_first, t_last):
        :return: the message's record for the application (its id and first send instant), or
        None for an ACK or a duplicate copy."""
        mid, src, dst, nbytes, _, _, t_first, t_last = rec
        if mid in self._ack:
            self._acked(self._ack.pop(mid), t_last)
            return None
        lid = self._copy.pop(mid, None)
        if lid is None:  # not a message of this ARQ
            return rec
        # the receiver acknowledges every copy (an earlier ACK may have been lost)
        self._ack[self._core.send(dst, src, ACK_BYTES, True)] = lid
        self.acks += 1
        out = self._out.get(lid)
        if out is None or out.delivered:
            self.duplicates += 1
            return None
        out.delivered = True
        return (lid, src, dst, nbytes, True, out.t_send_s, t_first, t_last)

    # -- sender side ----------------------------------------------------------------------------

    def _estimator(self, src: int, dst: int, nbytes: int) -> RtoEstimator:
        return self._rto.setdefault((src, dst, nbytes), RtoEstimator())

    def _arm(self, out: _Outgoing) -> None:
        tries = out.tries
        self._core.schedule(out.timeout_s, lambda: self._expired(out, tries))

    def _expired(self, out: _Outgoing, tries: int) -> None:
        if self._out.get(out.id) is not out or out.tries != tries:
            return  # acknowledged (or already retransmitted) meanwhile
        if out.tries >= self.max_tries:
            self._forget(out)
            if not out.delivered:
                raise MessageLost(self._lost_text(out))
            return  # the receiver has it; only the ACKs were lost
        if self.timeout_s is None:
            self._estimator(out.src, out.dst, out.nbytes).backoff()
        out.timeout_s = min(2 * out.timeout_s, MAX_RTO_S)
        out.tries += 1
        self.retransmissions += 1
        self.retransmitted_bytes += out.nbytes
        cid = self._core.send(out.src, out.dst, out.nbytes, True)
        self._copy[cid] = out.id
        self._arm(out)

    def _acked(self, lid: int, t_s: float) -> None:
        out = self._out.get(lid)
        if out is None:
            return  # a late ACK of a message already acknowledged
        self._forget(out)
        if out.tries == 1:  # Karn: a retransmitted message's round trip is ambiguous
            self._estimator(out.src, out.dst, out.nbytes).sample(t_s - out.t_send_s)

    def _forget(self, out: _Outgoing) -> None:
        # its copies still in flight stay known: if one arrives, it is a duplicate
        del self._out[out.id]

    def _lost_text(self, out: _Outgoing) -> str:
        n = self._names
        what = f"'{out.tag}' " if out.tag else ""
        return (f"message {out.id} {what}{n[out.src]}->{n[out.dst]} ({out.nbytes} B over UDP, "
                f"sent at t={out.t_send_s:.6g} s) not delivered after {out.tries} tries (last "
                f"timeout {out.timeout_s:.3g} s): the network dropped every copy; raise "
                "transport.udp_max_tries or use transport.protocol=tcp")

    def stats(self) -> dict[str, int]:
        """Counts so far: ``retransmissions``, ``retransmitted_bytes``, ``acks`` (ACKs sent),
        ``ack_bytes``, ``duplicates`` (copies received after the first)."""
        return {"retransmissions": self.retransmissions,
                "retransmitted_bytes": self.retransmitted_bytes, "acks": self.acks,
                "ack_bytes": self.acks * ACK_BYTES, "duplicates": self.duplicates}
