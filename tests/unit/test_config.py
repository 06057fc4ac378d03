"""Config schema: defaults, overrides, and one-line errors that name the field."""

import pytest

from edgelam_ns3 import config
from edgelam_ns3.config import ConfigError


def load(*overrides):
    return config.load("quickstart", list(overrides))


def test_quickstart_resolves_with_documented_defaults():
    cfg = load()
    assert cfg.radio.mode == "nr"  # the 6G radio is the default; 'ideal' is the baseline
    assert cfg.node_names() == ["ue0", "ue1", "ue2", "ue3", "gnb", "edge0", "cloud"]
    assert cfg.radio.bandwidth_hz == 100e6  # written 100.0e+6 in YAML
    assert config.load("quickstart", ["radio.ideal.rate_bps=1e8"]).radio.ideal.rate_bps == 1e8
    assert cfg.train.server == "edge0"


def test_set_overrides_nested_values_and_list_items():
    cfg = load("train.steps=7", "radio.ideal.rate_bps=2.5e7", "backhaul.links.0.delay_s=0.004",
               "train.non_iid=true")
    assert cfg.train.steps == 7
    assert cfg.radio.ideal.rate_bps == 25e6
    assert cfg.backhaul.links[0].delay_s == 0.004
    assert cfg.train.non_iid is True


@pytest.mark.parametrize("override,message", [
    ("radio.foo=1", "config: unknown key 'radio.foo'"),
    ("train.steps=many", "config: train.steps: Input should be a valid integer"),
    ("radio.ideal.rate_bps=-5", "config: radio.ideal.rate_bps: Input should be greater than 0"),
    ("backhaul.links.1.rate_bps=0", "config: backhaul.links[1].rate_bps: Input should be greater than 0"),
    ("backhaul.links.0.b=edge9", "config: backhaul.links[0].b: unknown node 'edge9'"),
    ("nodes.device_profile=abacus", "config: nodes.device_profile: unknown profile 'abacus'"),
    ("train.server=ue1", "config: train.server: 'ue1' is not an edge server or the cloud"),
    ("model.n_head=5", "config: model: n_embd: must be a multiple of n_head"),
    ("radio.mode=carrier-pigeon", "config: radio.mode: Input should be 'nr', 'ideal' or 'trace'"),
    ("radio.tdd_pattern=DDXU", "config: radio: tdd_pattern: only D, S and U slots"),
    ("radio.n_ues=2", "config: radio.n_ues: 2 UEs but nodes.n_devices is 4"),
])
def test_bad_config_fails_with_one_line_naming_the_field(override, message):
    with pytest.raises(ConfigError) as exc:
        load(override)
    text = str(exc.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_user_defined_profile_is_accepted_and_validated():
    cfg = load("profiles={tiny: {peak_flops: 1e9, efficiency: 0.5, mem_bw_bytes_per_s: 1e9}}",
               "nodes.device_profile=tiny")
    assert cfg.profiles["tiny"].peak_flops == 1e9
    with pytest.raises(ConfigError, match=r"profiles.tiny.efficiency"):
        load("profiles={tiny: {peak_flops: 1e9, efficiency: 1.5, mem_bw_bytes_per_s: 1e9}}")


def test_unknown_scenario_and_malformed_set_are_clear():
    with pytest.raises(ConfigError, match="not a built-in"):
        config.load("no-such-scenario")
    with pytest.raises(ConfigError, match="expected key=value"):
        load("train.steps")


def test_resolved_config_round_trips_through_yaml():
    import yaml

    cfg = load("train.steps=3")
    again = config.from_dict(yaml.safe_load(config.to_yaml(cfg)))
    assert again == cfg


def replay(csv_path) -> str:
    return f"backhaul.cross_traffic=[{{src: gnb, dst: edge0, mode: replay, csv: '{csv_path}'}}]"


def test_replay_csv_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="csv: no such file"):
        load(replay("/nonexistent.csv"))


