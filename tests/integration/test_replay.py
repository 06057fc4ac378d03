"""edgelam replay and edgelam compare on a small NR run: the recorded full-carrier rates become
the replay's capacity trace as recorded, the replay runs the same framework over it (or another
policy with --set), its per-round latencies stay within a stated error of the NR run's (a
model: the channel does not react to the new decisions), and compare puts the runs side by
side."""

import math

import numpy as np
import pandas as pd
import pytest

from edgelam_ns3 import cli, config, runner
from edgelam_ns3.replay import TRACE_FILE, latency_error, replay, replay_config

TINY = ["model.n_layer=2", "model.n_embd=32", "model.n_head=2", "model.seq_len=16",
        "train.batch_size=2", "train.steps=4"]
# Runs start warm (forked from a server that imported torch once: the traces of a cold run,
# tests/integration/test_warm.py), to spare the suite the imports of each run.


@pytest.fixture(scope="module")
def nr_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("replay") / "nr"
    summary = runner.launch(config.load("quickstart", TINY), out, quiet=True, warm=True)
    assert summary["status"] == "ok"
    return out


@pytest.fixture(scope="module")
def replayed(nr_run):
    out = nr_run.parent / "replay"
    summary = replay(nr_run, out=out, quiet=True, warm=True)
    assert summary["status"] == "ok"
    return out


def test_capacity_trace_is_the_recorded_full_carrier_rate_one_period_earlier(nr_run, replayed):
    ls = pd.read_parquet(nr_run / "traces" / "link_states.parquet")
    ue0 = ls[(ls["kind"] == "ue") & (ls["dst"] == "ue0")].sort_values("t_s")
    trace = pd.read_csv(nr_run / "traces" / TRACE_FILE)
    t0 = trace[trace["ue"] == "ue0"]
    rec = ue0["dl_full_rate_bps"].ffill().bfill().to_numpy()
    np.testing.assert_allclose(t0["dl_bps"].to_numpy(), rec)
    np.testing.assert_allclose(t0["t_s"].to_numpy(), ue0["t_s"].to_numpy() - 0.05, atol=1e-9)
    assert (rec > 0).all()


def test_replay_runs_the_same_framework_over_the_trace(nr_run, replayed):
    cfg = config.load(str(replayed / "config.yaml"))
    assert cfg.radio.mode == "trace" and cfg.radio.trace.share == pytest.approx(0.25)
    assert cfg.train.framework == config.load(str(nr_run / "config.yaml")).train.framework
    a = pd.read_parquet(nr_run / "traces" / "rounds.parquet")
    b = pd.read_parquet(replayed / "traces" / "rounds.parquet")
    assert len(a) == len(b) == 4
    # same data and model: same losses; only the network timing differs
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)


def _same_timing(full, timed) -> None:
    """Every compute job (device, job, instants, FLOPs, bytes, input shapes) and every round's
    latency and bytes of a timing replay as in the full replay; losses NaN in it only."""
    pd.testing.assert_frame_equal(pd.read_parquet(timed / "traces" / "compute.parquet"),
                                  pd.read_parquet(full / "traces" / "compute.parquet"))
    a = pd.read_parquet(full / "traces" / "rounds.parquet")
    b = pd.read_parquet(timed / "traces" / "rounds.parquet")
    for col in ("latency_s", "uplink_s", "downlink_s", "bytes_up", "bytes_down", "scheduled",
                "shares"):
        np.testing.assert_array_equal(b[col], a[col])
    assert a["loss"].notna().all() and b["loss"].isna().all() and b["eval_loss"].isna().all()


@pytest.mark.parametrize("mode,execution", [("recorded", "recorded"), ("meta", "cost")])
def test_timing_replay_charges_every_job_and_round_as_the_full_replay_without_losses(
        nr_run, replayed, mode, execution):
    out = nr_run.parent / f"timing-{mode}"
    summary = replay(nr_run, out=out, quiet=True, warm=True, timing=mode)
    assert summary["status"] == "ok"
    assert summary["execution"].startswith(f"{execution}: timing only")
    assert "losses not computed" in summary["execution"] and summary["loss_last"] is None
    assert config.load(str(out / "config.yaml")).compute.execution == execution
    _same_timing(replayed, out)
    assert f"execution: {execution}" in (out / "report.md").read_text()


