"""The inference part of a run's report: request timeline, on-time ratio vs load, section."""

import pandas as pd

from edgelam_ns3 import report


def _tables():
    requests = pd.DataFrame({"id": [0, 1, 2], "ue": ["ue0", "ue1", "ue0"],
                             "t_arrival_s": [0.0, 0.1, 0.2], "prompt_tokens": [8, 8, 8],
                             "output_tokens": [2, 2, 2], "t_first_token_s": [0.3, 0.6, 0.5],
                             "t_last_token_s": [0.4, 0.9, 0.6], "ttft_s": [0.3, 0.5, 0.3],
                             "e2e_s": [0.4, 0.8, 0.4]})
    rows = [{"req": q, "service": s, "host": h, "t_queued_s": t, "t_start_s": t + 0.01,
             "t_end_s": t + 0.05} for q in (0, 1, 2)
            for s, h, t in (("embed", "edge0", 0.1 * q), ("blocks0", "edge1", 0.1 * q + 0.1))]
    return {"requests": requests, "services": pd.DataFrame(rows)}


def test_the_timeline_shows_the_request_of_median_latency(tmp_path):
    tables = _tables()
    assert report.median_request(tables) == 2  # e2e 0.4 (id 0), 0.4 (id 2), 0.8: middle is 2
    assert "request_timeline.png" in report.plots(tmp_path, tables)
    assert (tmp_path / "request_timeline.png").stat().st_size > 0
    assert "request_timeline.png" not in report.plots(tmp_path, {"requests": tables["requests"]})
    assert not (tmp_path / "request_timeline.png").exists()


def test_on_time_ratio_against_load_and_the_inference_section(tmp_path):
    runs = pd.DataFrame({"policy": ["ilp", "ilp", "cloud", "cloud"], "load": [0.5, 2, 0.5, 2],
                         "on_time_ratio": [1.0, 0.9, 1.0, 0.4], "ttft_p95_s": [.2, .4, .2, 3]})
    assert report.plot_on_time_vs_load(runs, tmp_path / "ot.png").stat().st_size > 0
    summary = {"scenario": "x", "status": "ok", "framework": "microservice_inference",
               "inference": {"policy": "ilp", "placement": {"blocks0": "edge1"}, "requests": 3,
                             "completed": 3, "rejected": 0, "on_time_ratio": 2 / 3,
                             "goodput_rps": 1.5, "slo": {"ttft_s": 2.0, "tpot_s": 0.1},
                             "ttft_s": {"p50": 0.3, "p95": 0.5, "p99": 0.5, "mean": 0.37},
                             "host_utilisation": {"edge1": 0.25}}}
    text = report.write_report(tmp_path, summary).read_text()
    assert "## Inference" in text and "## Training" not in text
    assert "blocks0 on edge1" in text and "on time 0.667" in text and "edge1 25.0%" in text
