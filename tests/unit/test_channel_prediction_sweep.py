"""scripts/channel_prediction_sweep.py and scripts/beamforming_loop.py: the tables they build
from finished runs (recovered share over seeds; precoder staleness from csi_events)."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import beamforming_loop
        import channel_prediction_sweep
        yield channel_prediction_sweep, beamforming_loop
    finally:
        sys.path.remove(str(SCRIPTS))


def _results(d: Path, thr: dict):
    d.mkdir(parents=True)
    gap = thr["ideal"] - thr["aged"]
    modes = {m: {"cell_dl_throughput_bps": t * 1e6, "nmse_csi_db": 0.0} for m, t in thr.items()}
    for m in ("ar", "lam"):
        modes[m]["recovered_share"] = (thr[m] - thr["aged"]) / gap
    (d / "results.json").write_text(json.dumps({"modes": modes}))


def test_sweep_reports_mean_spread_and_range_of_the_recovered_share(tmp_path, scripts):
    sweep, _ = scripts
    _results(tmp_path / "v60_s1", {"aged": 30, "ar": 32, "lam": 31, "ideal": 40})  # 20 %, 10 %
    _results(tmp_path / "v60_s2", {"aged": 20, "ar": 26, "lam": 20, "ideal": 40})  # 30 %, 0 %
    res = sweep.aggregate(tmp_path, ["60", "30"], ["1", "2"])
    assert list(res) == ["60"]  # 30 km/h has no finished run
    ar = res["60"]["ar"]["recovered_share"]
    assert ar["mean"] == pytest.approx(0.25) and ar["std"] == pytest.approx(0.0707107, rel=1e-5)
    assert (ar["min"], ar["max"], ar["n"]) == (pytest.approx(0.2), pytest.approx(0.3), 2)
    assert res["60"]["aged"]["thr_mbps"]["mean"] == pytest.approx(25.0)
    assert "+10.0, +30.0" in sweep.markdown(res)[2]


def test_beamforming_staleness_is_read_to_apply_time_and_srs_age(tmp_path, scripts):
    _, loop = scripts
    (tmp_path / "traces").mkdir()
    pd.DataFrame({"t_s": [0.0100, 0.0112, 0.0200, 0.0216],
                  "event": ["sounding", "precoders", "sounding", "precoders"],
                  "t_info_s": [0.0090, 0.0090, 0.0190, 0.0190]}).to_parquet(
        tmp_path / "traces" / "csi_events.parquet")
    st = loop.staleness(tmp_path)
    assert st["loop_s"] == pytest.approx(0.0014)  # (1.2 + 1.6) / 2 ms
    assert st["age_at_apply_s"] == pytest.approx(0.0024)  # (2.2 + 2.6) / 2 ms
