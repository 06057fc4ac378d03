"""Serving on one host: a request queue, continuous batching and a KV-cache memory budget.

A :class:`HostServer` runs *iterations*, one at a time (vLLM-style continuous batching): when
it is idle and work is queued, it takes queued work items first come first served while the
batch stays within ``max_batch_tokens`` tokens and ``max_batch_requests`` requests (the first
item is always taken), runs the services each item needs on this host, service by service in
chain order as one ragged batch per service (:meth:`MicroserviceLAM.run`), and is busy for the
sum of the calls' roofline durations (:func:`edgelam_ns3.compute.duration_s` on the host's
profile). Items of prefill (the whole prompt) and of decode steps (one token) mix in a batch;
work that arrives during an iteration joins the next one.

Chunked prefill (``chunked_prefill``, vLLM/Sarathi): each iteration first takes the queued
decode steps (FCFS, up to ``max_batch_requests``), then fills the rest of the
``max_batch_tokens`` budget with prompt chunks, FCFS; a prompt longer than what is left runs
its first tokens now and the rest in later iterations (a chunk attends to the cached tokens of
the earlier chunks), so a long prompt no longer stalls the decodes behind it. The item's
``on_done`` runs after its last chunk, with the chunks' outputs concatenated; the LM head runs
on the last chunk only (it reads the prompt's last position).

KV memory, two ways. By reservation (:class:`KvBudget` held by the framework): a request is
admitted only when every host that holds one of its block groups can reserve the KV cache of
its whole context (prompt + output tokens), so a running request is never preempted. By
growth with preemption (``kv`` given to the server, vLLM's scheduler): an item is taken only
when the KV of its new tokens fits (``q_len x`` its services' KV bytes per token); when it does
not, the server preempts the resident request that first came here latest (of lower priority
than the item, and not in the batch): ``recompute`` drops its KV, and when it next runs here its
step becomes a prefill of its whole context (the host keeps the inputs of its first service,
token ids or hidden states, to recompute from); ``swap`` moves its KV to host memory at
``swap_bytes_per_s`` (swap-out time added to the iteration that preempts, swap-in time to the
iteration that resumes it). Without a victim the item waits for memory to be freed
(:meth:`release` when a request ends), and nothing behind it is taken (FCFS).
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
    done: int = 0  # chunked prefill: prompt tokens processed in earlier iterations
    outs: list = field(default_factory=list)  # chunked prefill: earlier chunks' outputs


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


@dataclass
class _Entry:
    """An item's part of an iteration: the call's query and past length, its input, whether
    its step ends here (last chunk), and the swap seconds it adds."""

    item: WorkItem
    q: int
    past: int
    data: Any
    final: bool
    skip: int = 0  # leading output rows recomputed for the KV only (recompute resumption)
    swap_s: float = 0.0


class HostServer:
    """A host serving its services with continuous batching on the simulated clock.

    :param name: host name
    :param profile: its compute profile
    :param sim: ``sim.now`` [s] and ``sim.schedule(delay_s, fn)``
    :param model: the :class:`~edgelam_ns3.models.microservices.MicroserviceLAM`
    :param max_batch_tokens: most tokens in one iteration (the first item always runs, unless
        chunked)
    :param max_batch_requests: most requests in one iteration
    :param on_call: trace sink, one dict per request in each service call (see ``_trace``)
    :param chunked_prefill: split prompts into chunks that fill the token budget left by the
        decode steps (module doc)
    :param kv: KV memory managed here by growth with preemption (None: reserved by the caller)
    :param preemption: ``recompute`` or ``swap`` (with ``kv``)
    :param swap_bytes_per_s: swap bandwidth between the accelerator and host memory [bytes/s]
    """

    def __init__(self, name: str, profile: DeviceProfile, sim, model, max_batch_tokens: int,
                 max_batch_requests: int, on_call: Callable[[dict], None] | None = None,
                 chunked_prefill: bool = False, kv: KvBudget | None = None,
                 preemption: str = "recompute", swap_bytes_per_s: float = 32e9):
        if preemption not in ("recompute", "swap"):
            raise ValueError(f"preemption: 'recompute' or 'swap', not {preemption!r}")
        self.name, self.profile, self.sim, self.model = name, profile, sim, model
        self.max_batch_tokens, self.max_batch_requests = max_batch_tokens, max_batch_requests
        self.on_call, self.chunked = on_call, chunked_prefill
        self.kv, self.preemption, self.swap_bw = kv, preemption, swap_bytes_per_s
        self.queue: deque[WorkItem] = deque()
        self.busy = False
        self.busy_until_s = 0.0
        self.busy_s = 0.0
        self.iterations = 0
        self.preemptions = 0
        self._held: dict[int, int] = {}  # req -> tokens of KV held here
        self._out: dict[int, int] = {}  # preempted req -> tokens of KV dropped or swapped out
        self._order: dict[int, int] = {}  # req -> rank of its first arrival here
        self._inputs: dict[int, list] = {}  # recompute (real mode): a request's past inputs
        self._svc: dict[int, list[str]] = {}  # req -> its services here
        self._swap_s = 0.0  # swap-outs of requests preempted while no entry was taken

    def submit(self, item: WorkItem) -> None:
        """Queue work; start an iteration now if the host is idle."""
        item.t_queued_s = self.sim.now
        self._order.setdefault(item.req, len(self._order))
        self._svc[item.req] = item.services
        self.queue.append(item)
        if not self.busy:
            self._iterate()

    def release(self, req: int) -> None:
        """A request has ended: free the KV it holds here (``kv`` managed here)."""
        if self.kv is not None and req in self._held:
            self.kv.free(self._held.pop(req) * self._kv_per_token(req))
        self._out.pop(req, None)
        self._inputs.pop(req, None)
        self._order.pop(req, None)
        self._svc.pop(req, None)
        if not self.busy and self.queue:
            self._iterate()

    def queued_tokens(self) -> int:
        """Tokens waiting in the queue."""
        return sum(it.q_len - it.done for it in self.queue)
    def _kv_per_token(self, req: int) -> int:
        return sum(self.model.kv_bytes_per_token(s) for s in self._svc.get(req, ()))

    def _take_batch(self) -> list[_Entry]:
        """The next iteration's entries (module doc); empty when the head waits for memory."""
        decode = lambda it: it.q_len == 1 and it.past_len > 0  # noqa: E731
        order = list(self.queue)
        if self.kv is not None:  # by priority: first arrival here
            order.sort(key=lambda it: self._order[it.req])
        if self.chunked:  # decode steps first, then prompts (and recomputes) in chunks
            order.sort(key=lambda it: not decode(it))
        batch, tokens = [], 0
        for it in order:
            if len(batch) >= self.max_batch_requests:
                break
            e = self._entry(it, self.max_batch_tokens - tokens, first=not batch)
            if e is not None and self._make_room(e, batch):
                batch.append(e)
                tokens += e.q
            elif e is not None and self._held.get(it.req) and not it.done:
                self._swap_s += self._preempt(it.req)  # no room and no victim: itself
            else:
                break
        return batch

    def _entry(self, it: WorkItem, left: int, first: bool) -> _Entry | None:
        """The item's part of the iteration with ``left`` tokens of budget, or None."""
        if self.kv is not None and it.req in self._out and self.preemption == "recompute":
            q = it.past_len + it.q_len  # its whole context, past included (not chunked)
            if q > left and not first:
                return None
            data = None if it.data is None else _cat(self._inputs.get(it.req, []) + [it.data])
            return _Entry(it, q, 0, data, True, skip=it.past_len)
        rest = it.q_len - it.done
        q = max(min(rest, left), 0) if self.chunked and it.q_len > 1 else rest
        if q == 0 or (q > left and not first):
            return None
        data = None if it.data is None else it.data[it.done:it.done + q]
        return _Entry(it, q, it.past_len + it.done, data, it.done + q == it.q_len)

    def _make_room(self, e: _Entry, batch: list[_Entry]) -> bool:
        """Reserve the KV of the entry's new tokens here, preempting lower-priority resident
        requests while it does not fit; False (nothing reserved) when it cannot."""
        req, per_token = e.item.req, self._kv_per_token(e.item.req)
        if self.kv is None or not per_token:  # no KV here (e.g. embed, lm_head, experts)
            return True
        swapped_in = self._out.get(req, 0) if self.preemption == "swap" else 0
        need = (e.past + e.q - self._held.get(req, 0)) * per_token
        keep = {x.item.req for x in batch} | {req}
        midway = {it.req for it in self.queue if it.done}  # mid-prefill: not preempted
        while not self.kv.fits(need):
            victims = [r for r, n in self._held.items() if n and r not in keep
                       and self._order[r] > self._order[req] and r not in midway]
            if not victims:
                return False
            e.swap_s += self._preempt(max(victims, key=self._order.__getitem__))
        self.kv.reserve(need)
        self._held[req] = e.past + e.q
        self._out.pop(req, None)
        e.swap_s += swapped_in * per_token / self.swap_bw
        if self.preemption == "recompute" and e.data is not None:
            self._inputs[req] = [e.data] if e.skip else self._inputs.get(req, []) + [e.data]
        return True

    def _preempt(self, req: int) -> float:
        """Drop (recompute) or swap out a request's KV here; the swap-out seconds."""
        n = self._held.pop(req)
        nbytes = n * self._kv_per_token(req)
        self.kv.free(nbytes)
        self._out[req] = n
        self.preemptions += 1
        if self.preemption == "swap":
            return nbytes / self.swap_bw
        self.model.release(req, [s for s in self._svc[req] if self.model.kv_bytes_per_token(s)])
        return 0.0

    def _iterate(self) -> None:
        batch = self._take_batch() if self.queue else []
        if not batch:  # swap-outs without an iteration are paid by the next one
            self.busy = False
            return
        from ..models.microservices import ServiceCall

        now = self.sim.now
        t = sum(e.swap_s for e in batch) + self._swap_s
        self._swap_s = 0.0
        data = {id(e): e.data for e in batch}
        for e in batch:
            if e.final:
                self.queue.remove(e.item)
            else:
                e.item.done += e.q
            if e.item.t_start_s != e.item.t_start_s:  # NaN: its first iteration
                e.item.t_start_s = now
        for service in self.model.services:
            ents = [e for e in batch if service in e.item.services
                    and (e.final or service != "lm_head")]
            if not ents:
                continue
            res = self.model.run(service, [ServiceCall(e.item.req, e.q, e.past, data[id(e)])
                                           for e in ents])
            dt = duration_s(self.profile, res.flops, res.bytes_moved)
            for e, out in zip(ents, res.outputs):
                data[id(e)] = out
            self._trace(service, ents, now + t, dt, res)
            t += dt
        self.busy, self.busy_until_s = True, now + t
        self.busy_s += t
        self.iterations += 1
        self.sim.schedule(t, self._finish, batch, data)

    def _finish(self, batch: list[_Entry], data: dict) -> None:
        for e in batch:
            out, it = data[id(e)], e.item
            rows = it.services[-1] != "lm_head" and out is not None
            if rows and e.skip:
                out = out[e.skip:]  # the recomputed past only refilled the KV
            if not e.final:
                it.outs.append(out)
                continue
            if rows and it.outs:
                out = _cat(it.outs + [out])
            if it.on_done is not None:
                it.on_done(it, out)
        self._iterate()

    def _trace(self, service: str, ents: list[_Entry], t0: float, dt: float, res) -> None:
        """One row per request in the call (a row of ``services.parquet``): the request's
        queue wait (queued to its iteration's start), the call's start, end and compute
        time, its batch, the batch call's FLOPs and memory bytes, and the bytes of the
        request's output (what goes on to the next service). ``phase``: prefill (a prompt or
        one of its chunks), decode, or recompute (a preempted request's context again)."""
        if self.on_call is None:
            return
        tokens = sum(e.q for e in ents)
        for e in ents:
            it = e.item
            phase = "recompute" if e.skip else "prefill" if it.past_len == 0 else "decode"
            self.on_call({"req": it.req, "service": service, "host": self.name,
                          "phase": phase, "q_len": e.q, "past_len": e.past,
                          "t_queued_s": it.t_queued_s, "queue_wait_s": self.sim.now - it.t_queued_s,
                          "t_start_s": t0, "t_end_s": t0 + dt, "compute_s": dt,
                          "batch_requests": len(ents), "batch_tokens": tokens,
                          "batch_flops": res.flops, "batch_bytes_moved": res.bytes_moved,
                          "out_bytes": self.model.output_bytes(service, e.q - e.skip)})


def _cat(parts: list):
    import torch

    return torch.cat(parts, 0)


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
