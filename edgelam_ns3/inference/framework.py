"""``train.framework: microservice_inference``: UEs' requests served by a LAM split into
microservices over edge servers and the cloud, every byte over the simulated network.

A request's life (all messages are :meth:`Simulation.send` messages, tagged by kind):

1. at its arrival the UE's prompt (``prompt_tokens x token_bytes``) goes uplink (``prompt``)
   to the host that runs its ``embed`` service, chosen per request (online orchestration);
2. it waits there for admission: every host of its block groups must reserve the KV cache of
   its whole context (prompt + output), first come first served (``serving.kv_policy:
   reserve``); with ``recompute`` or ``swap`` it is admitted at once and the hosts grow its KV
   per token, preempting later requests when memory runs out (vLLM);
3. each step (the prefill, then one decode step per further token) runs through the chain of
   services: consecutive services on one host run in that host's iteration (continuous
   batching, :class:`~edgelam_ns3.inference.serving.HostServer`); between hosts the hidden
   states cross the backhaul (``act``);
4. each token goes downlink to the UE (``token``); the next decode step starts at the embed
   host, after the token id reaches it (``loop``) when the LM head is elsewhere;
5. after its last token the KV reservations are freed and waiting requests are admitted.

Per request: TTFT (arrival to first token at the UE), TPOT (mean gap between its tokens at
the UE), end-to-end latency, on time (TTFT <= ``slo.ttft_s`` and TPOT <= ``slo.tpot_s``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from ..compute import duration_s
from . import placement as pl
from .network import backhaul_paths, serialisation_s, transfer_s
from .orchestration import DriftPlusPenalty
from .requests import Request, poisson_requests, trace_requests
from .serving import HostServer, KvBudget, WorkItem

GIB = 2 ** 30


@dataclass
class _Live:
    """A request in flight."""

    r: Request
    embed_host: str = ""
    stages: list = field(default_factory=list)  # [(host, [services])]
    decode_stages: list | None = None  # disaggregated: the decode steps' stages
    kv: dict = field(default_factory=dict)  # host -> reserved bytes
    ship: list = field(default_factory=list)  # disaggregated: [(service, host, KV bytes)]
    generated: int = 0
    delivered: list = field(default_factory=list)  # token arrival times at the UE
    t_admitted_s: float = float("nan")
    last: object = None  # the last token (real mode)


def build_requests(cfg) -> list[Request]:
    """The scenario's requests (``inference.source``) over the UEs."""
    s = cfg.inference.source
    ues = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
    if s.kind == "trace":
        return trace_requests(s.trace, s.start_s, s.duration_s, s.rate_scale, ues,
                              s.ue_mapping, cfg.seed)
    return poisson_requests(s.rate_per_s, s.duration_s, s.prompt_tokens, s.output_tokens, ues,
                            s.ue_mapping, cfg.seed)


def _dtype(name: str):
    import torch

    return getattr(torch, name)


