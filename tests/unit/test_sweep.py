"""Sweep specs, resume bookkeeping, aggregate and plots (issue 13.1-13.6), on a stand-in for
:func:`edgelam_ns3.runner.launch` that writes a summary without simulating: what is tested here
is which points run, what the table holds, and the statistics; real runs, signals and time
limits are in tests/integration/test_sweep_resume.py."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.ticker import EngFormatter

from edgelam_ns3 import cli, config, runner, sweep, sweep_cli, sweep_results
from edgelam_ns3.sweep_design import expand, load_spec, sample_random, spec_from_dict
from edgelam_ns3.sweep_engines import EngineSpec, jobqueue_cluster

BASE = {"radio.mode": "ideal", "model.n_layer": 2, "model.n_embd": 32, "model.n_head": 2}


def spec(design: dict, **extra):
    return spec_from_dict({"scenario": "quickstart", "set": BASE, "design": design, **extra})


class FakeLaunch:
    """Writes a run directory with a summary: loss_last = 1000 lr + seed; points whose lr is in
    ``fail`` fail."""

    def __init__(self, fail=()):
        self.calls, self.fail, self.plots, self.warm = [], set(fail), [], []

    def __call__(self, cfg, out_dir, quiet=False, force=False, plots=True, warm=False):
        self.plots.append(plots)
        self.warm.append(warm)
        out = runner.prepare_run_dir(out_dir, force)
        (out / "config.yaml").write_text(config.to_yaml(cfg))
        self.calls.append((cfg.train.lr, cfg.seed))
        failed = cfg.train.lr in self.fail
        s = {"status": "failed" if failed else "ok", "error": "boom" if failed else None,
             "loss_last": 1000 * cfg.train.lr + cfg.seed, "cell": {"dl_goodput_bps": 1e6 * cfg.seed},
             "provenance": {"seed": cfg.seed}, "plots": []}
        (out / "summary.json").write_text(json.dumps(s))
        return s


@pytest.fixture
def fake(monkeypatch):
    launch = FakeLaunch()
    monkeypatch.setattr(runner, "launch", launch)
    return launch


def test_grid_zip_random_and_seeds_cross_into_validated_points():
    s = spec({"grid": {"train.steps": [2, 3]},
              "zip": {"train.lr": [1e-3, 2e-3, 3e-3], "train.batch_size": [2, 4, 8]},
              "random": {"n": 2, "seed": 5, "params": {"model.seq_len": {"int": [8, 16]}}},
              "seeds": [3, 4]})
    points, merged = expand(s)
    assert len(points) == 2 * 3 * 2 * 2 and merged == 0
    assert s.keys() == ["train.steps", "train.lr", "train.batch_size", "model.seq_len", "seed"]
    assert {(p.values["train.lr"], p.values["train.batch_size"]) for p in points} == \
        {(1e-3, 2), (2e-3, 4), (3e-3, 8)}  # zipped, not crossed
    p = points[-1]
    assert (p.config.train.steps, p.config.train.batch_size, p.config.seed) == (3, 8, 4)
    assert p.config.radio.mode == "ideal" and p.config.model.seq_len == p.values["model.seq_len"]
    assert len({p.id for p in points}) == len(points)


def test_replicates_set_the_config_seed_and_identical_configs_run_once():
    points, _ = expand(spec({"n_seeds": 3}))
    assert [p.config.seed for p in points] == [1, 2, 3]
    # lr 3e-3 is the scenario's own value: the two grid points resolve to the same config
    points, merged = expand(spec({"grid": {"train.lr": [3e-3, 0.003]}}))
    assert len(points) == 1 and merged == 1


def test_random_samples_are_reproducible_from_their_seed_and_within_their_bounds():
    block = {"n": 200, "seed": 7, "params": {
        "train.lr": ("loguniform", [1e-4, 1e-2]), "radio.ue_distance_m": ("uniform", [10, 20]),
        "nodes.n_devices": ("int", [2, 4]), "radio.gnb_array": ("choice", [[4, 4], [8, 8]])}}
    a, b = sample_random(block), sample_random(block)
    assert a == b and a != sample_random({**block, "seed": 8})
    assert all(1e-4 <= x["train.lr"] <= 1e-2 and 10 <= x["radio.ue_distance_m"] <= 20 for x in a)
    assert {x["nodes.n_devices"] for x in a} == {2, 3, 4}  # both ends included
    assert {tuple(x["radio.gnb_array"]) for x in a} == {(4, 4), (8, 8)}
    # log-uniform: about half the draws below the geometric mean 1e-3
    assert 0.35 < sum(x["train.lr"] < 1e-3 for x in a) / len(a) < 0.65


def test_list_valued_keys_are_swept_and_stored_as_json_text(fake, tmp_path):
    rows = sweep.run_spec(spec({"grid": {"radio.gnb_array": [[4, 4], [8, 8]]}}), tmp_path / "s",
                          echo=lambda line: None)
    assert [r["radio.gnb_array"] for r in rows] == ["[4, 4]", "[8, 8]"]
    table = pd.read_parquet(tmp_path / "s" / "sweep.parquet")
    assert table["radio.gnb_array"].tolist() == ["[4, 4]", "[8, 8]"]
    assert [config.load(f"{r}/config.yaml").radio.gnb_array for r in table["run_dir"]] == \
        [[4, 4], [8, 8]]


@pytest.mark.parametrize("design, extra, message", [
    ({"grid": {"train.lr": [1e-3]}, "zipp": {}}, {}, "unknown key 'design.zipp'"),
    ({"zip": {"train.lr": [1e-3, 2e-3], "train.steps": [1]}}, {},
     "design.zip: lists of different lengths (train.lr: 2, train.steps: 1)"),
    ({"random": {"n": 2, "params": {"train.lr": {"gauss": [0, 1]}}}}, {},
     "design.random.params.train.lr: unknown distribution 'gauss'"),
    ({"random": {"n": 2, "params": {"train.lr": {"loguniform": [0, 1]}}}}, {},
     "design.random.params.train.lr.loguniform: [low, high] needs 0 < low <= high"),
    ({"grid": {"seed": [1, 2]}, "seeds": [1, 2]}, {}, "'seed' is swept by both grid and seeds"),
    ({"seeds": [1], "n_seeds": 2}, {}, "design.seeds and design.n_seeds: give one of them"),
    ({}, {"engine": {"workers": 0}}, "engine.workers: an integer >= 1"),
    ({}, {"engine": {"dask": "local", "jobqueue": "slurm"}}, "engine.jobqueue: give dask or"),
])
def test_a_bad_spec_is_one_line_naming_the_key(design, extra, message):
    with pytest.raises(config.ConfigError) as exc:
        spec(design, **extra)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_bad_point_is_named_before_any_point_runs(fake, tmp_path):
    with pytest.raises(config.ConfigError) as exc:
        sweep.run_spec(spec({"grid": {"train.lr": [1e-3, -1.0]}}), tmp_path / "s")
    assert str(exc.value).startswith("sweep point 2 (train.lr=-1): config: train.lr:")
    assert fake.calls == [] and not (tmp_path / "s").exists()


def test_rerun_skips_done_points_reruns_failed_ones_only_when_asked_and_never_duplicates(
        fake, tmp_path):
    s, out, quiet = spec({"grid": {"train.lr": [1e-3, 2e-3, 3e-3]}}), tmp_path / "s", print
    fake.fail = {2e-3}
    rows = sweep.run_spec(s, out, echo=quiet)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"] and len(fake.calls) == 3
    assert sweep.run_spec(s, out, echo=quiet) == rows and len(fake.calls) == 3  # nothing ran
    fake.fail = set()
    rows = sweep.run_spec(s, out, retry_failed=True, echo=quiet)
    assert fake.calls[3:] == [(2e-3, 1)] and [r["status"] for r in rows] == ["ok"] * 3
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 3 and table["point_id"].is_unique
    assert table["loss_last"].tolist() == [2.0, 3.0, 4.0]
    assert len((out / "sweep.log").read_text().splitlines()) == 4


def test_a_spec_with_more_seeds_extends_its_directory_and_another_sweep_is_refused(
        fake, tmp_path):
    out = tmp_path / "s"
    sweep.run_spec(spec({"grid": {"train.lr": [1e-3]}, "seeds": [1]}), out, echo=print)
    rows = sweep.run_spec(spec({"grid": {"train.lr": [1e-3]}, "seeds": [1, 2]}), out, echo=print)
    assert fake.calls == [(1e-3, 1), (1e-3, 2)] and [r["seed"] for r in rows] == [1, 2]
    with pytest.raises(runner.RunDirError, match=r"holds another sweep \(2 of its 2 points"):
        sweep.run_spec(spec({"grid": {"train.lr": [5e-3]}}), out)
    sweep.run_spec(spec({"grid": {"train.lr": [5e-3]}}), out, force=True, echo=print)
    assert pd.read_parquet(out / "sweep.parquet")["train.lr"].tolist() == [5e-3]


def test_aggregate_ci_is_the_student_t_interval_of_the_mean():
    rows = [{"point_id": str(i), "index": i, "x": x, "seed": i % 2 + 1, "run": i // 2 + 1,
             "status": "ok", "y": y}
            for i, (x, y) in enumerate([(1, 1.0), (1, 2.0), (1, 3.0), (1, 4.0), (2, 5.0),
                                        (2, 7.0), (3, 9.0)])]
    rows.append({"point_id": "f", "index": 9, "x": 2, "seed": 9, "run": 1, "status": "failed",
                 "y": 99.0})
    # seed and run are both replicates: the aggregate is over them
    agg = sweep_results.aggregate(pd.DataFrame(rows), ["x", "seed", "run"]).set_index("x")
    # n = 4: mean 2.5, s = sqrt(5/3), t(0.975, 3) = 3.182446 (tables)
    half = 3.182446 * math.sqrt(5 / 3) / 2
    assert agg.loc[1, "n"] == 4 and agg.loc[1, "mean"] == 2.5
    assert agg.loc[1, "ci_high"] == pytest.approx(2.5 + half, rel=1e-6)
    # n = 2 (the failed point left out): mean 6, s = sqrt(2), t(0.975, 1) = 12.706205
    assert agg.loc[2, "n"] == 2 and agg.loc[2, "mean"] == 6.0
    assert agg.loc[2, "ci_low"] == pytest.approx(6 - 12.706205 * math.sqrt(2) / math.sqrt(2))
    assert agg.loc[3, "n"] == 1 and math.isnan(agg.loc[3, "ci_low"])


def test_plot_draws_the_mean_with_confidence_bars_and_engineering_units(fake, tmp_path):
    out = tmp_path / "s"
    sweep.run_spec(spec({"grid": {"radio.bandwidth_hz": [20e6, 100e6]}, "n_seeds": 3}), out,
                   echo=print)
    agg = pd.read_csv(out / "aggregate.csv")
    good = agg[agg["figure"] == "cell.dl_goodput_bps"]
    assert good["n"].tolist() == [3, 3] and good["mean"].tolist() == [2e6, 2e6]
    fig = sweep_results.plot_figure(out, "radio.bandwidth_hz", "cell.dl_goodput_bps")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    (caps_or_lines,) = bars[0].lines[2]
    segs = caps_or_lines.get_segments()
    assert [s[1][1] - s[0][1] for s in segs] == pytest.approx(
        [2 * 4.302653 * 1e6 / math.sqrt(3)] * 2)  # t(0.975, 2) = 4.302653, s = 1e6
    assert isinstance(ax.xaxis.get_major_formatter(), EngFormatter)
    assert ax.xaxis.get_major_formatter().unit == "Hz"
    assert ax.yaxis.get_major_formatter().unit == "bit/s"
    plt.close(fig)
    assert cli.main(["sweep", "plot", str(out), "--x", "radio.bandwidth_hz", "--y",
                     "cell.dl_goodput_bps"]) == 0
    assert (out / "cell.dl_goodput_bps-vs-radio.bandwidth_hz.png").stat().st_size > 0
    assert cli.main(["sweep", "plot", str(out), "--x", "train.lr", "--y", "loss_last"]) == 2


def test_cli_runs_a_spec_file_and_status_counts_done_failed_pending(fake, tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(f"scenario: quickstart\nset: {json.dumps(BASE)}\n"
                    "design: {grid: {train.lr: [1.0e-3, 2.0e-3]}}\n")
    fake.fail = {2e-3}
    out = tmp_path / "s"
    assert cli.main(["sweep", str(path), "--out", str(out), "--quiet"]) == 1
    assert cli.main(["sweep", str(path), "--out", str(out), "--grid", "train.steps=7"]) == 2
    assert "holds another sweep" in capsys.readouterr().err
    capsys.readouterr()
    assert cli.main(["sweep", "status", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{out}: 2 points: 1 done, 1 failed, 0 pending\n  failed ")
    assert text.rstrip().endswith("{'train.lr': 0.002}: failed: boom")
    assert cli.main(["sweep", "status", str(tmp_path)]) == 2


@pytest.mark.parametrize("key,flag,seen", [("point_plots", "--no-plots", "plots"),
                                           ("warm_start", "--cold-start", "warm")])
def test_an_engine_switch_reaches_every_point_from_the_spec_or_the_command(fake, tmp_path, key,
                                                                            flag, seen):
    """Both default to true: points draw their figures and start warm."""
    calls = getattr(fake, seen)
    s = spec({"grid": {"train.lr": [1e-3, 2e-3]}}, engine={key: False})
    sweep.run_spec(s, tmp_path / "a", echo=lambda line: None)
    assert calls == [False, False]
    calls.clear()
    assert cli.main(["sweep", "quickstart", "--set", "train.steps=3", "--grid",
                     "train.lr=1e-3,2e-3", "--out", str(tmp_path / "b"), flag, "--quiet"]) == 0
    assert calls == [False, False]
    calls.clear()
    assert cli.main(["sweep", "quickstart", "--set", "train.steps=3", "--grid",
                     "train.lr=1e-3", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert calls == [True]
    with pytest.raises(ValueError, match=f"{key}: true or false"):
        spec({"grid": {"train.lr": [1e-3]}}, engine={key: "no"})


def test_engine_options_reach_the_slurm_job_script():
    engine = EngineSpec(jobqueue="slurm", jobqueue_options={"queue": "normal"})
    engine.check()
    assert engine.describe() == "slurm through dask-jobqueue, 1 jobs"
    cluster = jobqueue_cluster("slurm", {"queue": "normal", "walltime": "01:30:00"})
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p normal" in script and "#SBATCH -t 01:30:00" in script
    assert "export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1" in script
    with pytest.raises(ValueError, match="jobqueue_options: given without jobqueue"):
        EngineSpec(jobqueue_options={"queue": "x"}).check()
    # YAML 1.1 reads 02:00:00 as 7200: the command line keeps it text, a spec must quote it
    assert [sweep_cli._option_value(t) for t in ("02:00:00", "4", "8GB", '["a", "b"]')] == \
        ["02:00:00", 4, "8GB", ["a", "b"]]
    with pytest.raises(ValueError, match="jobqueue_options.walltime: quote it"):
        EngineSpec(jobqueue="pbs", jobqueue_options={"walltime": 7200}).check()


def test_the_spec_in_doc_sweeps_md_expands_into_valid_points(tmp_path):
    text = (Path(__file__).parents[2] / "doc" / "sweeps.md").read_text()
    block = re.search(r"```yaml\n(scenario: split-finetune.*?)```", text, re.S).group(1)
    (tmp_path / "my-sweep.yaml").write_text(block)
    s = load_spec(tmp_path / "my-sweep.yaml")
    points, merged = expand(s)
    assert len(points) == 2 * 2 * 2 * 6 * 3 and merged == 0
    assert (s.engine.workers, s.engine.point_timeout_s, s.out) == (2, 1800, "runs/my-sweep")