@pytest.mark.parametrize("text,where", [
    ("time_s,bytes\n0.1,1500\n0.2,nan\n", ":3: column bytes: 'nan' is not a finite number >= 0"),
    ("time_s,bytes\n0.1,inf\n", ":2: column bytes: 'inf' is not a finite number >= 0"),
    ("time_s,bytes\nNaN,100\n", ":2: column time_s: 'NaN' is not a finite number >= 0"),
    ("time_s,bytes\n-1,100\n", ":2: column time_s: '-1' is not a finite number >= 0"),
    ("time_s,bytes\n0.1,-5\n", ":2: column bytes: '-5' is not a finite number >= 0"),
    ("time_s,bytes\n0.2,1\n0.1,1\n", ":3: column time_s: 0.1 is before the previous row's 0.2 (times must not decrease)"),
    ("time_s,bytes\n0.1,lots\n", ":2: column bytes: 'lots' is not a number"),
    ("time_s,bytes\n0.1\n", ":2: column bytes: None is not a number"),
    ("time_s,bytes\n", ": no rows after the header"),
    ("", ": empty file (expected a header time_s,bytes and rows)"),
    ("t,bytes\n0.1,5\n", ":1: no column time_s in the header (needs time_s,bytes; has t,bytes)"),
])
def test_replay_csv_is_checked_whole_before_the_run_naming_line_and_column(tmp_path, text, where):
    path = tmp_path / "ct.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(replay(path))
    assert str(exc.value) == f"config: backhaul.cross_traffic[0]: csv: {path}{where}"


def test_valid_replay_csv_is_read_in_order(tmp_path):
    path = tmp_path / "ct.csv"
    path.write_text("time_s,bytes,comment\n0,1500,a\n0.5,3000,b\n0.5,0,c\n")
    assert config.read_replay_csv(path) == ((0.0, 0.5, 0.5), (1500.0, 3000.0, 0.0))
    from edgelam_ns3.topology import network_spec

    spec = network_spec(load(replay(path))).cross_traffic[0]
    assert (spec.mode, spec.times_s, spec.bytes) == ("replay", (0.0, 0.5, 0.5), (1500.0, 3000.0, 0.0))


@pytest.mark.parametrize("overrides,message", [
    (["train.framework=split_learning", "train.dp.enabled=true"],
     "config: train.dp.enabled: train.framework split_learning has no differential privacy "
     "(train.dp is read by split_fed_lora only)"),
    (["train.framework=fed_lora", "train.dp.noise_multiplier=2"],
     "config: train.dp.noise_multiplier: train.framework fed_lora has no differential privacy"),
    (["train.framework=centralized", "train.dp.enabled=true"],
     "config: train.dp.enabled: train.framework centralized has no differential privacy"),
    (["train.framework=looped_tp", "train.dp.enabled=true"],
     "config: train.dp.enabled: train.framework looped_tp has no differential privacy"),
    (["train.framework=split_learning", "train.policy=all"],
     "config: train.policy: train.framework split_learning does not schedule devices "
     "(train.policy is read by split_fed_lora, fed_lora only)"),
    (["train.framework=looped_tp", "train.policy=random"],
     "config: train.policy: train.framework looped_tp does not schedule devices"),
    (["train.framework=centralized", "train.policy=round_robin"],
     "config: train.policy: train.framework centralized does not schedule devices"),
    (["train.framework=centralized", "train.k=3"],
     "config: train.k: train.framework centralized does not schedule devices"),
    (["train.framework=looped_tp", "model.device_layers=2"],
     "config: model.device_layers: train.framework looped_tp does not split the GPT-2 model"),
    (["train.framework=looped_tp", "model.n_layer=6"],
     "config: model.n_layer: train.framework looped_tp does not build the GPT-2 model"),
    (["train.framework=split_learning", "train.lora.r=4"],
     "config: train.lora.r: train.framework split_learning has no LoRA adapters"),
    (["train.framework=split_fed_lora", "train.local_steps=3"],
     "config: train.local_steps: train.framework split_fed_lora takes one step per round"),
    (["train.framework=fed_lora", "train.looped.d_ff=256"],
     "config: train.looped.d_ff: train.framework fed_lora has no looped transformer"),
    (["train.framework=none", "train.policy=all"],
     "config: train.policy: train.framework none does not schedule devices"),
    (["train.framework=none", "compute.execution=cost"],
     "config: compute.execution: train.framework none places no round-framework shards "
     "(compute.execution is read by split_learning, split_fed_lora, fed_lora, centralized, "
     "looped_tp only)"),
    (["train.framework=none", "sim.torch_device=auto"],
     "config: sim.torch_device: train.framework none places no round-framework shards"),
    (["train.framework=none", "model.vocab_size=512"],
     "config: model.vocab_size: train.framework none builds no training model"),
])
def test_option_the_framework_does_not_read_is_rejected_naming_the_field_and_its_readers(
        overrides, message):
    with pytest.raises(ConfigError) as exc:
        load(*overrides)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_switching_a_scenario_to_a_framework_lists_every_option_it_would_ignore():
    # split-finetune sets the scheduling of split_fed_lora (lyapunov, k, min_participation)
    with pytest.raises(ConfigError) as exc:
        config.load("split-finetune", ["train.framework=centralized"])
    assert str(exc.value) == (
        "config: train.policy: train.framework centralized does not schedule devices "
        "(train.policy is read by split_fed_lora, fed_lora only); also unused here: train.k, "
        "train.min_participation")
    cfg = config.load("split-finetune", ["train.framework=centralized", "train.policy=null",
                                         "train.k=2", "train.min_participation=0.3"])
    assert cfg.train.framework == "centralized"


