"""Static placement of the heavy services (block groups, LM head) on hosts.

The problem (:class:`PlacementProblem`): a chain of services ``s = 0..S-1`` to place on hosts
``h``, each service on one host, minimising the end-to-end latency of the expected request as
the serving simulation produces it for a request alone (:mod:`edgelam_ns3.inference.framework`,
static orchestration: ``embed`` on the first service's host, its compute folded into service 0):

- the prompt's way in, once: ``t_entry[h_0]``;
- every step (the prefill, then ``o - 1`` decode steps) runs through the whole chain before
  the next starts, so per step the services' compute and the hidden states' transfers between
  consecutive hosts add up serially: ``t_compute[s, h_s]`` and ``t_link[s, h_s, h_{s+1}]``
  already sum them over the steps;
- after each of the ``o - 1`` first steps, the token id goes from the last service's host back to
  the first's before the next step starts (``t_loop[h_{S-1}, h_0]``, serial too);
- the tokens stream to the UE in parallel with the next steps, so only one crossing, the last
  token's, is on the path: ``t_exit[h_{S-1}]`` counts one token, not ``o`` of them;

subject to

- memory: the weights plus the reserved KV caches of the services on a host fit its memory;
- load: at the expected arrival rate the compute a host is asked for per second,
  ``rate_per_s * t_work`` (a decode step's share of its batch), stays at most
  ``max_utilisation`` (relaxed, and reported, when no placement meets it).

Two optional terms extend the lone request's latency:

- queueing (``queueing``): each host is an M/D/1 queue of step jobs at its expected
  utilisation ``rho_h`` (``u_base[h]`` plus the services placed there): a request makes ``o``
  visits, each arriving at rate ``lambda = o * rate`` and waiting ``rho_h S_h / (2 (1 - rho_h))``
  with ``S_h = rho_h / lambda`` (Pollaczek-Khinchine, zero service variance), so it waits
  ``rho_h^2 / (2 rate (1 - rho_h))`` in all at host h, whatever ``o`` (0 on an unused host).
  Batching (several steps per iteration) makes real waits shorter: the term is the wait of a
  host that serves one step at a time, a pessimistic but monotone price of load. In the ILP the
  convex ``rho^2 / (1 - rho)`` is the piecewise-linear interpolation through
  :data:`QUEUE_BREAKS` (an epigraph variable above each segment's line; beyond the last
  breakpoint its line goes on), and :func:`queue_wait_s` evaluates exactly that function, so
  the ILP and :func:`brute_force` optimise the same objective;
- prefill/decode disaggregation (``t_ship``): the services run the prefill only and every
  decode step runs on a fixed decode host (a constant, ``t_const``, with its work in
  ``u_base``); after the prefill each block group's KV cache of the prompt and the first
  token's id go to the decode host at once, and the decode starts when the last has arrived:
  ``max(max_s t_ship[s, h_s], t_handoff[h_{S-1}])`` (an epigraph variable in the ILP).

:func:`solve_ilp` solves it as an integer linear program with :func:`scipy.optimize.milp`
(HiGHS, exact branch and bound) rather than OR-Tools: scipy is already a dependency (OR-Tools
would add a large binary wheel for nothing), and the instances (a few services, a few hosts,
tens of binaries) solve in milliseconds. Pairs of placements (consecutive services, and the
last and first service for the token loop) are linked by ``z[h, h'] >= x[s, h] + x[s', h'] - 1``
(z continuous in [0, 1]; the transfer costs are non-negative, so the optimum sets z to the
product). :func:`brute_force` enumerates every placement of a small instance; the baselines
are :func:`monolithic` (everything on one edge server), :func:`cloud_only`,
:func:`random_placement` and :func:`greedy_least_loaded`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

POLICIES = ("ilp", "monolithic", "cloud", "random", "greedy")
QUEUE_BREAKS = np.r_[np.linspace(0.0, 0.9, 19), 0.925, 0.95, 0.97, 0.98, 0.99]
"""Utilisations at which the queueing term's piecewise-linear ``rho^2 / (1 - rho)`` is exact."""