class MicroserviceInference:
    """The framework object :func:`edgelam_ns3.scenario.start_framework` creates."""

    name = "microservice_inference"

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        from ..models.microservices import MicroserviceLAM, gpt2_like

        self.cfg, self.sim, self.ic = cfg, sim, cfg.inference
        m = self.ic.model
        conf = gpt2_like(m.n_layer, m.n_embd, m.n_head, m.vocab_size, m.n_positions)
        moe = dict(n_experts=m.n_experts, top_k=m.top_k, expert_ffn=m.expert_ffn)
        self.model = MicroserviceLAM(conf, m.n_groups, m.mode, _dtype(m.dtype), cfg.seed, **moe)
        self.cost_model = self.model if m.mode == "cost" else \
            MicroserviceLAM(conf, m.n_groups, "cost", _dtype(m.dtype), **moe)
        self.requests = build_requests(cfg)
        if not self.requests:
            raise ValueError("inference.source: the window holds no request")
        longest = max(r.prompt_tokens + r.output_tokens for r in self.requests)
        if longest > m.n_positions:
            raise ValueError(f"inference.model.n_positions: {m.n_positions} < the longest "
                             f"request's context ({longest} tokens)")
        self.hosts = self.ic.placement.hosts or \
            [f"edge{i}" for i in range(cfg.nodes.n_edge)] + (["cloud"] if cfg.nodes.cloud else [])
        self._check_hosts()
        self.profiles = {h: host_profile(cfg, h) for h in self.hosts}
        self.paths = backhaul_paths(cfg)
        self.gnb = cfg.gnb_names()[0]
        self.heavy = [s for s in self.model.chain[1:] if not s.endswith("_router")]
        self.experts = self.model.expert_units
        self.problem = self._problem()
        self.assign, self.load_cap_relaxed = self._place()
        self.set_placement(self.assign)
        self.kv = {h: KvBudget(self._kv_capacity(h)) for h in self.hosts}
        sv = self.ic.serving
        self.reserve = sv.kv_policy == "reserve"
        self.servers = {h: HostServer(h, self.profiles[h], sim, self.model,
                                      sv.max_batch_tokens, sv.max_batch_requests, self._on_call,
                                      sv.chunked_prefill, None if self.reserve else self.kv[h],
                                      "swap" if sv.kv_policy == "swap" else "recompute",
                                      sv.swap_bytes_per_s)
                        for h in self.hosts}
        pc = self.ic.placement
        self.dpp = DriftPlusPenalty(pc.lyapunov_v, pc.latency_target_s) \
            if pc.orchestration == "lyapunov" else None
        self.waiting: deque[_Live] = deque()
        self.rows: list[dict] = []
        self.calls: list[dict] = []
        self.tw = None
        self.finished = False
        self._gen = None

    # -- set-up ----------------------------------------------------------------------------

    def _check_hosts(self) -> None:
        pc, names = self.ic.placement, self.cfg.node_names()
        for h in self.hosts:
            if h not in names or not (h.startswith("edge") or h == "cloud"):
                raise ValueError(f"inference.placement.hosts: '{h}' is not an edge server or "
                                 "the cloud of this scenario")
        if pc.policy == "monolithic" and pc.monolithic_host not in self.hosts:
            raise ValueError(f"inference.placement.monolithic_host: '{pc.monolithic_host}' is "
                             f"not a host ({', '.join(self.hosts)})")
        dh = self.ic.serving.decode_host
        if dh is not None and dh not in self.hosts:
            raise ValueError(f"inference.serving.decode_host: '{dh}' is not a host "
                             f"({', '.join(self.hosts)})")
        if pc.policy == "cloud" and "cloud" not in self.hosts:
            raise ValueError("inference.placement.policy: cloud, but the cloud is not a host")
        self._check_moe()

    def set_placement(self, assign: list[int]) -> None:
        """Place the units of :attr:`problem` (host index each); each router goes with its
        block group."""
        self.where = {s: self.hosts[h] for s, h in zip(self.heavy + self.experts, assign)}
        for i in range(len(self.model.group_layers) if self.experts else 0):
            self.where[f"moe{i}_router"] = self.where[f"blocks{i}"]

    def _check_moe(self) -> None:
        pc, n = self.ic.placement, self.ic.model.n_experts
        if pc.expert_hosts is not None:
            if not n or len(pc.expert_hosts) != n:
                raise ValueError(f"inference.placement.expert_hosts: one host per expert "
                                 f"({n} experts), got {len(pc.expert_hosts)}")
            if bad := [h for h in pc.expert_hosts if h not in self.hosts]:
                raise ValueError(f"inference.placement.expert_hosts: {bad[0]} is not a host "
                                 f"({', '.join(self.hosts)})")
            if pc.policy in ("monolithic", "cloud"):
                raise ValueError(f"inference.placement.expert_hosts: policy {pc.policy} "
                                 "places every service on one host")
        if n and self.ic.serving.decode_host is not None:
            raise ValueError("inference.serving.decode_host: disaggregation of a MoE model "
                             "(n_experts > 0) is not supported")

    def attach_recorder(self, rec) -> None:
        """Write ``requests`` and ``services`` tables through the run's trace writer."""
        self.tw = rec.tw

    def _est(self, service: str, host: str, q: int, past: int, n: int = 1) -> float:
        """Duration of a call of ``n`` requests of ``(q, past)`` on ``host`` [s]."""
        from ..models.microservices import ServiceCall

        res = self.cost_model.run(service, [ServiceCall(i, q, past) for i in range(n)])
        return duration_s(self.profiles[host], res.flops, res.bytes_moved)

    def expected_load(self) -> tuple[float, int, int]:
        """The load placement plans for: (rate [1/s], prompt tokens, output tokens) of the
        expected request. Poisson: the generator's own rate and lengths (not the draws); trace:
        the window's request rate and mean lengths (the workload an operator provisions for)."""
        s = self.ic.source
        if s.kind == "poisson":
            return s.rate_per_s, s.prompt_tokens, s.output_tokens
        p = float(np.mean([r.prompt_tokens for r in self.requests]))
        o = float(np.mean([r.output_tokens for r in self.requests]))
        return len(self.requests) / s.duration_s, max(int(round(p)), 1), max(int(round(o)), 1)

    def _steps_s(self, service: str, host: str, p: int, o: int) -> tuple[float, float]:
        """A request's (latency, busy seconds) of ``service`` on ``host``: its prefill, then
        ``o - 1`` decode steps at past lengths ``p .. p + o - 2``, each an iteration of
        ``expected_batch`` such steps (latency: the whole iteration; busy: its share).
        Counts are affine in the past length, durations the roofline of each step."""
        from ..models.microservices import ServiceCall

        b, prof = self.ic.placement.expected_batch, self.profiles[host]
        prefill = self._est(service, host, p, 0)
        if o == 1:
            return prefill, prefill
        r0, r1 = (self.cost_model.run(service, [ServiceCall(i, 1, past) for i in range(b)])
                  for past in (p, p + 1))
        k = np.arange(o - 1, dtype=float)
        dt = np.maximum((r0.flops + k * (r1.flops - r0.flops)) / prof.sustained_flops,
                        (r0.bytes_moved + k * (r1.bytes_moved - r0.bytes_moved))
                        / prof.mem_bw_bytes_per_s)
        return prefill + float(dt.sum()), prefill + float(dt.sum()) / b

    def _problem(self) -> pl.PlacementProblem:
        """The placement problem of the expected request at the expected rate
        (:meth:`expected_load`), timed as the serving below times a request alone (static
        orchestration: ``embed`` with the first block group); with ``serving.decode_host``
        the services' share is the prefill, the decode steps run on the decode host after
        the KV hand-off (:meth:`_disaggregated`); with ``placement.queueing`` the hosts' M/D/1
        waits at the expected load join the objective."""
        rate, p, o = self.expected_load()
        dh = self.ic.serving.decode_host if o > 1 else None
        tb, mdl, hosts, tr = self.ic.serving.token_bytes, self.cost_model, self.hosts, transfer_s
        o_here = 1 if dh else o  # the steps that run on the placement
        steps = {(s, h): self._steps_s(s, h, p, o_here) for s in ["embed"] + self.heavy
                 for h in hosts}
        t_c = np.array([[steps[s, h][0] for h in hosts] for s in self.heavy])
        t_w = np.array([[steps[s, h][1] for h in hosts] for s in self.heavy])
        t_c[0] += [steps["embed", h][0] for h in hosts]
        t_w[0] += [steps["embed", h][1] for h in hosts]
        t_l = np.array([[[tr(self.paths, a, b, mdl.output_bytes(s, p))
                          + (o_here - 1) * tr(self.paths, a, b, mdl.output_bytes(s, 1))
                          for b in hosts] for a in hosts] for s in self.heavy[:-1]])
        t_loop = np.array([[(o_here - 1) * tr(self.paths, a, b, tb) for b in hosts]
                           for a in hosts])
        t_in = np.array([tr(self.paths, self.gnb, h, p * tb) for h in hosts])
        t_out = np.array([tr(self.paths, h if dh is None else dh, self.gnb, tb) for h in hosts])
        reserve = self.ic.placement.kv_reserve_requests * (p + o)
        need = np.array([mdl.weight_bytes(s) + reserve * mdl.kv_bytes_per_token(s)
                         for s in self.heavy], dtype=float)
        cap = np.array([self.profiles[h].memory_bytes - mdl.weight_bytes("embed")
                        for h in hosts], dtype=float)
        extra = self._disaggregated(dh, rate, p, o) if dh else {}
        if self.experts:
            t_c, t_w, need, extra = self._experts(rate, p, o, t_c, t_w, need)
        return pl.PlacementProblem(self.heavy + self.experts, hosts, t_c, t_l, t_in, t_out,
                                   need, cap, rate, self.ic.placement.max_utilisation, t_loop,
                                   t_w, queueing=self.ic.placement.queueing, **extra)

    def _experts(self, rate: float, p: int, o: int, t_c, t_w, need) -> tuple:
        """The MoE terms of the placement problem: each router's steps with its block group,
        each expert unit's expected compute (``top_k / n_experts`` of every step's tokens, in
        each MoE layer; latency: a decode iteration of ``expected_batch`` requests; work: a
        request's share), memory (its weights) and, paired with each block group's host,
        the expected tokens dispatched to it and back over all steps (the ILP prices the
        combine as a return to the router's host, and adds the experts' times as if served
        one after another: a serial bound of the fan-out)."""
        mdl, hosts, tr = self.cost_model, self.hosts, transfer_s
        share, b = mdl.top_k / mdl.n_experts, self.ic.placement.expected_batch
        n_moe = len(mdl.group_layers)
        for i in range(n_moe):
            r = [self._steps_s(f"moe{i}_router", h, p, o) for h in hosts]
            t_c[self.heavy.index(f"blocks{i}")] += [x[0] for x in r]
            t_w[self.heavy.index(f"blocks{i}")] += [x[1] for x in r]
            need[self.heavy.index(f"blocks{i}")] += mdl.weight_bytes(f"moe{i}_router")
        pre = np.array([self._expert_s(h, p * share) for h in hosts])
        dec = np.array([self._expert_s(h, b * share) for h in hosts])
        e_c = np.tile(n_moe * (pre + (o - 1) * dec), (len(self.experts), 1))
        e_w = np.tile(n_moe * (pre + (o - 1) * dec / b), (len(self.experts), 1))
        row = mdl.d * mdl.elt
        way = np.array([[tr(self.paths, a, g, p * share * row)
                         + (o - 1) * tr(self.paths, a, g, share * row) for g in hosts]
                        for a in hosts])
        pairs = tuple((self.heavy.index(f"blocks{i}"), len(self.heavy) + j, way + way.T)
                      for i in range(n_moe) for j in range(len(self.experts)))
        pin = self.ic.placement.expert_hosts
        allowed = None if pin is None else np.r_[
            np.ones((len(self.heavy), len(hosts)), bool),
            [[h == pin[j] for h in hosts] for j in range(len(self.experts))]]
        return (np.r_[t_c, e_c], np.r_[t_w, e_w],
                np.r_[need, [mdl.weight_bytes(e) for e in self.experts]],
                {"n_chain": len(self.heavy), "t_pairs": pairs, "allowed": allowed})

    def _expert_s(self, host: str, n: float) -> float:
        """Roofline duration of one expert call of ``n`` (expected, fractional) tokens on
        ``host``: counts affine in the tokens, from those of 1 and 2 [s]."""
        from ..models.microservices import ServiceCall

        f1, f2 = (self.cost_model.run("moe0_expert0", [ServiceCall(0, k, 0)]) for k in (1, 2))
        prof = self.profiles[host]
        return max((f1.flops + (n - 1) * (f2.flops - f1.flops)) / prof.sustained_flops,
                   (f1.bytes_moved + (n - 1) * (f2.bytes_moved - f1.bytes_moved))
                   / prof.mem_bw_bytes_per_s)

    def _disaggregated(self, dh: str, rate: float, p: int, o: int) -> dict:
        """The disaggregation terms of the placement problem (``serving.decode_host``): each
        block group's prompt KV and the first token's id shipped to the decode host, and the
        decode steps there (all services, ``o - 1`` steps at the expected batch: their latency
        a constant, their work the decode host's base utilisation)."""
        mdl, tr, hosts = self.cost_model, transfer_s, self.hosts
        ship = np.array([[tr(self.paths, h, dh, mdl.kv_bytes(s, ctx=p)) for h in hosts]
                         for s in self.heavy])
        handoff = np.array([tr(self.paths, h, dh, self.ic.serving.token_bytes) for h in hosts])
        t_dec = w_dec = 0.0
        for s in self.model.services:
            lat, work = self._steps_s(s, dh, p, o)
            pre = self._est(s, dh, p, 0)
            t_dec, w_dec = t_dec + lat - pre, w_dec + work - pre
        base = np.array([rate * w_dec if h == dh else 0.0 for h in hosts])
        return {"t_ship": ship, "t_handoff": handoff, "t_const": t_dec, "u_base": base}

    def _place(self) -> tuple[list[int], bool]:
        pc, p = self.ic.placement, self.problem
        if pc.policy == "ilp":
            return pl.solve_ilp(p)
        if pc.policy == "monolithic":
            return pl.monolithic(p, pc.monolithic_host), False
        if pc.policy == "cloud":
            return pl.cloud_only(p), False
        if pc.policy == "random":
            return pl.random_placement(p, np.random.default_rng(self.cfg.seed)), False
        return pl.greedy_least_loaded(p), False

    def _kv_capacity(self, host: str) -> float:
        weights = self.model.weight_bytes("embed") + sum(
            self.model.weight_bytes(s) for s, h in self.where.items()
            if h == host or host == self.ic.serving.decode_host)
        free = self.profiles[host].memory_bytes - weights
        if free < 0:
            raise ValueError(f"inference.placement: the weights placed on {host} "
                             f"({weights / GIB:.1f} GiB) exceed its memory")
        return free * self.ic.serving.kv_memory_fraction

    def start_line(self) -> str:
        """What runs, for the run's start line."""
        pc, s = self.ic.placement, self.ic.source
        where = ", ".join(f"{k} {v}" for k, v in self.where.items())
        return (f"{self.name} (placement {pc.policy}: {where}; orchestration "
                f"{pc.orchestration}), {self.ic.model.mode} mode, {self.cfg.nodes.n_devices} "
                f"UEs, radio {self.cfg.radio.mode}, {len(self.requests)} requests from "
                f"{s.kind} over {s.duration_s:g} s")

    def start(self) -> None:
        for r in self.requests:
            self.sim.schedule(r.t_arrival_s, self._arrive, r)

    # -- a request's life ------------------------------------------------------------------

    def _arrive(self, r: Request) -> None:
        st = _Live(r)
        st.embed_host = self._orchestrate(r)
        plan = [("embed", st.embed_host)] + [(s, self.where[s]) for s in self.model.chain[1:]]
        for s, h in plan:
            if st.stages and st.stages[-1][0] == h:
                st.stages[-1][1].append(s)
            else:
                st.stages.append((h, [s]))
            if s.endswith("_router"):  # the MoE fan-out: no host of its own
                st.stages.append((None, [s]))
        self._plan_kv(st)
        self.sim.send(r.ue, st.embed_host, r.prompt_tokens * self.ic.serving.token_bytes,
                      lambda m: self._queue_admission(st), tag="prompt")

    def _plan_kv(self, st: _Live) -> None:
        """The KV bytes the request reserves per host: each block group's whole context on its
        host; disaggregated (``serving.decode_host``), the prompt's on the prefill host (freed
        once shipped) and the whole context on the decode host, which runs every decode step."""
        r, dh = st.r, self.ic.serving.decode_host
        if dh is not None:
            st.decode_stages = [(dh, list(self.model.services))]
        for s, h in self.where.items():
            full = self.model.kv_bytes(s, ctx=r.prompt_tokens + r.output_tokens)
            if not full:
                continue
            if dh is not None and h != dh and r.output_tokens > 1:
                prompt = self.model.kv_bytes(s, ctx=r.prompt_tokens)
                st.kv[h] = st.kv.get(h, 0) + prompt
                st.ship.append((s, h, prompt))
                h = dh
            st.kv[h] = st.kv.get(h, 0) + full

    def _stages(self, st: _Live) -> list:
        """The stages of the request's next or current step."""
        return st.decode_stages if st.decode_stages and st.generated else st.stages

    def _orchestrate(self, r: Request) -> str:
        """The embed host: static (the first block group's host), online (least expected
        delay) or lyapunov (drift-plus-penalty), over :meth:`embed_options`
        (:mod:`edgelam_ns3.inference.orchestration`)."""
        if self.ic.placement.orchestration == "static":
            return self.where[self.heavy[0]]
        options = self.embed_options(r)
        if self.dpp is not None:
            return self.dpp.choose(options).host
        return min(options, key=lambda o: o.delay_s).host

    def embed_options(self, r: Request) -> list:
        """Each host as the request's embed host, now: work, backlog, added delay, link time."""
        from .orchestration import EmbedOption

        first, last = self.where[self.heavy[0]], self.where[self.heavy[-1]]
        p, tb, steps = r.prompt_tokens, self.ic.serving.token_bytes, r.output_tokens - 1
        x_p, x_1 = self.model.output_bytes("embed", p), self.model.output_bytes("embed", 1)
        out = []
        for h in self.hosts:
            srv = self.servers[h]
            backlog = max(srv.busy_until_s - self.sim.now, 0.0) + sum(
                self._est(s, h, it.q_len, it.past_len) for it in srv.queue for s in it.services)
            work = self._est("embed", h, p, 0) + steps * self._est("embed", h, 1, p)
            moves = [(self.gnb, h, p * tb, 1), (h, first, x_p, 1), (last, h, tb, steps),
                     (h, first, x_1, steps)]
            delay = backlog + work + sum(n * transfer_s(self.paths, a, b, nb)
                                         for a, b, nb, n in moves)
            link = sum(n * serialisation_s(self.paths, a, b, nb) for a, b, nb, n in moves)
            out.append(EmbedOption(h, work, backlog, delay, link))
        return out

    def _queue_admission(self, st: _Live) -> None:
        if any(b > self.kv[h].capacity_bytes for h, b in st.kv.items()):
            self._record(st, rejected=True)
            return
        self.waiting.append(st)
        self._admit()

    def _admit(self) -> None:
        """Reserve: FCFS while the head's KV fits every host; recompute or swap: at once (the
        hosts grow the KV per token and preempt, :class:`HostServer`)."""
        while self.waiting and (not self.reserve or all(
                self.kv[h].fits(b) for h, b in self.waiting[0].kv.items())):
            st = self.waiting.popleft()
            for h, b in st.kv.items() if self.reserve else ():
                self.kv[h].reserve(b)
            st.t_admitted_s = self.sim.now
            self._step(st)

    def _step(self, st: _Live) -> None:
        r = st.r
        q, past = (r.prompt_tokens, 0) if st.generated == 0 else \
            (1, r.prompt_tokens + st.generated - 1)
        data = None
        if self.model.mode == "real":
            import torch

            if st.generated == 0:
                if self._gen is None:
                    self._gen = torch.Generator().manual_seed(self.cfg.seed)
                data = torch.randint(0, self.model.config.vocab_size, (q,), generator=self._gen)
            else:
                data = st.last.reshape(1)
        self._run_stage(st, 0, q, past, data)

    def _run_stage(self, st: _Live, k: int, q: int, past: int, data) -> None:
        host, services = self._stages(st)[k]
        self.servers[host].submit(WorkItem(st.r.id, services, q, past, data,
                                           on_done=lambda it, out: self._stage_done(
                                               st, k, q, past, out)))

    def _stage_done(self, st: _Live, k: int, q: int, past: int, out) -> None:
        stages = self._stages(st)
        host, services = stages[k]
        if k + 1 < len(stages) and stages[k + 1][0] is None:
            self._fan_out(st, k + 1, q, past, out, host)
            return
        if k + 1 < len(stages):
            nxt = stages[k + 1][0]
            self.sim.send(host, nxt, self.model.output_bytes(services[-1], q),
                          lambda m: self._run_stage(st, k + 1, q, past, out), tag="act")
            return
        st.generated += 1
        st.last = out
        tb = self.ic.serving.token_bytes
        self.sim.send(host, st.r.ue, tb, lambda m: self._token_in(st), tag="token")
        if st.generated < st.r.output_tokens:
            if st.generated == 1 and st.decode_stages:
                self._ship_kv(st, host)
            elif host == (nxt := self._stages(st)[0][0]):
                self._step(st)
            else:
                self.sim.send(host, nxt, tb, lambda m: self._step(st), tag="loop")
        else:
            for h, b in st.kv.items() if self.reserve else ():
                self.kv[h].free(b)
            self.model.release(st.r.id)
            for srv in self.servers.values() if not self.reserve else ():
                srv.release(st.r.id)
            self._admit()

    def _move(self, a: str, b: str, nbytes: float, then, tag: str) -> None:
        """``then()`` once ``nbytes`` from ``a`` reach ``b`` (at once when ``a == b``)."""
        if a == b:
            then()
        else:
            self.sim.send(a, b, nbytes, lambda m: then(), tag=tag)

    def _fan_out(self, st: _Live, k: int, q: int, past: int, out, src: str) -> None:
        """MoE layer ``i`` (stage ``k``, after its router on ``src``): each expert's tokens
        (:meth:`MicroserviceLAM.routing`) go to its host (``dispatch``), run there as
        ``moe<i>_expert<j>`` in the host's batching, and their outputs go to the next
        stage's host (``combine``), as do the hidden states (``act``, the residual); the next
        stage starts when all have arrived, with ``x + sum_k gate_k expert_k(x)`` (``real``)."""
        mdl, layer = self.model, int(self._stages(st)[k][1][0][3:].split("_")[0])
        nxt, row = self._stages(st)[k + 1][0], mdl.d * mdl.elt
        idx, gates = mdl.routing(layer, st.r.id, past, q, out)
        x = None if out is None else out[:, :mdl.d]
        parts = {j: (idx == j).any(-1).nonzero().flatten() for j in range(mdl.n_experts)}
        parts = {j: rows for j, rows in parts.items() if len(rows)}
        left, y = [len(parts) + 1], (None if x is None else x.clone())

        def arrived(j=None, o=None) -> None:
            if j is not None and y is not None:
                gate = ((idx[parts[j]] == j) * gates[parts[j]]).sum(-1, keepdim=True)
                y.index_add_(0, parts[j], gate.to(y.dtype) * o)
            left[0] -= 1
            if not left[0]:
                self._run_stage(st, k + 1, q, past, y)

        def run(j: int, host: str) -> None:
            data = None if x is None else x[parts[j]]
            done = lambda it, o: self._move(host, nxt, len(parts[j]) * row,  # noqa: E731
                                            lambda: arrived(j, o), "combine")
            self.servers[host].submit(WorkItem(st.r.id, [f"moe{layer}_expert{j}"],
                                               len(parts[j]), past, data, on_done=done))

        self._move(src, nxt, q * row, arrived, "act")
        for j, rows in parts.items():
            host = self.where[f"expert{j}"]
            self._move(src, host, len(rows) * row, lambda j=j, h=host: run(j, h), "dispatch")

    def _ship_kv(self, st: _Live, last: str) -> None:
        """Disaggregation (Splitwise): after the prefill, each block group's KV cache of the
        prompt (``2 x layers x prompt tokens x n_embd x element bytes``) and the token id go to
        the decode host; the first decode step starts when all of them have arrived, and the
        prefill hosts' reservations are freed then."""
        dh = st.decode_stages[0][0]
        moves = [(h, b, "kv") for _, h, b in st.ship]
        if last != dh:
            moves.append((last, self.ic.serving.token_bytes, "loop"))
        left = [len(moves)]

        def arrived(_m=None) -> None:
            left[0] -= 1
            if left[0] > 0:
                return
            for _, h, b in st.ship:
                self.kv[h].free(b)
                st.kv[h] -= b
            self._step(st)

        if not moves:
            left[0] = 1
            arrived()
        for h, b, tag in moves:
            self.sim.send(h, dh, b, arrived, tag=tag)

    def _token_in(self, st: _Live) -> None:
        st.delivered.append(self.sim.now)
        if len(st.delivered) == st.r.output_tokens:
            self._record(st)

    def _record(self, st: _Live, rejected: bool = False) -> None:
        from .metrics import request_row

        row = request_row(st, self.ic.slo, rejected)
        self.rows.append(row)
        if self.tw is not None:
            self.tw.append("requests", row)
        if len(self.rows) == len(self.requests):
            self.finished = True
            self.sim.stop()

    def _on_call(self, rec: dict) -> None:
        self.calls.append(rec)
        if self.tw is not None:
            self.tw.append("services", rec)

    def summary(self) -> dict:
        """The run's inference figures (see :func:`edgelam_ns3.inference.metrics.summarise`)."""
        from .metrics import summarise

        return summarise(self)


def host_profile(cfg, host: str):
    """The compute profile of a host, with its memory (``profiles.<name>.memory_bytes`` for a
    user-defined profile)."""
    from ..topology import profile

    prof = profile(cfg, host)
    user = cfg.profiles.get(prof.name)
    if user is not None and getattr(user, "memory_bytes", None) is not None:
        prof = replace(prof, memory_bytes=user.memory_bytes)
    if prof.memory_bytes is None:
        raise ValueError(f"profiles.{prof.name}.memory_bytes: host {host} serves inference "
                         "and needs a memory capacity")
    return prof
