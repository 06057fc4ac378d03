"""The FedAvg baseline over LoRA adapters: the server's average is weighted by the samples each
device trained on."""

import pytest
import torch

from edgelam_ns3 import config
from edgelam_ns3.frameworks.fed_lora import SAMPLE_COUNT_BYTES, FedLoRA
from edgelam_ns3.models.lora_split import adapter_state_dict, state_dict_nbytes
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec


def test_fedavg_weights_each_devices_adapters_by_the_samples_it_used():
    cfg = config.load("split-finetune", [
        "radio.mode=ideal", "train.framework=fed_lora", "train.policy=all", "train.steps=1",
        "nodes.n_devices=2", "radio.ideal.spectral_efficiency_bps_hz=[4, 4]", "model.n_layer=2",
        "model.n_embd=32", "model.seq_len=16", "train.batch_size=4", "train.local_steps=2",
        "train.lr=1e-2"])
    sent = []
    with Simulation(network_spec(cfg), seed=cfg.seed, on_message=sent.append) as sim:
        fw = FedLoRA(cfg, sim)
        # device 1 trains on 1 sequence per step instead of 4: 2 samples against device 0's 8
        fw.batches[1] = ((ids[:1], labels[:1]) for ids, labels in fw.batches[1])
        fw.start()
        sim.run()
    assert fw.finished
    # after one round each device's model holds the adapters it uploaded
    local = [adapter_state_dict(m) for m in fw.device_models]
    assert any(not torch.equal(local[0][k], local[1][k]) for k in local[0])
    merged = adapter_state_dict(fw.global_model)
    for k in merged:
        expect = (8 * local[0][k].double() + 2 * local[1][k].double()) / 10
        torch.testing.assert_close(merged[k], expect.float(), rtol=1e-6, atol=1e-7)
    # the sample count travels with the adapters
    up = [m.bytes for m in sent if m.tag == "adapters_up"]
    assert up == [state_dict_nbytes(local[0]) + SAMPLE_COUNT_BYTES] * 2
