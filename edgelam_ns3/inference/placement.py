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

    def pairs(self) -> list[tuple[int, int, np.ndarray]]:
        """(s, s', cost [H, H] of s on h and s' on h') of every pairwise term."""
        out = [(s, s + 1, self.t_link[s]) for s in range(len(self.services) - 1)]
        if self.t_loop is not None and len(self.services) > 1:
            out.append((len(self.services) - 1, 0, self.t_loop))
        return out

    def work(self) -> np.ndarray:
        return self.t_compute if self.t_work is None else self.t_work


def latency(p: PlacementProblem, assign) -> float:
    """Modelled latency of the expected request under a placement (host index per service) [s]."""
    t = p.t_entry[assign[0]] + p.t_exit[assign[-1]]
    t += sum(p.t_compute[s, h] for s, h in enumerate(assign))
    t += sum(cost[assign[a], assign[b]] for a, b, cost in p.pairs())
    if p.t_loop is not None and len(assign) == 1:
        t += p.t_loop[assign[0], assign[0]]
    return float(t)


def utilisation(p: PlacementProblem, assign) -> np.ndarray:
    """Expected busy fraction of each host, [H]."""
    u, work = np.zeros(len(p.hosts)), p.work()
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
    xi = lambda s, h: s * n_h + h  # noqa: E731
    zi = lambda k, h, g: nx + (k * n_h + h) * n_h + g  # noqa: E731
    c = np.concatenate([p.t_compute.ravel()] + [cost.ravel() for _, _, cost in pairs])
    c[:n_h] += p.t_entry
    c[(n_s - 1) * n_h:nx] += p.t_exit
    if p.t_loop is not None and n_s == 1:
        c[:n_h] += np.diag(p.t_loop)
    rows = n_s + n_h * (2 if load else 1) + nz
    a, lo, hi = lil_array((rows, nx + nz)), np.zeros(rows), np.zeros(rows)
    r = 0
    for s in range(n_s):  # each service on exactly one host
        for h in range(n_h):
            a[r, xi(s, h)] = 1
        lo[r] = hi[r] = 1
        r += 1
    for h in range(n_h):  # memory, and the load cap
        for s in range(n_s):
            a[r, xi(s, h)] = p.mem_need[s]
            if load:
                a[r + 1, xi(s, h)] = p.rate_per_s * work[s, h]
        lo[r], hi[r] = -np.inf, p.mem_cap[h]
        if load:
            lo[r + 1], hi[r + 1] = -np.inf, p.max_utilisation
        r += 2 if load else 1
    for (k, (s, s2, _)), h, g in itertools.product(enumerate(pairs), range(n_h), range(n_h)):
        a[r, zi(k, h, g)], a[r, xi(s, h)], a[r, xi(s2, g)] = 1, -1, -1
        lo[r], hi[r] = -1, np.inf
        r += 1
    res = milp(c, constraints=LinearConstraint(a.tocsr(), lo, hi),
               integrality=np.r_[np.ones(nx), np.zeros(nz)], bounds=Bounds(0, 1))
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
        h = int(np.argmin(after))
        if not np.isfinite(after[h]):
            raise ValueError(f"inference.placement: {p.services[s]} fits no host's memory")
        assign.append(h)
        util[h], mem[h] = after[h], mem[h] + p.mem_need[s]
    return assign
