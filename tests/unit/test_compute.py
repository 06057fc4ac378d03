"""Compute-time model: FLOP and byte counts, roofline durations, FIFO devices on a fake clock."""

import heapq
import itertools
import math

import pytest
import torch

from edgelam_ns3.compute import (
    BUILTIN_PROFILES,
    CostCache,
    Device,
    DeviceProfile,
    JobCost,
    MissingCost,
    RecordedCosts,
    cost_key,
    duration_s,
    energy_j,
    get_profile,
    measure,
    shapes_key,
)

torch.set_num_threads(1)


class FakeSim:
    """Deterministic discrete-event clock: a heap of (time [s], sequence number, fn)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list = []
        self._seq = itertools.count()

    def schedule(self, delay_s: float, fn) -> None:
        assert delay_s >= 0
        heapq.heappush(self._heap, (self.now + delay_s, next(self._seq), fn))

    def run(self) -> None:
        while self._heap:
            self.now, _, fn = heapq.heappop(self._heap)
            fn()


# A profile whose ridge point is 1 FLOP/byte: easy to make jobs compute- or memory-bound.
PROFILE = DeviceProfile("test", peak_flops=4e9, efficiency=0.5, mem_bw_bytes_per_s=2e9)


def test_matmul_flops_are_2mnk_and_bytes_are_operands_plus_result():
    M, N, K = 64, 48, 32
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(M, K, generator=g), torch.randn(K, N, generator=g)
    cost = measure(torch.matmul, a, b)
    assert isinstance(cost, JobCost)
    torch.testing.assert_close(cost.result, a @ b)
    assert cost.flops == 2 * M * N * K
    assert cost.bytes_moved == (M * K + K * N + M * N) * 4


def test_compute_charge_equals_flops_over_peak_times_efficiency():
    M, N, K = 256, 256, 256  # 2*M*N*K / ((MK+KN+MN)*4) ~ 43 FLOP/byte >> ridge: compute bound
    a, b = torch.ones(M, K), torch.ones(K, N)
    cost = measure(torch.matmul, a, b)
    flops = 2 * M * N * K
    assert cost.flops == flops
    assert duration_s(PROFILE, cost.flops, cost.bytes_moved) == flops / (4e9 * 0.5)


def test_memory_bound_job_is_charged_bytes_over_bandwidth():
    n = 100_000
    x, y = torch.ones(n), torch.ones(n)
    cost = measure(torch.add, x, y)  # element-wise: 0 counted FLOPs, reads 2n and writes n floats
    assert cost.flops == 0
    assert cost.bytes_moved == 3 * n * 4
    assert duration_s(PROFILE, cost.flops, cost.bytes_moved) == 3 * n * 4 / 2e9


def test_backward_flops_are_counted_when_the_job_calls_backward():
    M, N, K = 16, 8, 4
    a = torch.randn(M, K, requires_grad=True)
    w = torch.randn(K, N, requires_grad=True)

    def step():
        (a @ w).sum().backward()

    cost = measure(step)
    assert cost.flops == 3 * 2 * M * N * K  # forward, grad wrt a, grad wrt w


def test_views_move_no_bytes_and_broadcast_is_counted_once():
    x = torch.ones(1000)
    assert measure(lambda: x.view(10, 100).t()).bytes_moved == 0
    row = torch.ones(1, 100)
    # expand is a view; the add reads the 100-element row once (stride 0), 1000 + 1000 elements else
    cost = measure(lambda: x.view(10, 100) + row.expand(10, 100))
    assert cost.bytes_moved == (1000 + 100 + 1000) * 4


def test_embedding_reads_only_the_gathered_rows():
    table = torch.ones(10_000, 16)
    idx = torch.tensor([[1, 2, 3]])
    cost = measure(torch.nn.functional.embedding, idx, table)
    assert cost.bytes_moved == 3 * 16 * 4 * 2 + 3 * 8  # rows read + written, int64 indices


def test_duration_rejects_negative_counts():
    with pytest.raises(ValueError, match="flops"):
        duration_s(PROFILE, -1, 0)
    with pytest.raises(ValueError, match="bytes_moved"):
        duration_s(PROFILE, 0, -1)


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", ""),
        ("peak_flops", 0.0),
        ("peak_flops", -1e9),
        ("peak_flops", math.inf),
        ("efficiency", 0.0),
        ("efficiency", 1.5),
        ("efficiency", math.nan),
        ("mem_bw_bytes_per_s", 0),
        ("power_w", -5.0),
        ("concurrency", 0),
        ("concurrency", 1.5),
        ("concurrency", True),
    ],
)
def test_bad_profile_values_raise_value_error_naming_the_field(field, value):
    kwargs = dict(name="p", peak_flops=1e12, efficiency=0.5, mem_bw_bytes_per_s=1e11)
    kwargs[field] = value
    with pytest.raises(ValueError, match=f"DeviceProfile.{field} "):
        DeviceProfile(**kwargs)


def test_builtin_profiles_are_valid_and_ordered_by_capability():
    names = ["smartphone_soc", "jetson_orin", "edge_gpu_server", "cloud_gpu"]
    assert set(BUILTIN_PROFILES) == set(names)
    sustained = [get_profile(n).sustained_flops for n in names]
    assert sustained == sorted(sustained)
    for name, p in BUILTIN_PROFILES.items():
        assert p.name == name and 0 < p.efficiency <= 1 and p.power_w is not None
    with pytest.raises(ValueError, match="built-in profiles are"):
        get_profile("toaster")


def test_energy_is_power_times_busy_time():
    assert energy_j(get_profile("jetson_orin"), 2.0) == 120.0
    assert energy_j(PROFILE, 2.0) is None


def _matmul_job(n: int):
    a, b = torch.ones(n, n), torch.ones(n, n)
    return lambda: a @ b


def test_fifo_second_job_starts_when_first_ends():
    sim, records, done = FakeSim(), [], []
    dev = Device("phone", PROFILE, sim, on_job=records.append)
    dev.submit("j1", _matmul_job(64), lambda r: done.append(("j1", sim.now, r.shape)))
    dev.submit("j2", _matmul_job(32), lambda r: done.append(("j2", sim.now, r.shape)))
    assert dev.n_running == 1 and dev.n_queued == 1
    sim.run()

    d1 = duration_s(PROFILE, 2 * 64**3, 3 * 64 * 64 * 4)
    d2 = duration_s(PROFILE, 2 * 32**3, 3 * 32 * 32 * 4)
    assert [r["job"] for r in records] == ["j1", "j2"]
    assert records[0] == {
        "device": "phone",
        "job": "j1",
        "t_start_s": 0.0,
        "t_end_s": d1,
        "flops": 2 * 64**3,
        "bytes_moved": 3 * 64 * 64 * 4,
        "shapes": "",  # submitted without a key
    }
    assert records[1]["t_start_s"] == d1
    assert records[1]["t_end_s"] == pytest.approx(d1 + d2, rel=1e-12)
    assert done == [("j1", d1, (64, 64)), ("j2", records[1]["t_end_s"], (32, 32))]
    assert dev.busy_s == pytest.approx(d1 + d2, rel=1e-12)
    assert dev.n_running == 0 and dev.n_queued == 0


def test_jobs_run_for_real_when_they_start_not_when_submitted():
    sim, log = FakeSim(), []
    dev = Device("srv", PROFILE, sim)
    dev.submit("a", lambda: log.append(("a runs", sim.now)), lambda r: None)
    dev.submit("b", lambda: log.append(("b runs", sim.now)), lambda r: None)
    assert log == [("a runs", 0.0)]
    sim.run()
    assert log == [("a runs", 0.0), ("b runs", 0.0)]  # zero-cost jobs take no simulated time


def test_concurrency_two_runs_two_jobs_at_once_and_queues_the_third():
    sim, records = FakeSim(), []
    profile = DeviceProfile("dual", 4e9, 0.5, 2e9, concurrency=2)
    dev = Device("srv", profile, sim, on_job=records.append)
    for j in ("j1", "j2", "j3"):
        dev.submit(j, _matmul_job(32), lambda r: None)
    assert dev.n_running == 2 and dev.n_queued == 1
    sim.run()
    d = duration_s(profile, 2 * 32**3, 3 * 32 * 32 * 4)
    starts = {r["job"]: r["t_start_s"] for r in records}
    assert starts == {"j1": 0.0, "j2": 0.0, "j3": d}


def test_job_submitted_from_on_done_queues_behind_waiting_jobs():
    sim, order = FakeSim(), []
    dev = Device("srv", PROFILE, sim)

    def job(label):
        return lambda: order.append(label)

    dev.submit("a", job("a"), lambda r: dev.submit("c", job("c"), lambda r: None))
    dev.submit("b", job("b"), lambda r: None)
    sim.run()
    assert order == ["a", "b", "c"]


def test_same_jobs_give_the_same_trace():
    def trace():
        sim, records = FakeSim(), []
        dev = Device("phone", get_profile("smartphone_soc"), sim, on_job=records.append)
        for j in range(3):
            dev.submit(f"j{j}", _matmul_job(16 * (j + 1)), lambda r: None)
        sim.run()
        return records

    assert trace() == trace()


# -- cached accounting -----------------------------------------------------------------------


def _charges(step, cache: CostCache | None, n: int, parts_of) -> list[tuple[int, int]]:
    """(flops, bytes) charged for ``n`` calls of ``step(k)``: counted, or through ``cache``
    keyed by ``parts_of(k)``."""
    out = []
    for k in range(n):
        fn = (lambda k=k: step(k))
        cost = measure(fn) if cache is None else cache.measure("job", fn, parts_of(k))
        out.append((cost.flops, cost.bytes_moved))
    return out


def _adam_twin(seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(8, 16)

    def step(_k):
        opt.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        opt.step()

    return model, opt, x, step


def test_cached_charges_equal_counted_charges_over_adam_steps_whose_first_step_differs():
    # Adam creates its state on the first step: that step moves more bytes than the next ones,
    # and the cache must not charge it to them (nor them the first step's count)
    model, opt, x, step = _adam_twin(0)
    exact = _charges(step, None, 5, lambda k: None)
    model, opt, x, step = _adam_twin(0)
    cache = CostCache()
    cached = _charges(step, cache, 5, lambda k: (model, opt, x))
    assert cached == exact
    assert exact[0] != exact[1]  # the comparison covers a cost that changes between calls
    assert cache.reused >= 2


def test_cache_keys_by_input_shape_so_variable_sequence_lengths_are_charged_as_counted():
    emb = torch.nn.Embedding(50, 8)
    att = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    lengths = [5, 9, 5, 9, 5, 9, 13, 5]
    ids = [torch.randint(0, 50, (2, n)) for n in lengths]

    def step(k):
        h = emb(ids[k])
        return att(h, h, h, need_weights=False)[0]

    with torch.no_grad():
        exact = _charges(step, None, len(ids), lambda k: None)
        cache = CostCache()
        cached = _charges(step, cache, len(ids), lambda k: (emb, att, ids[k]))
    assert cached == exact
    assert len(set(exact)) == 3 and cache.reused == 3  # lengths 5 and 9 reused once counted twice


class _SignRouter(torch.nn.Module):
    """A two-expert MoE layer routing each row by the sign of its first feature: its FLOPs
    depend on the data, not on the shapes."""

    def __init__(self):
        super().__init__()
        self.experts = torch.nn.ModuleList([torch.nn.Linear(8, 8), torch.nn.Linear(8, 64)])

    def forward(self, x):
        pos = x[:, 0] > 0
        return [self.experts[0](x[pos]).sum(), self.experts[1](x[~pos]).sum()]


@pytest.mark.parametrize("opt_out", [True, False])
def test_a_data_dependent_module_that_opts_out_is_counted_every_time(opt_out):
    moe = _SignRouter()
    if opt_out:
        moe.exact_cost = True
    gen = torch.Generator().manual_seed(3)
    xs = [torch.randn(16, 8, generator=gen) for _ in range(6)]
    for x, rows in zip(xs[:3], (4, 4, 12)):  # routing: 4, 4, then 12 rows to expert 0
        x[:, 0] = torch.tensor([1.0] * rows + [-1.0] * (16 - rows))
    with torch.no_grad():
        exact = _charges(lambda k: moe(xs[k]), None, 3, lambda k: None)
        cache = CostCache()
        cached = _charges(lambda k: moe(xs[k]), cache, 3, lambda k: (moe, xs[k]))
    assert exact[1] == exact[0] != exact[2]
    if opt_out:
        assert cached == exact and cache.reused == 0
    else:  # why the opt-out exists: the shapes-only key reuses a stale count
        assert cached[2] == exact[0] != exact[2]


def test_cost_key_rejects_what_it_cannot_key_and_separates_grad_mode():
    x = torch.ones(3)
    with torch.no_grad():
        k0 = cost_key(x)
    assert cost_key(x) != k0
    with pytest.raises(TypeError, match="cannot key a object"):
        cost_key(object())


def test_device_with_a_cost_cache_charges_like_one_without():
    def run(costs):
        sim = FakeSim()
        dev = Device("d", BUILTIN_PROFILES["smartphone_soc"], sim, costs=costs)
        model, opt, x, step = _adam_twin(1)
        ends = []
        for k in range(4):
            dev.submit("step", lambda k=k: step(k), lambda r: ends.append(sim.now),
                       key=(model, opt, x))
        sim.run()
        return ends

    cache = CostCache()
    assert run(cache) == run(None)
    assert cache.stats()["reused"] == 1  # steps 1 and 2 agree: step 3 reused


def test_config_rejects_an_unknown_accounting_mode_naming_the_field():
    from edgelam_ns3 import config

    assert config.load("quickstart").compute.accounting == "cached"
    with pytest.raises(config.ConfigError, match="compute.accounting"):
        config.load("quickstart", ["compute.accounting=fast"])


def test_shapes_key_lists_the_tensors_shapes_in_order_and_skips_modules_and_numbers():
    model, opt, x, _ = _adam_twin(0)
    h = torch.zeros(2, 3, 4)
    assert shapes_key((model, opt, x, [h, {"g": h}], 3, None)) == "8x16;2x3x4;2x3x4"
    assert shapes_key((torch.tensor(1.0),)) == ""  # a 0-d tensor has an empty shape


def test_recorded_device_charges_the_recorded_counts_per_occurrence_without_running_jobs():
    # the record: Adam's first step moves more bytes than the next ones, on ue0 only 3 steps
    model, opt, x, step = _adam_twin(0)
    rows, sim = [], FakeSim()
    dev = Device("ue0", PROFILE, sim, on_job=rows.append)
    for k in range(3):
        dev.submit("step", lambda k=k: step(k), lambda r: None, key=(model, opt, x))
    sim.run()
    assert rows[0]["bytes_moved"] != rows[1]["bytes_moved"] == rows[2]["bytes_moved"]
    assert {r["shapes"] for r in rows} == {"8x16"}

    costs = RecordedCosts(rows)
    sim2, charged = FakeSim(), []
    ran = []
    for name in ("ue0", "ue1"):  # ue1 never ran in the record: charged as ue0's occurrences
        d = Device(name, PROFILE, sim2, on_job=charged.append, costs=costs, execution="recorded")
        for _ in range(4):
            d.submit("step", lambda: ran.append(1), lambda r: ran.append(r), key=(x,))
    sim2.run()
    assert ran == [None] * 8  # no job ran; each done callback got None
    want = [(r["flops"], r["bytes_moved"]) for r in rows] + [(rows[2]["flops"],
                                                              rows[2]["bytes_moved"])]
    for name in ("ue0", "ue1"):
        got = [(r["flops"], r["bytes_moved"]) for r in charged if r["device"] == name]
        assert got == want  # the 4th, past the record, repeats the last count
    assert costs.stats() == {"charged": 8, "keys": 1, "derived": 0}


def test_recorded_costs_name_a_missing_job_and_shapes_in_one_line():
    costs = RecordedCosts([{"device": "ue0", "job": "step", "shapes": "8x16", "flops": 1,
                            "bytes_moved": 2}], source="run/traces/compute.parquet")
    with pytest.raises(MissingCost, match=r"no job 'step' with input shapes '4x16' \(it holds "
                       r"8x16\)") as exc:
        costs.charge("ue0", "step", "4x16")
    assert "\n" not in str(exc.value) and "run/traces/compute.parquet" in str(exc.value)
    with pytest.raises(TypeError, match="RecordedCosts"):
        Device("d", PROFILE, FakeSim(), execution="recorded")


def test_recorded_costs_charge_an_unrecorded_batch_count_on_the_recorded_affine_line():
    def row(n, flops, nbytes):
        return {"device": "edge0", "job": "fwd", "shapes": ";".join(["8x4"] * n), "flops": flops,
                "bytes_moved": nbytes}

    notes = []
    costs = RecordedCosts([row(1, 10, 107), row(2, 20, 207), row(3, 30, 307)], log=notes.append)
    assert costs.charge("edge0", "fwd", ";".join(["8x4"] * 5)) == (50, 507)
    assert costs.stats() == {"charged": 1, "keys": 3, "derived": 1} and len(notes) == 1
    assert "fwd over 5 x 8x4" in notes[0] and "affine" in notes[0]
    bent = RecordedCosts([row(1, 10, 107), row(2, 20, 207), row(3, 31, 307)], log=notes.append)
    with pytest.raises(MissingCost, match="no job 'fwd' with input shapes"):
        bent.charge("edge0", "fwd", ";".join(["8x4"] * 5))  # not on one line: not derived
    with pytest.raises(MissingCost):
        costs.charge("edge0", "fwd", "8x5;8x5")  # another unit shape
