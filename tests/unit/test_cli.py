"""The edgelam command: versions, scenarios, help, --set and --grid syntax, run directories,
bench arguments. Nothing here starts a simulation."""

import re
from pathlib import Path

import pytest

from edgelam_ns3 import cli, config, runner, sweep


def edgelam(capsys, *argv):
    """Run the CLI in this process; :return: exit code, stdout, stderr."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's --help and --version
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_names_ns3_torch_and_sionna(capsys):
    from importlib import metadata

    code, out, _ = edgelam(capsys, "--version")
    out = out.strip().splitlines()[-1]  # (after any note of a rebuild of the C++ on import)
    assert code == 0
    assert out.startswith("edgelam_ns3 0.")
    assert "ns-3 3.37" in out and f"torch {metadata.version('torch')}" in out
    assert re.search(r"Sionna 2\.\d+\.\d+", out)


def test_scenarios_have_one_line_descriptions(capsys):
    code, out, _ = edgelam(capsys, "scenarios")
    lines = out.strip().splitlines()
    assert code == 0 and [ln.split()[0] for ln in lines] == config.builtin_scenarios()
    by_name = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines}
    assert by_name["quickstart"].startswith("U-shaped split learning")
    assert by_name["radio-saturation"].startswith("Full-buffer UDP downlink")
    assert all(len(ln) <= 100 for ln in lines)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"],
                                  ["config"], ["bench", "--help"]])
def test_help_texts_have_no_rest_markup(capsys, argv):
    _, out, _ = edgelam(capsys, *argv)
    assert out and "``" not in out and not re.search(r":(mod|class|func|meth):`", out)


def test_config_listing_shows_list_and_profile_schemas(capsys):
    code, out, _ = edgelam(capsys, "config")
    keys = {ln.split()[0] for ln in out.splitlines() if ln.strip()}
    assert code == 0
    for key in ("backhaul.links[i].rate_bps", "backhaul.cross_traffic[i].mode",
                "backhaul.cross_traffic[i].csv", "profiles.<name>.peak_flops",
                "profiles.<name>.efficiency", "sim.stall_warn_s", "sim.stall_stop_s"):
        assert key in keys, key
    assert "PydanticUndefined" not in out
    assert "backhaul.links[0].rate_bps=1e9" in out  # how to address a list item


def test_set_accepts_the_list_index_form_that_errors_print():
    cfg = config.load("quickstart", ["backhaul.links[0].delay_s=0.004",
                                     "backhaul.links.1.rate_bps=5e8"])
    assert cfg.backhaul.links[0].delay_s == 0.004 and cfg.backhaul.links[1].rate_bps == 5e8
    with pytest.raises(config.ConfigError) as exc:
        config.load("quickstart", ["backhaul.links[0].b=edge9"])
    assert str(exc.value).startswith("config: backhaul.links[0].b: unknown node 'edge9'")
    with pytest.raises(config.ConfigError, match=r"no list item \[5\] \(the list has 2\)"):
        config.load("quickstart", ["backhaul.links[5].b=gnb"])
    with pytest.raises(config.ConfigError, match="malformed index"):
        config.load("quickstart", ["backhaul.links[0.b=gnb"])


def test_grid_values_may_be_lists():
    grid = sweep.parse_grid(["radio.gnb_array=[4,4],[8,8]", "train.policy=all,lyapunov",
                             "radio.bandwidth_hz=20e6,1e8"])
    assert grid == {"radio.gnb_array": [[4, 4], [8, 8]], "train.policy": ["all", "lyapunov"],
                    "radio.bandwidth_hz": [20e6, 100e6]}
    cfgs = sweep.points("quickstart", {"radio.gnb_array": [[4, 4]]}, [])
    assert cfgs[0][1].radio.gnb_array == [4, 4]
    with pytest.raises(config.ConfigError, match="unbalanced brackets"):
        sweep.parse_grid(["radio.gnb_array=[4,4"])


def test_a_directory_named_like_a_builtin_does_not_shadow_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()
    assert config.load("quickstart").name == "quickstart"
    (tmp_path / "mine").mkdir()
    with pytest.raises(config.ConfigError, match="scenario 'mine': not a built-in"):
        config.load("mine")


def test_empty_yaml_file_is_an_error(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("# only a comment\n")
    code, _, err = edgelam(capsys, "run", str(path), "--out", str(tmp_path / "never"))
    assert code == 2
    assert err == f"edgelam: config: {path}: empty (a scenario is a mapping of sections: name, " \
                  "nodes, radio, train, ...)\n"
    assert not (tmp_path / "never").exists()


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntrain: {steps: 3\n")
    with pytest.raises(config.ConfigError, match=r"bad.yaml: not valid YAML at line \d"):
        config.load(str(path))


# -- run directories (issue items 7 to 9) -----------------------------------------------------


def test_out_that_holds_a_run_is_refused_without_force(tmp_path, capsys):
    old = tmp_path / "old"
    (old / "traces").mkdir(parents=True)
    (old / "config.yaml").write_text("name: old\n")
    (old / "traces" / "messages.parquet").write_text("old rows")
    code, _, err = edgelam(capsys, "run", "quickstart", "--out", str(old))
    assert code == 2
    assert err == (f"edgelam: --out {old}: not empty (a previous run?); give --force to replace "
                   "it, or another --out\n")
    assert (old / "traces" / "messages.parquet").read_text() == "old rows"  # untouched


def test_force_empties_a_previous_run_but_nothing_else(tmp_path):
    old = tmp_path / "old"
    (old / "traces").mkdir(parents=True)
    (old / "summary.json").write_text("{}")
    (old / "traces" / "messages.parquet").write_text("old rows")
    assert runner.prepare_run_dir(old, force=True) == old
    assert list(old.iterdir()) == []  # no old trace is merged into the new run
    other = tmp_path / "home"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(runner.RunDirError, match="--force empties only a previous run"):
        runner.prepare_run_dir(other, force=True)
    assert (other / "thesis.tex").read_text() == "precious"


def test_out_naming_a_file_or_an_unusable_place_is_one_line(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = edgelam(capsys, "run", "quickstart", "--out", str(f))
    assert (code, err) == (2, f"edgelam: --out {f}: is a file, not a directory\n")
    code, _, err = edgelam(capsys, "run", "quickstart", "--out", str(f / "sub"))
    assert (code, err) == (2, f"edgelam: --out {f / 'sub'}: cannot write there (Not a "
                              "directory)\n")


@pytest.mark.parametrize("name,expected", [("../../etc", "etc"), ("a/b c", "a_b_c"),
                                           ("..", "run"), ("ok-name_1.2", "ok-name_1.2")])
def test_run_names_are_sanitised_into_one_path_component(name, expected):
    assert runner.safe_name(name) == expected
    cfg = config.load("quickstart", [f"name={name}"])
    d = runner.default_run_dir(cfg)
    assert d.parent == Path("runs") and d.name.startswith(expected + "-")


# -- bench arguments (item 3) ------------------------------------------------------------------


@pytest.mark.parametrize("argv,message", [
    (["bench", "bridge", "--n", "0"], "bench bridge: the number of callbacks (--n) must be >= 1, not 0"),
    (["bench", "radio", "--duration-s", "-1"],
     "bench radio: duration_s must be a finite number > 0 (--duration-s), not -1.0"),
    (["bench", "radio", "--duration-s", "nan"],
     "bench radio: duration_s must be a finite number > 0 (--duration-s), not nan"),
    (["bench", "bridge", "--set", "train.steps=3"], "bench bridge: --set is an option of bench "
     "cosim, replay"),
    (["bench", "replay", "--warm"], "bench replay: --warm is an option of bench cosim"),
    (["bench", "cosim", "--points", "3"], "bench cosim: --points is an option of bench sweep"),
])
def test_bench_arguments_out_of_range_fail_at_once_in_one_line(capsys, argv, message):
    code, out, err = edgelam(capsys, *argv)
    assert (code, out, err) == (2, "", f"edgelam: {message}\n")


# -- exit codes --------------------------------------------------------------------------------


@pytest.mark.parametrize("summary,code", [({"status": "ok"}, 0), ({"status": "failed"}, 1),
                                          ({"status": "incomplete"}, 3),
                                          ({"status": "interrupted", "signal": 2}, 130),
                                          ({"status": "interrupted", "signal": 15}, 143)])
def test_exit_code_of_each_status(summary, code):
    assert runner.exit_code(summary) == code
