"""Rates and delays between the gNB, edge servers and the cloud, from the backhaul config
(the route ns-3's global routing takes: fewest hops)."""

from __future__ import annotations

from collections import deque


def backhaul_paths(cfg) -> dict[tuple[str, str], tuple[float, float]]:
    """For each ordered pair of backhaul nodes: (bottleneck rate [bit/s], total one-way
    propagation delay [s]) of the fewest-hop path; a node to itself is (inf, 0)."""
    adj: dict[str, list[tuple[str, float, float]]] = {}
    gnbs = cfg.gnb_names()
    for link in cfg.backhaul.links:
        for a in (gnbs if link.a == "gnb" else [link.a]):
            for b in (gnbs if link.b == "gnb" else [link.b]):
                adj.setdefault(a, []).append((b, link.rate_bps, link.delay_s))
                adj.setdefault(b, []).append((a, link.rate_bps, link.delay_s))
    out = {}
    for src in adj:
        best = {src: (float("inf"), 0.0)}
        todo = deque([src])
        while todo:
            u = todo.popleft()
            for v, rate, delay in adj[u]:
                if v not in best:
                    best[v] = (min(best[u][0], rate), best[u][1] + delay)
                    todo.append(v)
        out.update({(src, dst): m for dst, m in best.items()})
    return out


def transfer_s(paths, a: str, b: str, nbytes: float) -> float:
    """Idle-network time to move ``nbytes`` from ``a`` to ``b`` [s]: serialisation at the
    bottleneck plus propagation (0 when ``a == b``); a lower bound under load."""
    if a == b:
        return 0.0
    try:
        rate, delay = paths[(a, b)]
    except KeyError:
        raise ValueError(f"inference: no backhaul path from {a} to {b}") from None
    return nbytes * 8 / rate + delay


def serialisation_s(paths, a: str, b: str, nbytes: float) -> float:
    """Time ``nbytes`` from ``a`` to ``b`` occupy the path's bottleneck link [s] (0 when
    ``a == b``): :func:`transfer_s` without the propagation."""
    if a == b:
        return 0.0
    return transfer_s(paths, a, b, nbytes) - paths[(a, b)][1]