@pytest.mark.parametrize("framework,policy", [
    ("split_learning", None), ("looped_tp", None), ("centralized", None), ("none", None),
    ("split_fed_lora", "all"), ("fed_lora", "all")])
def test_policy_is_null_unless_the_framework_schedules_devices(framework, policy):
    cfg = load(f"train.framework={framework}")
    assert cfg.train.policy == policy
    if framework in ("split_fed_lora", "fed_lora"):
        assert load(f"train.framework={framework}", "train.policy=lyapunov").train.policy == \
            "lyapunov"


def test_builtin_scenarios_set_only_options_their_framework_reads():
    for name in config.builtin_scenarios():
        config.load(name)  # raises ConfigError naming any unused option


@pytest.mark.parametrize("overrides,message", [
    (["radio.tdd_pattern=DDDDD"], "config: radio.tdd_pattern: 'DDDDD' has no uplink slot (U or "
     "S), but train.framework split_learning (devices send to the server) needs the uplink"),
    (["radio.tdd_pattern=UUU"], "config: radio.tdd_pattern: 'UUU' has no downlink slot"),
    (["train.framework=none", "traffic.full_buffer_ul=true", "radio.tdd_pattern=D"],
     "config: radio.tdd_pattern: 'D' has no uplink slot (U or S), but traffic.full_buffer_ul"),
])
def test_tdd_pattern_without_a_needed_direction_is_rejected_before_the_run(overrides, message):
    with pytest.raises(ConfigError) as exc:
        load(*overrides)
    assert str(exc.value).startswith(message)


def test_tdd_patterns_with_the_needed_directions_are_accepted():
    assert load("radio.tdd_pattern=DDDDS").radio.tdd_pattern == "DDDDS"  # S carries UL symbols
    # the full-buffer DL of a traffic-only run needs no uplink slot
    assert load("train.framework=none", "traffic.full_buffer_dl=true", "radio.tdd_pattern=D",
                "radio.csi.mode=ideal")  # SRS needs UL symbols
    assert load("radio.mode=ideal", "radio.tdd_pattern=D").radio.mode == "ideal"


def test_stall_limits_are_positive_or_null():
    assert load("sim.stall_stop_s=null").sim.stall_stop_s is None
    with pytest.raises(ConfigError, match="config: sim.stall_warn_s: Input should be greater than 0"):
        load("sim.stall_warn_s=0")
