"""Run one scenario into a run directory: the run's lifecycle.

The parent (:func:`launch`) validates the config, writes ``config.yaml`` and runs the
simulation (:func:`edgelam_ns3.scenario.run_scenario`) in a child process (``python -m
edgelam_ns3.runner RUN_DIR``): ns-3's simulator is a process singleton, and a fatal ns-3 error
aborts the whole process, so the caller must not share it. The child streams progress and
writes traces incrementally; the parent tees the child's output to ``stdout.log``, then merges
the traces, draws the plots and writes ``summary.json`` and ``report.md`` — also when the child
failed, so nothing written is lost.

A run directory holds: ``config.yaml`` (resolved), ``summary.json``, ``traces/*.parquet``,
``loss.png``, ``report.md``, ``stdout.log``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import config as config_mod
from . import scenario
from . import traces as traces_mod

RESULT_FILE = ".child_result.json"


def default_run_dir(cfg: config_mod.ScenarioConfig) -> Path:
    """``runs/<name>-<UTC time>`` under the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path("runs") / f"{cfg.name}-{stamp}-{uuid.uuid4().hex[:4]}"


def launch(cfg: config_mod.ScenarioConfig, out_dir: str | Path | None = None,
           quiet: bool = False) -> dict:
    """Run ``cfg`` in a child process; return the summary (``summary["status"]`` is "ok" or
    "failed")."""
    out = Path(out_dir) if out_dir else default_run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(config_mod.to_yaml(cfg))
    (out / RESULT_FILE).unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(cfg.sim.torch_threads))
    env.setdefault("MKL_NUM_THREADS", str(cfg.sim.torch_threads))
    t0 = time.perf_counter()
    with (out / "stdout.log").open("w") as log:
        with subprocess.Popen([sys.executable, "-u", "-m", "edgelam_ns3.runner", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) as proc:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            rc = proc.wait()
    wall = time.perf_counter() - t0
    result_path = out / RESULT_FILE
    summary = json.loads(result_path.read_text()) if result_path.exists() else {}
    result_path.unlink(missing_ok=True)
    tables = traces_mod.merge(out / "traces") if (out / "traces").exists() else {}
    if rc != 0 or summary.get("status") != "ok":
        tail = (out / "stdout.log").read_text().strip().splitlines()[-5:]
        summary.update(status="failed", exit_code=rc,
                       error=summary.get("error") or (tail[-1] if tail else f"exit code {rc}"))
    summary["wall_time_s"] = summary.get("wall_time_s", wall)
    summary["launcher_wall_time_s"] = wall
    summary["run_dir"] = str(out)
    from . import report
    try:
        summary["plots"] = report.plots(out, tables)
    except Exception as exc:  # a plot must not lose the run's results
        summary["plots_error"] = f"{type(exc).__name__}: {exc}"
    (out / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2, default=str) + "\n")
    report.write_report(out, summary)
    return summary


def _json_safe(obj):
    """NaN and infinities as null: summary.json stays standard JSON."""
    import math

    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _child(out: Path) -> int:
    import yaml

    result = out / RESULT_FILE
    try:
        cfg = config_mod.from_dict(yaml.safe_load((out / "config.yaml").read_text()))
        summary = scenario.run_scenario(cfg, out)
        if summary["status"] == "incomplete":
            summary["status"] = "ok"  # ran to its time limit: a result, with the reason noted
            summary["incomplete"] = True
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        result.write_text(json.dumps({"status": "failed",
                                      "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result.write_text(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