@dataclass(frozen=True)
class PlacementProblem:
    """
    :ivar services: the chain, in order
    :ivar hosts: candidate hosts
    :ivar t_compute: seconds service s on host h adds to a request's latency, summed over its
        steps (each decode step at the expected batch: the whole iteration), [S, H]
    :ivar t_link: seconds to move a request's outputs of service s from host h to host h',
        summed over its steps (0 on the same host), [S-1, H, H]
    :ivar t_entry: seconds for a request to reach host h (first service), [H]
    :ivar t_exit: seconds for one token to leave host h (last service) for the UE, [H]
    :ivar mem_need: bytes service s needs on its host (weights + reserved KV), [S]
    :ivar mem_cap: bytes host h offers, [H]
    :ivar rate_per_s: expected request rate [1/s]
    :ivar max_utilisation: most busy fraction per host at that rate [-]
    :ivar t_loop: seconds of a request's token ids from the last service's host h to the first
        service's host h', summed over its decode steps, [H, H] (None: no loop)
    :ivar t_work: busy seconds of host h for service s per request (a decode step's share of
        its batch), [S, H] (None: ``t_compute``)
    :ivar queueing: add each host's M/D/1 wait at its expected utilisation (module doc)
    :ivar u_base: utilisation of host h whatever the placement (disaggregation: the decode
        host's decode work), [H] (None: zeros)
    :ivar t_ship: disaggregation: seconds to ship service s's prompt KV cache from host h to
        the decode host (0 on it, and for services without KV), [S, H] (None: no shipping)
    :ivar t_handoff: disaggregation: seconds for the first token's id from the last service's
        host h to the decode host, [H]
    :ivar t_const: seconds every placement adds (disaggregation: the decode steps on the
        decode host and the last token's way out)
    :ivar n_chain: services ``0..n_chain-1`` form the chain (entry, links, exit, loop); the
        others (MoE expert units) only add their compute and their ``t_pairs`` (None: all)
    :ivar t_pairs: further pairwise terms ``(s, s', cost [H, H])``, e.g. a block group's host
        and an expert's: the tokens dispatched to the expert and back, over all steps
    :ivar allowed: whether service s may go on host h, [S, H] (None: anywhere)
    """

    services: list[str]
    hosts: list[str]
    t_compute: np.ndarray
    t_link: np.ndarray
    t_entry: np.ndarray
    t_exit: np.ndarray
    mem_need: np.ndarray
    mem_cap: np.ndarray
    rate_per_s: float
    max_utilisation: float = 0.9
    t_loop: np.ndarray | None = None
    t_work: np.ndarray | None = None
    queueing: bool = False
    u_base: np.ndarray | None = None
    t_ship: np.ndarray | None = None
    t_handoff: np.ndarray | None = None
    t_const: float = 0.0
    n_chain: int | None = None
    t_pairs: tuple = ()
    allowed: np.ndarray | None = None

    def pairs(self) -> list[tuple[int, int, np.ndarray]]:
        """(s, s', cost [H, H] of s on h and s' on h') of every pairwise term."""
        n = self.last() + 1
        out = [(s, s + 1, self.t_link[s]) for s in range(n - 1)]
        if self.t_loop is not None and n > 1:
            out.append((n - 1, 0, self.t_loop))
        return out + list(self.t_pairs)

    def last(self) -> int:
        """Index of the chain's last service."""
        return (self.n_chain or len(self.services)) - 1

    def work(self) -> np.ndarray:
        return self.t_compute if self.t_work is None else self.t_work


def latency(p: PlacementProblem, assign) -> float:
    """The objective: modelled latency of the expected request under a placement (host index
    per service), its lone path plus, with ``queueing``, its waits at the hosts [s]."""
    t = lone_latency(p, assign)
    if p.queueing:
        t += float(queue_wait_s(utilisation(p, assign)).sum()) / p.rate_per_s
    return t


def lone_latency(p: PlacementProblem, assign) -> float:
    """Latency of the expected request alone on idle hosts and links [s]."""
    last = assign[p.last()]
    t = p.t_entry[assign[0]] + p.t_exit[last] + p.t_const
    t += sum(p.t_compute[s, h] for s, h in enumerate(assign))
    t += sum(cost[assign[a], assign[b]] for a, b, cost in p.pairs())
    if p.t_loop is not None and p.last() == 0:
        t += p.t_loop[assign[0], assign[0]]
    if p.t_ship is not None:
        t += max(max(p.t_ship[s, assign[s]] for s in range(p.last() + 1)), p.t_handoff[last])
    return float(t)


