"""Start-up of the simulation child (issue 14.1): it imports only what its scenario needs.

Each check runs the real child entry point (:func:`edgelam_ns3.runner._child`, what ``edgelam
run`` starts) in a fresh interpreter and lists which heavy libraries ended up in
``sys.modules``.
"""
import json

import yaml

from edgelam_ns3 import config

HEAVY = ("torch", "transformers", "peft", "accelerate", "scipy", "matplotlib", "sionna",
         "tensorflow", "pyarrow", "pandas")


def _child_modules(fresh_python, tmp_path, scenario: str,
                   overrides: list[str]) -> tuple[dict, list[str]]:
    """Run ``scenario`` through the runner's child in a new interpreter; :return: its result
    and the :data:`HEAVY` modules it imported."""
    cfg = config.load(scenario, overrides)
    (tmp_path / "config.yaml").write_text(config.to_yaml(cfg))
    code = ("import sys; from pathlib import Path; from edgelam_ns3 import runner; "
            f"runner._child(Path({str(tmp_path)!r})); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    last = fresh_python(code)
    result = json.loads((tmp_path / ".child_result.json").read_text())
    return result, yaml.safe_load(last)


def test_traffic_only_child_imports_no_torch_transformers_peft_or_pyarrow(fresh_python,
                                                                          tmp_path):
    # nor pyarrow and pandas: its traces are JSON parts that the launcher merges
    result, heavy = _child_modules(fresh_python, tmp_path, "radio-saturation",
                                   ["radio.mode=ideal", "traffic.duration_s=0.01"])
    assert result["status"] == "ok", result
    assert heavy == []
    assert list((tmp_path / "traces" / ".parts").glob("link_states-*.jsonl"))


def test_split_learning_child_imports_torch_and_transformers_but_not_peft(fresh_python,
                                                                          tmp_path):
    # peft (LoRA: fed_lora, split_fed_lora) and the plotting and radio libraries are not
    # this framework's; torch and transformers are (its GPT-2 shards).
    result, heavy = _child_modules(fresh_python, tmp_path, "quickstart",
                                   ["radio.mode=ideal", "train.steps=1", "model.n_layer=2",
                                    "model.n_embd=32", "model.n_head=2", "model.seq_len=16",
                                    "train.batch_size=2"])
    assert result["status"] == "ok", result
    assert "torch" in heavy and "transformers" in heavy
    assert not {"peft", "matplotlib", "sionna", "tensorflow"} & set(heavy), heavy


def test_launcher_preloads_the_post_run_modules_and_leaves_a_bad_import_to_its_caller(
        fresh_python):
    # edgelam run's parent imports what it needs after the child (traces, report: pyarrow,
    # pandas, matplotlib) while the child runs; a module that fails to import is not an error
    # there (the caller's own import raises it).
    code = ("import sys, threading; from edgelam_ns3 import runner; "
            "errors = []; threading.excepthook = errors.append; "
            "assert 'matplotlib' not in sys.modules; "
            "runner._preload(('edgelam_ns3.no_such_module',) + runner.POST_RUN_MODULES).join(); "
            "print(errors, all(m in sys.modules for m in runner.POST_RUN_MODULES), "
            "'matplotlib.pyplot' in sys.modules)")
    assert fresh_python(code) == "[] True True"
