"""Reports and plots: which figures a run gets, what each shows, units, the Files line, and
one-line errors for damaged run directories. Synthetic traces, except one short radio run."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from edgelam_ns3 import cli, report, sweep
from edgelam_ns3.report import eng, setting

NAN = float("nan")


def training_tables(n_rounds=5, eval_loss=True) -> dict[str, pd.DataFrame]:
    t = np.arange(n_rounds + 1) * 0.5
    metrics = pd.DataFrame({"step": range(n_rounds), "t_s": t[1:],
                            "loss": np.linspace(5, 3, n_rounds)})
    if eval_loss:
        metrics["eval_loss"] = metrics["loss"] - 0.2
    rounds = pd.DataFrame({"round": range(n_rounds), "t_start_s": t[:-1], "t_end_s": t[1:],
                           "latency_s": 0.5, "device_compute_s": 0.002, "uplink_s": 0.4,
                           "server_compute_s": 0.001, "downlink_s": 0.05})
    compute = pd.DataFrame({"device": ["ue0", "ue1", "edge0"] * n_rounds,
                            "job": ["device_embed", "device_embed", "server_forward"] * n_rounds,
                            "t_start_s": np.repeat(t[:-1], 3),
                            "t_end_s": np.repeat(t[:-1], 3) + 0.001})
    messages = pd.DataFrame({"src": ["ue0", "edge0"] * n_rounds,
                             "dst": ["edge0", "ue0"] * n_rounds,
                             "tag": ["act_up", "grad_down"] * n_rounds,
                             "t_send_s": np.repeat(t[:-1], 2) + [0.01, 0.3] * n_rounds,
                             "t_delivered_s": np.repeat(t[:-1], 2) + [0.2, 0.35] * n_rounds})
    return {"metrics": metrics, "rounds": rounds, "compute": compute, "messages": messages}


def radio_states(n_ues=3, taps=10, ul=False) -> pd.DataFrame:
    rows = []
    for k in range(taps):
        for u in range(n_ues):
            rows.append({"t_s": 0.01 * (k + 1), "kind": "ue", "src": "gnb", "dst": f"ue{u}",
                         "sinr_db": 10.0 + 5 * u, "mcs_dl": -1.0 if k == 0 else 10.0 + u,
                         "mcs_ul": 5.0 if ul else -1.0, "dl_throughput_bps": 1e7 * (u + 1),
                         "ul_throughput_bps": 2e6 if ul else 0.0})
        rows.append({"t_s": 0.01 * (k + 1), "kind": "link", "src": "gnb", "dst": "edge0",
                     "sinr_db": NAN, "mcs_dl": NAN, "mcs_ul": NAN, "dl_throughput_bps": NAN,
                     "ul_throughput_bps": NAN})
    return pd.DataFrame(rows)


def texts(fig) -> str:
    """Every text of a figure: titles, axis labels, tick labels, legend entries."""
    out = [t.get_text() for t in fig.findobj(plt.Text)]
    return "\n".join(out)


def test_engineering_units():
    assert eng(20e6, "Hz") == "20 MHz"
    assert eng(0.0042, "s") == "4.2 ms"
    assert eng(95.4e6, "bit/s") == "95.4 Mbit/s"
    assert eng(12_582_912, "B") == "12.6 MB"
    assert eng(3600.0, "s") == "3600 s" and eng(1e6, "m") == "1000 km"
    assert eng(-3.2, "dB") == "-3.2 dB" and eng(None, "s") == "n/a" and eng(NAN, "s") == "n/a"
    assert setting("radio.bandwidth_hz", 20e6) == "bandwidth 20 MHz"
    assert setting("train.policy", "lyapunov") == "policy lyapunov"


def test_training_run_gets_loss_rounds_timeline_and_latency_figures(tmp_path):
    made = report.plots(tmp_path, training_tables())
    assert made == ["loss.png", "rounds.png", "timeline.png", "latency.png"]
    assert all((tmp_path / p).stat().st_size > 5000 for p in made)


def test_loss_figure_labels_held_out_loss_only_where_measured():
    fig = report._plot_loss(training_tables())
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["training loss (mean over the round's batches)",
                      "held-out loss (after the round)"]
    assert fig.axes[0].get_xlabel() == "simulated time [s]"
    fig = report._plot_loss(training_tables(eval_loss=False))
    assert [line.get_label() for line in fig.axes[0].get_lines()] == \
        ["training loss (mean over the round's batches)"]
    plt.close("all")


def test_round_breakdown_is_stacked_bars_of_the_phases_in_ms():
    tables = training_tables(n_rounds=4)
    fig = report._plot_rounds(tables)
    ax = fig.axes[0]
    tops = {}
    for container, (col, label) in zip(ax.containers, report.PHASES):
        assert container.get_label() == label
        for bar in container:
            tops[bar.get_x()] = bar.get_y() + bar.get_height()
    # the stack of a round is the sum of its phases
    assert np.allclose(list(tops.values()), (0.002 + 0.4 + 0.001 + 0.05) * 1e3)
    assert ax.get_ylabel() == "time [ms]"
    plt.close("all")


def test_timeline_is_a_gantt_per_host_and_a_separate_message_panel_per_link():
    fig = report._plot_timeline(training_tables(n_rounds=6))
    top, bottom = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in top.get_yticklabels()] == ["edge0", "ue0", "ue1"]
    assert [t.get_text() for t in bottom.get_yticklabels()] == ["edge0→ue0", "ue0→edge0"]
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["device_embed",
                                                                    "server_forward"]
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == ["act_up", "grad_down"]
    assert "first 3 of 6 rounds" in top.get_title()
    assert top.get_xlim() == pytest.approx((0.0, 1.5))
    # 1 ms jobs over 1.5 s would be hairlines: drawn at least MIN_BAR_PX wide
    px_per_s = top.get_window_extent().width * report.DPI / fig.dpi / 1.5  # as saved
    widths = [np.ptp(path.vertices[:, 0]) for coll in top.collections
              for path in coll.get_paths()]
    assert len(widths) == 3 * 3  # 3 jobs in each of the 3 rounds shown
    assert min(widths) > 0.001 and min(widths) * px_per_s >= report.MIN_BAR_PX * 0.9
    plt.close("all")


def test_radio_figures_show_sinr_mcs_and_throughput_over_time_and_their_cdfs(tmp_path):
    made = report.plots(tmp_path, {"link_states": radio_states()})
    assert made == ["radio_time.png", "radio_cdf.png"]
    fig = report._plot_radio_time({"link_states": radio_states()})
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["DL wideband SINR [dB]", "MCS index (DL)", "MAC throughput [Mbit/s] (DL)"]
    sinr = fig.axes[0].get_lines()
    assert [line.get_label() for line in sinr] == ["ue0", "ue1", "ue2"]
    assert np.allclose(sinr[2].get_ydata(), 20.0)
    mcs = fig.axes[1].get_lines()[0].get_ydata()
    assert np.isnan(mcs[0]) and mcs[1] == 10.0  # MCS -1 (nothing sent) is not drawn as -1
    assert np.allclose(fig.axes[2].get_lines()[1].get_ydata(), 20.0)  # Mbit/s
    fig = report._plot_radio_cdf({"link_states": radio_states(ul=True)})
    assert "dashed: UL" in texts(fig) and fig.axes[1].get_xlabel().endswith("(DL solid, UL dashed)")
    pooled = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "all UEs (DL)"][0]
    assert pooled.get_ydata()[-1] == 1.0 and len(pooled.get_xdata()) == 30
    plt.close("all")


def test_report_of_a_traffic_only_radio_run_has_a_per_ue_table_and_no_loss(tmp_path):
    summary = {"scenario": "radio-saturation", "status": "ok", "framework": "none",
               "radio": "nr", "sim_time_s": 0.5, "slots_simulated": 1000,
               "ues": {"ue0": {"serving_cell": "gnb", "dl_mean_sinr_db": 20.04,
                               "dl_mean_mcs": 21.5, "dl_bler": 0.1, "dl_mac_bps": 8.84e7,
                               "dl_goodput_bps": 9.54e7, "ul_mean_sinr_db": None,
                               "ul_mac_bps": 0.0}},
               "cell": {"dl_goodput_bps": 9.54e7}, "loss_first": None}
    report.plots(tmp_path, {"link_states": radio_states(1)})
    summary["plots"] = ["radio_time.png", "radio_cdf.png"]
    text = report.write_report(tmp_path, summary).read_text()
    assert "loss" not in text.lower() and "None" not in text
    assert "| UE | cell | DL SINR | DL MCS | DL BLER | DL MAC | DL goodput | UL MAC |" in text
    assert "| ue0 | gnb | 20 dB | 21.5 | 0.1 | 88.4 Mbit/s | 95.4 Mbit/s | 0 bit/s |" in text
    assert "![radio_time.png](radio_time.png)" in text


def test_files_line_lists_what_the_run_directory_holds(tmp_path):
    (tmp_path / "traces").mkdir()
    pd.DataFrame({"t_s": [0.1, 0.2], "loss": [5.0, 4.0]}).to_parquet(
        tmp_path / "traces" / "metrics.parquet")
    (tmp_path / "config.yaml").write_text("name: x\n")
    (tmp_path / "loss.png").write_bytes(b"png")
    line = report.write_report(tmp_path, {"status": "ok"}).read_text().strip().splitlines()[-1]
    assert line == ("Files: `config.yaml`, `traces/metrics.parquet` (2 rows), `loss.png`.")


def test_report_of_a_damaged_run_directory_gives_one_line_errors(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "traces").mkdir(parents=True)
    (run / "summary.json").write_text('{"status": "ok", "scen')
    assert cli.main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err == (f"edgelam: {run}/summary.json: not valid JSON (line 1 column 18: "
                   "Unterminated string starting at)\n")
    (run / "summary.json").write_text(json.dumps({"status": "ok", "scenario": "x"}))
    tables = training_tables()
    for name, df in tables.items():
        df.to_parquet(run / "traces" / f"{name}.parquet")
    data = (run / "traces" / "messages.parquet").read_bytes()
    (run / "traces" / "messages.parquet").write_bytes(data[: len(data) // 2])  # truncated
    assert cli.main(["report", str(run)]) == 1
    out = capsys.readouterr()
    assert out.err.startswith("edgelam: warning: traces/messages.parquet: unreadable (")
    assert out.err.count("\n") == 1 and out.out == f"edgelam: report: {run}/report.md\n"
    text = (run / "report.md").read_text()
    assert "`traces/messages.parquet` (unreadable)" in text
    assert "![latency.png]" not in text and "![loss.png](loss.png)" in text
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"edgelam: {tmp_path / 'nowhere'}: no such directory\n"


def test_sweep_plot_says_which_loss_it_draws_and_labels_values_with_units(tmp_path):
    rows = []
    for i, (bw, with_eval) in enumerate([(20e6, True), (100e6, False)]):
        d = tmp_path / f"p{i}" / "traces"
        d.mkdir(parents=True)
        training_tables(eval_loss=with_eval)["metrics"].to_parquet(d / "metrics.parquet")
        rows.append({"index": i, "radio.bandwidth_hz": bw, "run_dir": str(d.parent),
                     "status": "ok"})
    fig = sweep.sweep_figure(rows, ["radio.bandwidth_hz"])
    ax = fig.axes[0]
    assert ax.get_ylabel() == "held-out loss / training loss [nat/token]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bandwidth 20 MHz",
                                                                   "bandwidth 100 MHz"]
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--"]
    fig = sweep.sweep_figure(rows[1:], ["radio.bandwidth_hz"])
    assert fig.axes[0].get_ylabel() == "training loss [nat/token]"
    plt.close("all")
    assert "| 20 MHz | ok |" in sweep.table(rows, ["radio.bandwidth_hz"])
