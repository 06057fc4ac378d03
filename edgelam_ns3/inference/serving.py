"""Serving on one host: a request queue, continuous batching and a KV-cache memory budget.

A :class:`HostServer` runs *iterations*, one at a time (vLLM-style continuous batching): when
it is idle and work is queued, it takes queued work items first come first served while the
batch stays within ``max_batch_tokens`` tokens and ``max_batch_requests`` requests (the first
item is always taken), runs the services each item needs on this host, service by service in
chain order as one ragged batch per service (:meth:`MicroserviceLAM.run`), and is busy for the
sum of the calls' roofline durations (:func:`edgelam_ns3.compute.duration_s` on the host's
profile). Items of prefill (the whole prompt) and of decode steps (one token) mix in a batch;
work that arrives during an iteration joins the next one.

KV memory (:class:`KvBudget`): a request is admitted only when every host that holds one of its
block groups can reserve the KV cache of its whole context (prompt + output tokens), so a
running request is never preempted; the reservation is freed when the request ends.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ..compute import DeviceProfile, duration_s


@dataclass
class WorkItem:
    """One request's work on a host for one step: the services it needs here (consecutive in
    the chain), its query length and past length, its input (``real`` mode), and what to do
    with its output when the iteration ends (``on_done(item, output)``)."""

    req: int
    services: list[str]
    q_len: int
    past_len: int
    data: Any = None
    on_done: Callable[["WorkItem", Any], None] | None = None
    t_queued_s: float = 0.0
    t_start_s: float = float("nan")


@dataclass
class KvBudget:
    """KV-cache bytes a host may hold [bytes] and the bytes reserved now."""

    capacity_bytes: float
    used_bytes: float = 0.0
    peak_bytes: float = 0.0

    def fits(self, nbytes: float) -> bool:
        return self.used_bytes + nbytes <= self.capacity_bytes

    def reserve(self, nbytes: float) -> None:
        if not self.fits(nbytes):
            raise RuntimeError(f"KV budget exceeded: {self.used_bytes + nbytes:.0f} > "
                               f"{self.capacity_bytes:.0f} bytes")
        self.used_bytes += nbytes
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)

    def free(self, nbytes: float) -> None:
        self.used_bytes -= nbytes


class HostServer:
    """A host serving its services with continuous batching on the simulated clock.

    :param name: host name
    :param profile: its compute profile
    :param sim: ``sim.now`` [s] and ``sim.schedule(delay_s, fn)``
    :param model: the :class:`~edgelam_ns3.models.microservices.MicroserviceLAM`
    :param max_batch_tokens: most tokens in one iteration (the first item always runs)
    :param max_batch_requests: most requests in one iteration
    :param on_call: trace sink, one dict per request in each service call (see ``_trace``)
    """

    def __init__(self, name: str, profile: DeviceProfile, sim, model, max_batch_tokens: int,
                 max_batch_requests: int, on_call: Callable[[dict], None] | None = None):
        self.name, self.profile, self.sim, self.model = name, profile, sim, model
        self.max_batch_tokens, self.max_batch_requests = max_batch_tokens, max_batch_requests
        self.on_call = on_call
        self.queue: deque[WorkItem] = deque()
        self.busy = False
        self.busy_until_s = 0.0
        self.busy_s = 0.0
        self.iterations = 0

    def submit(self, item: WorkItem) -> None:
        """Queue work; start an iteration now if the host is idle."""
        item.t_queued_s = self.sim.now
        self.queue.append(item)
        if not self.busy:
            self._iterate()

    def queued_tokens(self) -> int:
        """Tokens waiting in the queue."""
        return sum(it.q_len for it in self.queue)

    def _take_batch(self) -> list[WorkItem]:
        batch, tokens = [self.queue.popleft()], 0
        tokens = batch[0].q_len
        while self.queue and len(batch) < self.max_batch_requests and \
                tokens + self.queue[0].q_len <= self.max_batch_tokens:
            tokens += self.queue[0].q_len
            batch.append(self.queue.popleft())
        return batch

    def _iterate(self) -> None:
        if not self.queue:
            self.busy = False
            return
        from ..models.microservices import ServiceCall

        batch = self._take_batch()
        now, t = self.sim.now, 0.0
        data = {id(it): it.data for it in batch}
        for service in self.model.services:
            items = [it for it in batch if service in it.services]
            if not items:
                continue
            res = self.model.run(service, [ServiceCall(it.req, it.q_len, it.past_len,
                                                       data[id(it)]) for it in items])
            dt = duration_s(self.profile, res.flops, res.bytes_moved)
            for it, out in zip(items, res.outputs):
                data[id(it)] = out
            self._trace(service, items, now + t, dt, res)
            t += dt
        for it in batch:
            it.t_start_s = now
        self.busy, self.busy_until_s = True, now + t
        self.busy_s += t
        self.iterations += 1
        self.sim.schedule(t, self._finish, batch, data)

    def _finish(self, batch: list[WorkItem], data: dict) -> None:
        for it in batch:
            if it.on_done is not None:
                it.on_done(it, data[id(it)])
        self._iterate()

    def _trace(self, service: str, items: list[WorkItem], t0: float, dt: float, res) -> None:
        """One row per request in the call (a row of ``services.parquet``): the request's
        queue wait (queued to its iteration's start), the call's start, end and compute
        time, its batch, the batch call's FLOPs and memory bytes, and the bytes of the
        request's output (what goes on to the next service)."""
        if self.on_call is None:
            return
        tokens = sum(it.q_len for it in items)
        for it in items:
            self.on_call({"req": it.req, "service": service, "host": self.name,
                          "phase": "prefill" if it.past_len == 0 else "decode",
                          "q_len": it.q_len, "past_len": it.past_len,
                          "t_queued_s": it.t_queued_s, "queue_wait_s": self.sim.now - it.t_queued_s,
                          "t_start_s": t0, "t_end_s": t0 + dt, "compute_s": dt,
                          "batch_requests": len(items), "batch_tokens": tokens,
                          "batch_flops": res.flops, "batch_bytes_moved": res.bytes_moved,
                          "out_bytes": self.model.output_bytes(service, it.q_len)})


class EventClock:
    """A minimal discrete-event clock (``now``, ``schedule``, ``run``) for serving without a
    network, e.g. a host queue in isolation."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list = []
        self._seq = itertools.count()

    def schedule(self, delay_s: float, fn: Callable, *args) -> None:
        heapq.heappush(self._heap, (self.now + delay_s, next(self._seq), fn, args))

    def run(self) -> None:
        while self._heap:
            self.now, _, fn, args = heapq.heappop(self._heap)
            fn(*args)
