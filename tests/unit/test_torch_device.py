"""sim.torch_device and compute.execution: where the frameworks' tensors live.

The frameworks run here over a fake network clock (no ns-3): a message of b bytes arrives after
b * 8 / 100 Mbit/s + 1 ms. Under compute.execution cost every job runs on meta tensors; its
counted FLOPs and bytes, and so every compute charge and simulated instant, are those of the
real run, job by job, while no loss is computed (NaN). Moving everything to the meta device
also checks the device plumbing: a tensor left on the CPU would fail or show up in the checks.
"""

import heapq
import itertools
import math
from types import SimpleNamespace

import pytest
import torch

from edgelam_ns3 import config
from edgelam_ns3.frameworks import framework_class
from edgelam_ns3.torch_device import meta_scalars, move_module, resolve, value


class FakeNetwork:
    """A discrete-event clock with fixed-rate messages (what the frameworks ask of a sim)."""

    def __init__(self):
        self.now, self._heap, self._seq, self.stopped = 0.0, [], itertools.count(), False

    def schedule(self, delay_s, fn):
        heapq.heappush(self._heap, (self.now + delay_s, next(self._seq), fn))

    def send(self, src, dst, nbytes, then, tag=""):
        latency = nbytes * 8 / 1e8 + 1e-3
        msg = SimpleNamespace(bytes=nbytes, latency_s=latency, src=src, dst=dst)
        self.schedule(latency, lambda: then(msg))

    def set_link_rate(self, *args):
        pass

    def stop(self):
        self.stopped = True

    def run(self):
        while self._heap and not self.stopped:
            self.now, _, fn = heapq.heappop(self._heap)
            fn()


SCENARIO = {"split_learning": "quickstart", "centralized": "quickstart",
            "looped_tp": "looped-tp", "split_fed_lora": "split-finetune",
            "fed_lora": "split-finetune"}


def _cfg(framework, execution, steps=2, extra=()):
    sizes = ["model.n_head=4"] if framework == "looped_tp" else ["model.n_layer=2",
                                                                  "model.n_head=2"]
    return config.load(SCENARIO[framework], sizes + [
        "radio.mode=ideal", f"train.steps={steps}", "model.n_embd=32", "model.seq_len=16",
        "train.batch_size=2", f"train.framework={framework}", f"compute.execution={execution}",
        *extra])


def _run(framework, execution, steps=2, extra=()):
    net, jobs, rounds = FakeNetwork(), [], []
    fw = framework_class(framework)(_cfg(framework, execution, steps, extra), net, jobs.append,
                                    rounds.append)
    fw.start()
    net.run()
    return fw, jobs, rounds


@pytest.mark.parametrize("framework", sorted(SCENARIO))
def test_cost_execution_charges_every_job_as_the_real_run_and_computes_no_loss(framework):
    _, real_jobs, real_rounds = _run(framework, "real")
    _, cost_jobs, cost_rounds = _run(framework, "cost")
    assert len(real_jobs) > 0 and cost_jobs == real_jobs  # device, job, instants, FLOPs, bytes
    assert [r["t_end_s"] for r in cost_rounds] == [r["t_end_s"] for r in real_rounds]
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["eval_loss"]) for r in real_rounds)
    assert all(math.isnan(r["loss"]) and math.isnan(r["eval_loss"]) for r in cost_rounds)


@pytest.mark.parametrize("framework", sorted(SCENARIO))
def test_cached_accounting_charges_every_job_as_exact_counting_and_reuses_counts(framework):
    cached, cached_jobs, cached_rounds = _run(framework, "real", 4)
    _, exact_jobs, exact_rounds = _run(framework, "real", 4, ["compute.accounting=exact"])
    assert cached_jobs == exact_jobs
    assert [r["loss"] for r in cached_rounds] == [r["loss"] for r in exact_rounds]
    # every framework keys its jobs: counts are reused, not counted every time (a key with
    # Adam state is confirmed by rounds 1 and 2, reused from round 3)
    assert cached.costs.reused > 0


def _tensors_of(fw):
    """Every parameter, optimiser state tensor and batch tensor a framework holds."""
    modules = [v for v in vars(fw).values() if isinstance(v, torch.nn.Module)]
    for v in vars(fw).values():
        if isinstance(v, list):
            modules += [m for m in v if isinstance(m, torch.nn.Module)]
    opts = [v for v in vars(fw).values() if isinstance(v, torch.optim.Optimizer)]
    opts += [o for v in vars(fw).values() if isinstance(v, list) for o in v
             if isinstance(o, torch.optim.Optimizer)]
    params = [p for m in modules for p in m.parameters()]
    states = [t for o in opts for s in o.state.values() for t in s.values()
              if isinstance(t, torch.Tensor) and t.dim() > 0]  # Adam's step count stays on CPU
    batch = list(next(fw.batches[0])) + list(fw.eval_batch)
    return params, states, batch


