"""edgelam replay's trace-hop delays from an NR run's messages (edgelam_ns3.replay
.access_delays): medians of first-byte latency less the backhaul propagation, on a synthetic
messages table whose medians are known."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgelam_ns3 import config
from edgelam_ns3.replay import access_delays, path_delay_s


def test_path_delay_follows_the_backhaul_from_the_gnb():
    cfg = config.load("quickstart")  # gnb -0.5 ms- edge0 -10 ms- cloud
    assert path_delay_s(cfg, "edge0") == pytest.approx(0.0005)
    assert path_delay_s(cfg, "cloud") == pytest.approx(0.0105)
    assert path_delay_s(cfg, "nowhere") is None


def write_messages(run_dir, rows):
    (run_dir / "traces").mkdir(parents=True)
    cols = ("src", "dst", "t_send_s", "t_first_byte_s")
    pq.write_table(pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)}),
                   run_dir / "traces" / "messages.parquet")


def test_delays_are_medians_less_the_backhaul(tmp_path):
    cfg = config.load("quickstart")
    write_messages(tmp_path, [
        ("ue0", "edge0", 1.0, 1.009), ("ue1", "edge0", 2.0, 2.010), ("ue2", "edge0", 3.0, 3.0085),
        ("edge0", "ue0", 1.0, 1.0015), ("cloud", "ue1", 2.0, 2.0115),
        ("edge0", "ue2", 3.0, 3.0020),
        ("ue0", "ue1", 4.0, 4.5),        # UE to UE: not a radio hop and the backhaul
        ("edge0", "ue3", 5.0, -1.0),     # never delivered
        ("ue3", "edge0", 5.0, float("nan")),
    ])
    got = access_delays(tmp_path, cfg)
    # downlink: 1.0, 1.0, 1.5 ms after the backhaul -> 1.0 ms; uplink 8.5, 9.5, 8.0 -> 8.5
    assert got["delay_s"] == pytest.approx(0.0010)
    assert got["ul_access_delay_s"] == pytest.approx(0.0085 - 0.0010)


def test_no_messages_between_ues_and_the_backhaul_leaves_the_defaults(tmp_path):
    write_messages(tmp_path, [("ue0", "ue1", 1.0, 1.1)])
    assert access_delays(tmp_path, config.load("quickstart")) == {}
    assert access_delays(tmp_path / "none", config.load("quickstart")) == {}