def _queue_segments() -> tuple[np.ndarray, np.ndarray]:
    """Intercepts and slopes of the interpolation of ``rho^2 / (2 (1 - rho))`` between
    consecutive :data:`QUEUE_BREAKS` (convex: the interpolant is the largest of the lines)."""
    b = QUEUE_BREAKS
    f = b ** 2 / (2 * (1 - b))
    slope = np.diff(f) / np.diff(b)
    return f[:-1] - slope * b[:-1], slope


def queue_wait_s(rho: np.ndarray) -> np.ndarray:
    """``rate x`` a request's M/D/1 wait at hosts of utilisation ``rho`` (piecewise-linear
    ``rho^2 / (2 (1 - rho))``, the last segment extended past 0.99) [-]."""
    a, b = _queue_segments()
    return np.max(a[None, :] + b[None, :] * np.asarray(rho, float)[:, None], axis=1)


def utilisation(p: PlacementProblem, assign) -> np.ndarray:
    """Expected busy fraction of each host, [H]."""
    work = p.work()
    u = np.zeros(len(p.hosts)) if p.u_base is None else np.array(p.u_base, float)
    for s, h in enumerate(assign):
        u[h] += p.rate_per_s * work[s, h]
    return u


def memory_used(p: PlacementProblem, assign) -> np.ndarray:
    """Bytes each host holds, [H]."""
    m = np.zeros(len(p.hosts))
    for s, h in enumerate(assign):
        m[h] += p.mem_need[s]
    return m


def feasible(p: PlacementProblem, assign, load: bool = True) -> bool:
    """Whether a placement fits every host's memory (and, with ``load``, its utilisation cap)."""
    ok = bool(np.all(memory_used(p, assign) <= p.mem_cap))
    if p.allowed is not None:
        ok &= all(p.allowed[s, h] for s, h in enumerate(assign))
    if load:
        ok &= bool(np.all(utilisation(p, assign) <= p.max_utilisation + 1e-12))
    return ok


def solve_ilp(p: PlacementProblem) -> tuple[list[int], bool]:
    """The optimal placement and whether the load cap had to be relaxed (no placement meets
    it; memory is never relaxed). :raises ValueError: when no placement fits the memory."""
    assign = _milp(p, load=True)
    if assign is not None:
        return assign, False
    assign = _milp(p, load=False)
    if assign is None:
        raise ValueError("inference.placement: the services do not fit the hosts' memory "
                         f"(need {p.mem_need.sum():.3g} bytes in all, hosts offer "
                         f"{', '.join(f'{h} {c:.3g}' for h, c in zip(p.hosts, p.mem_cap))})")
    return assign, True