@pytest.mark.parametrize("framework", ["split_learning", "fed_lora", "looped_tp"])
def test_every_parameter_optimiser_state_and_batch_is_on_the_run_s_torch_device(framework):
    fw, _, _ = _run(framework, "cost", steps=1)
    assert fw.torch_device == torch.device("meta")
    params, states, batch = _tensors_of(fw)
    assert params and states and batch
    assert {t.device.type for t in params + states + batch} == {"meta"}
    cpu, _, _ = _run(framework, "real", steps=1)
    assert cpu.torch_device == torch.device("cpu")
    params, states, batch = _tensors_of(cpu)
    assert {t.device.type for t in params + states + batch} == {"cpu"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (issue 14.4)")
@pytest.mark.parametrize("framework", sorted(SCENARIO))
def test_a_cuda_run_charges_the_cpu_runs_jobs_and_gives_its_losses(framework):
    """Where torch sees a GPU: the same run on it is charged the same jobs (so its trace is the
    same) and gives the same losses within float32 tolerance. Not yet run: no GPU was lent to
    this project's sessions."""
    cpu, cpu_jobs, cpu_rounds = _run(framework, "real", 3)
    gpu, gpu_jobs, gpu_rounds = _run(framework, "real", 3, ["sim.torch_device=cuda"])
    assert gpu.torch_device.type == "cuda" and cpu.torch_device.type == "cpu"
    assert len(cpu_jobs) > 0 and gpu_jobs == cpu_jobs  # device, job, instants, FLOPs, bytes
    for key in ("loss", "eval_loss"):
        assert [r[key] for r in gpu_rounds] == pytest.approx([r[key] for r in cpu_rounds],
                                                              rel=1e-3), key


def test_auto_resolves_to_cuda_only_with_a_gpu_and_cuda_without_one_is_a_clear_error():
    assert resolve("cpu") == torch.device("cpu")
    assert resolve("cuda", "cost") == torch.device("meta")
    if torch.cuda.is_available():
        assert resolve("auto") == torch.device("cuda")
        return
    assert resolve("auto") == torch.device("cpu")  # this machine: no GPU
    with pytest.raises(ValueError, match=r"^sim.torch_device: cuda, but torch .* sees no CUDA"):
        resolve("cuda")


def test_moving_to_meta_keeps_gpt2_s_head_tied_to_its_embedding():
    fw, _, _ = _run("split_learning", "cost", steps=1)
    m = fw.device_models[0]
    assert m.parts["head"].weight is m.parts["embed"].weight
    # Module.to("meta") alone unties them (a new Parameter per owner)
    lin = torch.nn.Linear(4, 8, bias=False)
    emb = torch.nn.Embedding(8, 4)
    lin.weight = emb.weight
    both = torch.nn.ModuleList([emb, lin])
    assert both.to("meta")[1].weight is not both[0].weight
    emb.weight = lin.weight = torch.nn.Parameter(torch.zeros(8, 4))
    move_module(both, "meta")
    assert both[1].weight is both[0].weight and both[0].weight.is_meta


def test_a_data_dependent_read_of_a_meta_tensor_is_an_error_and_a_loss_is_nan():
    t = torch.ones(3, device="meta")
    with meta_scalars(), pytest.raises(RuntimeError, match="compute.execution: cost: a job reads"):
        bool((t > 0).all())
    assert math.isnan(value(t.sum())) and value(torch.tensor(2.5)) == 2.5


def test_gpt2_small_preset_is_transformers_124m_configuration():
    from transformers import GPT2Config, GPT2LMHeadModel

    m = config.load("quickstart", ["model.preset=gpt2-small"]).model
    ref = GPT2Config()
    assert (m.n_layer, m.n_embd, m.n_head, m.vocab_size) == \
        (ref.n_layer, ref.n_embd, ref.n_head, ref.vocab_size)
    with torch.device("meta"):
        lm = GPT2LMHeadModel(ref)
    assert sum(p.numel() for p in lm.parameters()) == 124_439_808  # GPT-2 small, tied head
    with pytest.raises(config.ConfigError, match="n_layer: 4, but model.preset gpt2-small"):
        config.load("quickstart", ["model.preset=gpt2-small", "model.n_layer=4"])


def test_cost_execution_rejects_differential_privacy_before_the_run():
    with pytest.raises(config.ConfigError, match="compute.execution: cost has no gradient"):
        config.load("split-finetune", ["compute.execution=cost", "train.dp.enabled=true"])
