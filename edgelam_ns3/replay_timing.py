"""The torch-free timing replay (``compute.execution: recorded``, ``edgelam replay --timing``).

A timing replay needs, of every compute job, only its FLOPs and bytes moved, and of every
message only its size. The recorded run traced both: each job's counts with the shapes of its
inputs (``traces/compute.parquet``, columns ``job``, ``shapes``, ``flops``, ``bytes_moved``;
:func:`edgelam_ns3.compute.shapes_key`). So the replay runs the framework's control logic (the
rounds, the policy's choice of devices and radio shares, the barriers, the order of jobs and
messages) with stand-ins for the tensors (:class:`Stand`: a shape and a float32 size), charges
each job what the record holds for its (job, shapes) key (:class:`~edgelam_ns3.compute.
RecordedCosts`), and sends each message at its tensor's size. No job runs, torch and
transformers are not imported, no model is built: what remains is the start-up and ns-3's event
loop over the trace radio.

Losses are not computed (NaN in ``rounds.parquet``, null in ``summary.json``; its
``execution`` entry says so). A counterfactual that gives a job input shapes the record does not
hold (another ``train.batch_size``, ``model.seq_len`` or ``model.n_embd``) fails at that job
with one line naming the job and its shapes: replay it with ``--timing meta``
(``compute.execution: cost``, jobs counted on meta tensors) or in full. Another policy, another
``train.k``, another radio trace: fine, since the per-device shapes stay those of the record.
split_fed_lora's server jobs run over the scheduled devices' batches at once (fed_lora's
average over their adapters); a device count the record does not hold is charged on the line
through the record's counts, which are affine in it (:class:`~edgelam_ns3.compute.
RecordedCosts`; said in the run's log). fed_lora's adapter shapes come from the record's first
local training job (:func:`recorded_adapters`): another ``train.local_steps`` fails there, in
one line. Under another
policy, the first count of a key (an optimizer's first step, with its state creation) is
charged at that key's first use, which may fall in another round than in a full replay.

The frameworks here mirror :mod:`edgelam_ns3.frameworks.split_learning`,
:mod:`edgelam_ns3.frameworks.split_fed_lora`, :mod:`edgelam_ns3.frameworks.fed_lora` and
:mod:`edgelam_ns3.frameworks.centralized` job for job and message for message (the policy's
part of a split_fed_lora round is the framework's own code,
:class:`~edgelam_ns3.frameworks.policy_rounds.PolicyRounds`; fed_lora's and centralized's rounds
are entirely, :class:`~edgelam_ns3.frameworks.fed_lora_rounds.FedLoRARounds`,
:class:`~edgelam_ns3.frameworks.centralized_rounds.CentralizedRounds`);
``tests/integration/test_replay.py`` checks that a timing replay's ``compute.parquet`` and round
latencies equal the full replay's, frame for frame, for all four.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from .frameworks.base import Barrier, RoundBase
from .frameworks.centralized_rounds import CentralizedRounds
from .frameworks.fed_lora_rounds import FedLoRARounds
from .frameworks.policy_rounds import PolicyRounds
from .frameworks.round_log import RoundLog

NAN = float("nan")


@dataclass(frozen=True)
class Stand:
    """A tensor's stand-in: its shape, float32 (every tensor that crosses the cut is)."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def nbytes(self) -> int:
        """``numel * element_size``, as :func:`~edgelam_ns3.models.split_gpt.tensor_nbytes`."""
        return math.prod(self.shape) * 4


def recorded_costs(run_dir: str | Path):
    """The :class:`~edgelam_ns3.compute.RecordedCosts` of a run directory's
    ``traces/compute.parquet``. Raises ValueError (one line) for a run without them."""
    import pyarrow.parquet as pq

    from .compute import RecordedCosts

    path = Path(run_dir) / "traces" / "compute.parquet"
    if not path.is_file():
        raise ValueError(f"compute.record: {path} does not exist (not a finished run directory)")
    cols = ["device", "job", "shapes", "flops", "bytes_moved"]
    names = pq.read_schema(path).names
    if "shapes" not in names:
        raise ValueError(f"compute.record: {path} has no shapes column (recorded by an older "
                         "version): replay with --timing meta or in full")
    # ParquetFile, not pq.read_table: its pyarrow.dataset import loads pandas (~0.5 s)
    rows = pq.ParquetFile(path).read(columns=cols).to_pylist()
    return RecordedCosts(rows, source=str(path))


class _TimingBase(RoundBase):
    """A mirror's common part: recorded charges, the batch's stand-ins, no evaluation."""

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        super().__init__(cfg, sim, on_job, on_round, costs=recorded_costs(cfg.compute.record))
        b, s, e = cfg.train.batch_size, cfg.model.seq_len, cfg.model.n_embd
        self.ids = Stand((b, s))  # a batch's input ids and labels
        self.act = Stand((b, s, e))  # an activation or its gradient at the cut

    def evaluate(self) -> float:
        return NAN

    def summary(self) -> dict:
        """The recorded run's ``model_base`` (the replay builds no model), if it has one."""
        path = Path(self.cfg.compute.record) / "summary.json"
        rec = json.loads(path.read_text()) if path.is_file() else {}
        return {"model_base": rec["model_base"]} if "model_base" in rec else {}