def _milp(p: PlacementProblem, load: bool) -> list[int] | None:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_array

    n_s, n_h, pairs, work = len(p.services), len(p.hosts), p.pairs(), p.work()
    nx, nz = n_s * n_h, len(pairs) * n_h * n_h
    nw = n_h if p.queueing else 0  # the hosts' queueing terms
    nm = 1 if p.t_ship is not None else 0  # the KV hand-off's max
    n = nx + nz + nw + nm
    xi = lambda s, h: s * n_h + h  # noqa: E731
    zi = lambda k, h, g: nx + (k * n_h + h) * n_h + g  # noqa: E731
    c = np.concatenate([p.t_compute.ravel()] + [cost.ravel() for _, _, cost in pairs]
                       + [np.full(nw, 1 / p.rate_per_s), np.ones(nm)])
    last = p.last()
    c[:n_h] += p.t_entry
    c[last * n_h:(last + 1) * n_h] += p.t_exit
    if p.t_loop is not None and last == 0:
        c[:n_h] += np.diag(p.t_loop)
    base = np.zeros(n_h) if p.u_base is None else np.asarray(p.u_base, float)
    rows: list[tuple[dict, float, float]] = []  # ({column: coefficient}, lower, upper)
    for s in range(n_s):  # each service on exactly one host
        rows.append(({xi(s, h): 1 for h in range(n_h)}, 1, 1))
    for h in range(n_h):  # memory, and the load cap
        rows.append(({xi(s, h): p.mem_need[s] for s in range(n_s)}, -np.inf, p.mem_cap[h]))
        if load:
            rows.append(({xi(s, h): p.rate_per_s * work[s, h] for s in range(n_s)}, -np.inf,
                         p.max_utilisation - base[h]))
    for (k, (s, s2, _)), h, g in itertools.product(enumerate(pairs), range(n_h), range(n_h)):
        rows.append(({zi(k, h, g): 1, xi(s, h): -1, xi(s2, g): -1}, -1, np.inf))
    for h, (a, b) in itertools.product(range(nw), zip(*_queue_segments())):
        # w_h >= a + b * rho_h, rho_h = base_h + rate * sum_s work[s, h] x[s, h]
        row = {xi(s, h): -b * p.rate_per_s * work[s, h] for s in range(n_s)}
        rows.append(({**row, nx + nz + h: 1}, a + b * base[h], np.inf))
    if nm:  # m >= each service's KV shipping, m >= the first token's hand-off
        for s in range(last + 1):
            rows.append(({xi(s, h): -p.t_ship[s, h] for h in range(n_h)} | {n - 1: 1}, 0, np.inf))
        rows.append(({xi(last, h): -p.t_handoff[h] for h in range(n_h)} | {n - 1: 1}, 0,
                     np.inf))
    allowed = np.ones(nx) if p.allowed is None else np.asarray(p.allowed, float).ravel()
    a = lil_array((len(rows), n))
    for r, (coef, _, _) in enumerate(rows):
        for col, v in coef.items():
            a[r, col] = v
    lo, hi = np.array([r[1] for r in rows], float), np.array([r[2] for r in rows], float)
    res = milp(c, constraints=LinearConstraint(a.tocsr(), lo, hi),
               integrality=np.r_[np.ones(nx), np.zeros(n - nx)],
               bounds=Bounds(np.zeros(n), np.r_[allowed, np.ones(nz), np.full(nw + nm, np.inf)]))
    if res.x is None:
        return None
    return [int(np.argmax(res.x[s * n_h:(s + 1) * n_h])) for s in range(n_s)]


def brute_force(p: PlacementProblem, load: bool = True) -> list[int] | None:
    """The feasible placement of least latency by enumeration (small instances only)."""
    best, best_t = None, np.inf
    for assign in itertools.product(range(len(p.hosts)), repeat=len(p.services)):
        if feasible(p, assign, load) and (t := latency(p, assign)) < best_t:
            best, best_t = list(assign), t
    return best


def monolithic(p: PlacementProblem, host: str) -> list[int]:
    """Every service on ``host``."""
    assign = [p.hosts.index(host)] * len(p.services)
    if not feasible(p, assign, load=False):
        raise ValueError(f"inference.placement: the model does not fit {host}'s memory "
                         f"({p.mem_need.sum():.3g} > {p.mem_cap[assign[0]]:.3g} bytes)")
    return assign


def cloud_only(p: PlacementProblem) -> list[int]:
    """Every service on the cloud."""
    return monolithic(p, "cloud")


def random_placement(p: PlacementProblem, rng: np.random.Generator, tries: int = 1000) \
        -> list[int]:
    """A uniformly random placement that fits the memory (redrawn until it does)."""
    for _ in range(tries):
        assign = [int(h) for h in rng.integers(0, len(p.hosts), len(p.services))]
        if p.allowed is not None:  # pinned services on their hosts
            assign = [int(np.flatnonzero(p.allowed[s])[0]) if p.allowed[s].sum() == 1 else h
                      for s, h in enumerate(assign)]
        if feasible(p, assign, load=False):
            return assign
    raise ValueError(f"inference.placement: no random placement fits the memory in {tries} draws")


def greedy_least_loaded(p: PlacementProblem) -> list[int]:
    """Services in chain order, each on the host with the least expected utilisation after
    taking it, among those whose memory still fits it."""
    util, mem, assign = np.zeros(len(p.hosts)), np.zeros(len(p.hosts)), []
    for s in range(len(p.services)):
        after = util + p.rate_per_s * p.work()[s]
        after[mem + p.mem_need[s] > p.mem_cap] = np.inf
        if p.allowed is not None:
            after[~p.allowed[s].astype(bool)] = np.inf
        h = int(np.argmin(after))
        if not np.isfinite(after[h]):
            raise ValueError(f"inference.placement: {p.services[s]} fits no host's memory")
        assign.append(h)
        util[h], mem[h] = after[h], mem[h] + p.mem_need[s]
    return assign