def test_recorded_timing_replay_imports_no_torch_and_builds_no_model(nr_run, tmp_path,
                                                                   fresh_python):
    cfg = replay_config(nr_run, timing=True)
    (tmp_path / "config.yaml").write_text(config.to_yaml(cfg))
    code = ("import sys; from pathlib import Path; from edgelam_ns3 import config, scenario; "
            f"out = Path({str(tmp_path)!r}); "
            "s = scenario.run_scenario(config.load(str(out / 'config.yaml')), out); "
            "assert s['status'] == 'ok', s; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    assert fresh_python(code) == "[]"


def test_recorded_timing_replay_of_other_shapes_fails_naming_the_job_and_shapes(nr_run,
                                                                                tmp_path):
    summary = replay(nr_run, ["train.batch_size=3"], out=tmp_path / "b3", quiet=True, warm=True,
                     timing=True)
    assert summary["status"] == "failed"
    assert "no job 'device_embed' with input shapes '3x16' (it holds 2x16)" in summary["error"]
    assert "\n" not in summary["error"]
    with pytest.raises(ValueError, match="compute.execution: recorded runs split_learning, "
                       "split_fed_lora, fed_lora, centralized, not train.framework looped_tp"):
        config.load("looped-tp", ["compute.execution=recorded", f"compute.record={nr_run}"])
    with pytest.raises(ValueError, match="compute.record: read only with compute.execution "
                       "recorded"):
        config.load("quickstart", [f"compute.record={nr_run}"])


def _nr_run_and_its_two_replays(base, cfg):
    """Run ``cfg`` (an NR run) into base/nr, replay it in full (base/full) and torch-free
    (base/timing), check that both replays end ok and time every job and round alike; :return:
    base and the timing replay's summary."""
    assert runner.launch(cfg, base / "nr", quiet=True, warm=True)["status"] == "ok"
    assert replay(base / "nr", out=base / "full", quiet=True, warm=True)["status"] == "ok"
    timed = replay(base / "nr", out=base / "timing", quiet=True, warm=True, timing="recorded")
    assert timed["status"] == "ok"
    _same_timing(base / "full", base / "timing")
    return base, timed


def test_recorded_timing_replay_of_split_fed_lora_equals_its_full_replay(tmp_path_factory):
    base, timed = _nr_run_and_its_two_replays(
        tmp_path_factory.mktemp("sfl"),
        config.load("split-finetune", TINY + ["model.base=random", "nodes.n_devices=4",
                                              "train.k=2"]))
    assert timed["policy"] == "lyapunov"
    # a counterfactual policy: charged as jobs counted on meta tensors, including server jobs
    # over device counts the record may not hold (the affine rule)
    other = ["train.policy=round_robin", "train.k=2"]
    for mode in ("recorded", "meta"):
        s = replay(base / "nr", other, out=base / mode, quiet=True, warm=True, timing=mode)
        assert s["status"] == "ok" and s["policy"] == "round_robin"
    pd.testing.assert_frame_equal(pd.read_parquet(base / "recorded/traces/compute.parquet"),
                                  pd.read_parquet(base / "meta/traces/compute.parquet"))
    # --same-schedule: the NR run's devices and shares, round by round, whatever the policy
    # would decide over the replay's rates
    s = replay(base / "nr", out=base / "same", quiet=True, warm=True, timing="recorded",
               same_schedule=True)
    assert s["status"] == "ok" and s["policy"] == "recorded"
    nr, same = (pd.read_parquet(base / d / "traces/rounds.parquet") for d in ("nr", "same"))
    for col in ("scheduled", "shares"):
        assert same[col].tolist() == nr[col].tolist()


def test_recorded_timing_replay_of_fed_lora_equals_its_full_replay(tmp_path_factory):
    base, timed = _nr_run_and_its_two_replays(
        tmp_path_factory.mktemp("fl"),
        config.load("split-finetune", TINY + ["model.base=random", "nodes.n_devices=3",
                                              "train.k=2", "train.framework=fed_lora",
                                              "train.local_steps=2"]))
    assert timed["framework"] == "fed_lora"
    bad = replay(base / "nr", ["train.local_steps=3"], out=base / "steps3", quiet=True, warm=True,
                 timing="recorded")
    assert bad["status"] == "failed" and "no device_local_train job over 3 batches" in bad["error"]


def test_recorded_timing_replay_of_centralized_equals_its_full_replay(tmp_path_factory):
    _, timed = _nr_run_and_its_two_replays(
        tmp_path_factory.mktemp("cen"),
        config.load("quickstart", TINY + ["train.framework=centralized", "nodes.n_devices=3"]))
    assert timed["framework"] == "centralized"


def test_replay_latency_error_of_the_nr_run_stays_within_a_factor_two(nr_run, replayed):
    err = latency_error(nr_run, replayed)
    assert err["rounds"] == 4
    assert all(math.isfinite(e) for e in err["latency"]["errors"])
    # a model, not an identity: each round within a factor two of the NR run's
    assert all(-0.5 < e < 1.0 for e in err["latency"]["errors"])


def test_replay_with_another_policy_and_bad_input(nr_run, tmp_path):
    cfg = replay_config(nr_run, ["train.framework=split_fed_lora", "train.policy=round_robin",
                                 "train.k=2"])
    assert cfg.train.policy == "round_robin" and cfg.radio.mode == "trace"
    with pytest.raises(ValueError, match="no config.yaml"):
        replay_config(tmp_path)
    assert cli.main(["replay", str(tmp_path)]) == 2


def test_compare_puts_runs_side_by_side(nr_run, replayed, tmp_path, capsys):
    assert cli.main(["compare", str(nr_run), str(replayed), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "compare.md").read_text()
    assert "| radio | nr | trace |" in text
    for fig in ("compare_loss.png", "compare_rounds.png", "compare_throughput_cdf.png"):
        assert (tmp_path / fig).stat().st_size > 0 and f"![{fig}]" in text
    assert cli.main(["compare", str(nr_run)]) == 2