class SplitLearningTiming(_TimingBase):
    """:class:`~edgelam_ns3.frameworks.split_learning.SplitLearning`, charged from the record."""

    name = "split_learning"

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        super().__init__(cfg, sim, on_job, on_round)
        self._waiting_forward: list[Callable[[], None]] = []
        self._server_stepping = False

    def _begin_round(self) -> None:
        n = len(self.devices)
        self.log = RoundLog(self.round, self.sim.now, list(range(n)))
        self._server_done = Barrier(range(n), lambda _: self._server_step())
        self._device_done = Barrier(range(n), lambda _: self._end_round())
        for d in range(n):
            self._device_step(d)

    def _exchange(self, d: int, t: Stand, phase: str, up: bool, then) -> None:
        src, dst = (self.devices[d], self.srv) if up else (self.srv, self.devices[d])
        self.send_message(src, dst, t.nbytes, phase, up, lambda msg: then())

    def _device_step(self, d: int) -> None:
        self.hosts[self.devices[d]].submit(
            "device_embed", None, lambda _: self._exchange(d, self.act, "act_up", True,
                                                           lambda: self._server_forward(d)),
            key=(None, None, self.ids))

    def _server_forward(self, d: int) -> None:
        if self._server_stepping:
            self._waiting_forward.append(lambda: self._server_forward(d))
            return
        self.hosts[self.srv].submit(
            "server_forward", None, lambda _: self._exchange(d, self.act, "act_down", False,
                                                             lambda: self._device_head(d)),
            key=(None, self.act))

    def _device_head(self, d: int) -> None:
        def after_head(_):
            self.log.losses.append(NAN)
            self._exchange(d, self.act, "grad_up", True, lambda: self._server_backward(d))

        self.hosts[self.devices[d]].submit("device_head", None, after_head,
                                           key=(None, self.act, self.ids))

    def _server_backward(self, d: int) -> None:
        def after_backward(_):
            self._server_done.arrive(d)
            self._exchange(d, self.act, "grad_down", False, lambda: self._device_update(d))

        self.hosts[self.srv].submit("server_backward", None, after_backward,
                                    key=(None, self.act, self.act))

    def _server_step(self) -> None:
        self._server_stepping = True

        def after_step(_):
            self._server_stepping = False
            waiting, self._waiting_forward = self._waiting_forward, []
            for fn in waiting:
                fn()

        self.hosts[self.srv].submit("server_optimizer_step", None, after_step,
                                    key=(None, None, []))

    def _device_update(self, d: int) -> None:
        done = self._device_done
        self.hosts[self.devices[d]].submit("device_update", None, lambda _: done.arrive(d),
                                           key=(None, None, self.act, self.act))


class SplitFedLoRATiming(PolicyRounds, _TimingBase):
    """:class:`~edgelam_ns3.frameworks.split_fed_lora.SplitFedLoRA` (without ``train.dp``),
    charged from the record; the policy decides as in a full run."""

    name = "split_fed_lora"

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        super().__init__(cfg, sim, on_job, on_round)
        self._init_policy()

    def send(self, src: str, dst: str, t: Stand, phase: str, up: bool, then) -> None:
        self._send_bytes(src, dst, t.nbytes, phase, up, then)

    def _begin_round(self) -> None:
        self._plan_round()
        up = Barrier(self.scheduled, self._server_forward)
        for i in self.scheduled:
            self.hosts[self.devices[i]].submit(
                "device_embed", None,
                lambda _, i=i: self.send(self.devices[i], self.srv, self.act, "act_up", True,
                                         lambda: up.arrive(i, self.act)),
                key=(None, None, self.ids))

    def _server_forward(self, h0s: list) -> None:
        def done(_):
            back = Barrier(self.scheduled, self._server_backward)
            for i in self.scheduled:
                self.send(self.srv, self.devices[i], self.act, "act_down", False,
                          lambda i=i: self._device_head(i, back))

        self.hosts[self.srv].submit("server_forward", None, done, key=(None, h0s))

    def _device_head(self, i: int, barrier: Barrier) -> None:
        def done(_):
            self.log.losses.append(NAN)
            self.send(self.devices[i], self.srv, self.act, "grad_up", True,
                      lambda: barrier.arrive(i, self.act))

        self.hosts[self.devices[i]].submit("device_head", None, done,
                                           key=(None, self.act, self.ids))

    def _server_backward(self, grads: list) -> None:
        def done(_):
            fin = Barrier(self.scheduled, lambda _: self._end_round())
            for i in self.scheduled:
                self.send(self.srv, self.devices[i], self.act, "grad_down", False,
                          lambda i=i: self._device_update(i, fin))

        self.hosts[self.srv].submit("server_backward", None, done, key=(None, None, grads))

    def _device_update(self, i: int, barrier: Barrier) -> None:
        self.hosts[self.devices[i]].submit("device_update", None, lambda _: barrier.arrive(i),
                                           key=(None, None, self.act, self.act))

    def _round_extra(self) -> dict:
        self._update_compute_estimate()
        return {}


