"""train.policy recorded (edgelam replay --same-schedule): each round's devices and shares from a
run's rounds.parquet, checked when the config is read."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgelam_ns3 import config
from edgelam_ns3.policies import DeviceState, make_policy

SFL = ["train.framework=split_fed_lora", "model.base=random", "nodes.n_devices=4"]


def write_rounds(run_dir, scheduled, shares):
    (run_dir / "traces").mkdir(parents=True)
    pq.write_table(pa.table({"round": list(range(len(scheduled))), "scheduled": scheduled,
                             "shares": shares}), run_dir / "traces" / "rounds.parquet")


def test_recorded_policy_gives_each_rounds_schedule(tmp_path):
    # the logged shares have 4 decimals: 0.1235 + 0.8766 > 1 is scaled back to 1
    write_rounds(tmp_path, ["0", "1,3", "2,0"], ["1.0000", "0.5000,0.5000", "0.1235,0.8766"])
    p = make_policy("recorded", 4, 2, 1, record=tmp_path)
    state = DeviceState([f"ue{i}" for i in range(4)], None, None, None)
    got = [p.select(r, state) for r in range(3)]
    assert [d.scheduled for d in got] == [[0], [1, 3], [2, 0]]
    assert got[1].shares == [0.5, 0.5]
    assert sum(got[2].shares) == pytest.approx(1.0) and got[2].shares[0] == pytest.approx(
        0.1235 / 1.0001)
    with pytest.raises(ValueError, match="the record has no round 3"):
        p.select(3, state)


def test_recorded_policy_is_checked_when_the_config_is_read(tmp_path):
    write_rounds(tmp_path, ["0", "1"], ["1.0000", "1.0000"])
    ok = config.load("split-finetune", [*SFL, "train.steps=2", "train.policy=recorded",
                                        f"train.policy_record={tmp_path}"])
    assert ok.train.policy == "recorded"
    with pytest.raises(config.ConfigError, match="records 2 rounds, train.steps is 3"):
        config.load("split-finetune", [*SFL, "train.steps=3", "train.policy=recorded",
                                       f"train.policy_record={tmp_path}"])
    with pytest.raises(config.ConfigError, match="given exactly when train.policy is recorded"):
        config.load("split-finetune", [*SFL, "train.policy=recorded"])
    with pytest.raises(config.ConfigError, match="does not exist"):
        config.load("split-finetune", [*SFL, "train.policy=recorded",
                                       f"train.policy_record={tmp_path / 'nope'}"])
