"""compute.accounting: a run charged from cached counts is the run counted job by job."""

import pandas as pd

from edgelam_ns3 import config, runner

SMALL = ["train.batch_size=4", "model.seq_len=32", "model.n_embd=64", "model.n_layer=2",
         "radio.mode=ideal", "train.policy=random",
         "train.min_participation=0", "train.steps=5"]


def _run(tmp_path, accounting):
    # each run in its own process: a second ns-3 simulation in one process draws other numbers
    cfg = config.load("split-finetune", SMALL + [f"compute.accounting={accounting}"])
    summary = runner.launch(cfg, tmp_path / accounting, quiet=True, warm=True)
    assert summary["status"] == "ok"
    return summary, pd.read_parquet(tmp_path / accounting / "traces" / "compute.parquet")


def test_cached_accounting_charges_every_job_as_exact_counting_over_a_multi_round_run(tmp_path):
    cached, jobs_cached = _run(tmp_path, "cached")
    exact, jobs_exact = _run(tmp_path, "exact")
    # the same jobs, counts and simulated instants, row by row
    pd.testing.assert_frame_equal(jobs_cached, jobs_exact)
    assert cached["sim_time_s"] == exact["sim_time_s"]
    assert cached["loss_last"] == exact["loss_last"]
    # not a comparison that holds by construction: jobs were charged from the cache, and the
    # optimizer steps' counts change after their first call (Adam's state)
    assert cached["accounting"]["reused"] > 0 and "accounting" not in exact
    first = jobs_exact.groupby("job")["bytes_moved"].nunique()
    assert first["device_update"] > 1