def recorded_adapters(cfg) -> list[Stand]:
    """The LoRA adapter tensors of a fed_lora record, from its first ``device_local_train`` job:
    its key is the adapters' shapes (the global state), then each of the ``train.local_steps``
    batches' ids and labels (:func:`~edgelam_ns3.compute.shapes_key`)."""
    import pyarrow.parquet as pq

    path = Path(cfg.compute.record) / "traces" / "compute.parquet"
    rows = pq.ParquetFile(path).read(columns=["job", "shapes"]).to_pylist()
    key = next((r["shapes"] for r in rows if r["job"] == "device_local_train"), None)
    n_batch = 2 * cfg.train.local_steps
    batch = f"{cfg.train.batch_size}x{cfg.model.seq_len}"
    parts = key.split(";") if key else []
    if len(parts) <= n_batch or parts[-n_batch:] != [batch] * n_batch:
        raise ValueError(f"compute.record: {path} holds no device_local_train job over "
                         f"{cfg.train.local_steps} batches of {batch} (train.local_steps, "
                         "train.batch_size, model.seq_len as recorded, or --timing meta)")
    return [Stand(tuple(int(d) for d in p.split("x"))) for p in parts[:-n_batch]]


class FedLoRATiming(FedLoRARounds, _TimingBase):
    """:class:`~edgelam_ns3.frameworks.fed_lora.FedLoRA`, charged from the record; the round
    (policy, messages, jobs) is the framework's own code
    (:class:`~edgelam_ns3.frameworks.fed_lora_rounds.FedLoRARounds`)."""

    name = "fed_lora"

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        super().__init__(cfg, sim, on_job, on_round)
        self.adapters = recorded_adapters(cfg)
        self.adapter_bytes = sum(a.nbytes for a in self.adapters)
        self._init_policy()

    def _round_state(self) -> None:
        return None

    def _train_job(self, i: int, state):
        batches = [(self.ids, self.ids)] * self.cfg.train.local_steps
        return None, (None, None, self.adapters, batches)

    def _average_job(self, uploads: list):
        return None, (None, [self.adapters] * len(uploads), [])


def recorded_shard_bytes(cfg) -> list[int]:
    """Each device's raw data in a centralized record: its ``raw_data_up`` message's bytes."""
    import pyarrow.parquet as pq

    path = Path(cfg.compute.record) / "traces" / "messages.parquet"
    rows = pq.ParquetFile(path).read(columns=["src", "bytes", "tag"]).to_pylist()
    sizes = {r["src"]: int(r["bytes"]) for r in rows if r["tag"] == "raw_data_up"}
    devices = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
    if any(d not in sizes for d in devices):
        raise ValueError(f"compute.record: {path} has no raw_data_up message from "
                         f"{next(d for d in devices if d not in sizes)} (nodes.n_devices as "
                         "recorded, or --timing meta)")
    return [sizes[d] for d in devices]


class CentralizedTiming(CentralizedRounds, _TimingBase):
    """:class:`~edgelam_ns3.frameworks.centralized.Centralized`, charged from the record; the
    rounds are the framework's own code
    (:class:`~edgelam_ns3.frameworks.centralized_rounds.CentralizedRounds`)."""

    name = "centralized"

    def __init__(self, cfg, sim, on_job=None, on_round=None):
        super().__init__(cfg, sim, on_job, on_round)
        self.shard_bytes = recorded_shard_bytes(cfg)

    def _train_step_job(self):
        return None, (None, None, [(self.ids, self.ids)] * len(self.devices))


TIMING_FRAMEWORKS = {"split_learning": SplitLearningTiming, "split_fed_lora": SplitFedLoRATiming,
                     "fed_lora": FedLoRATiming, "centralized": CentralizedTiming}
"""``train.framework`` -> its torch-free mirror, for ``compute.execution: recorded``."""


def check(cfg) -> None:
    """The config checks of ``compute.execution: recorded`` (one-line ValueErrors naming the
    key): a record to charge from, a framework with a mirror here, no ``train.dp``."""
    c, t = cfg.compute, cfg.train
    if c.execution != "recorded":
        raise ValueError(f"compute.record: read only with compute.execution recorded (it is "
                         f"{c.execution})")
    if c.record is None:
        raise ValueError("compute.record: compute.execution recorded needs the run directory "
                         "whose traces/compute.parquet charges the jobs")
    if t.framework not in TIMING_FRAMEWORKS:
        raise ValueError(f"compute.execution: recorded runs {', '.join(TIMING_FRAMEWORKS)}, "
                         f"not train.framework {t.framework}: replay it with --timing meta "
                         "(compute.execution: cost) or in full")
    if t.dp.enabled:
        raise ValueError("compute.execution: recorded has no gradients for train.dp to clip "
                         "and noise; use compute.execution: real")
