# SPDX-License-Identifier: GPL-2.0-only
"""The ns-3 TestSuites of ns3_scenarios/test/ (TestSuite::UNIT, TestCase::QUICK), run by ns-3's
own TestRunner inside the extension (``_core.run_ns3_test_suite``), one child process per suite:
ns-3's Simulator and random streams are process-wide, and a fatal ns-3 error must not take the
test session down. A failure reports the TestRunner's lines (condition, actual, limit, file:line,
message).
"""
import json
import os
import subprocess
import sys

import pytest

from edgelam_ns3 import _core

# suite -> what its reference values are
SUITES = {
    "edgelam-nr-mcs-table": "rows of TS 38.214 V17 Tables 5.1.3.1-1 to -4 as printed",
    "edgelam-nr-tbs": "TS 38.214 V17 5.1.3.2 TBS and TS 38.212 5.2.2 segmentation, by hand",
    "edgelam-nr-bler-model": "EESM and TBLER closed forms, a synthetic SINR-BLER table",
    "edgelam-nr-mac-stats": "BLER, mean SINR and MCS derived from the MAC counters",
    "edgelam-nr-channel": "TR 38.901 Table 7.4.1-1 UMa LOS path loss, k T B F noise, Friis",
    "edgelam-nr-precoding": "ZF/MRT/RZF and MMSE SINR closed forms by hand, SUS on a built case",
    "edgelam-nr-csi-report": "TS 38.214 CQI tables and Type I codebook (v_lm, sizes) as printed",
    "edgelam-nr-ul-power-control": "TS 38.213 7.1.1 PUSCH power and TPC Table 7.1.1-1 by hand",
    "edgelam-nr-harq-timing": "HARQ-ACK slots in DDDSU derived by hand",
}

_RUN = (
    "import json, sys\n"
    "from edgelam_ns3 import _core\n"
    "passed, report = _core.run_ns3_test_suite(sys.argv[1])\n"
    "print(json.dumps({'passed': passed, 'report': report}))\n"
)


def test_every_ns3_suite_is_linked_into_the_extension():
    assert sorted(_core.ns3_test_suites()) == sorted(SUITES)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_ns3_suite_passes(suite):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _RUN, suite], capture_output=True, text=True,
                       timeout=300, env=env)
    if r.returncode != 0:
        pytest.fail(f"ns-3 TestSuite {suite} did not finish (exit {r.returncode}):\n"
                    f"{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    result = json.loads(r.stdout.strip().splitlines()[-1])
    if not result["passed"]:
        pytest.fail(f"ns-3 TestSuite {suite} ({SUITES[suite]}) failed:\n{result['report']}")


def test_an_unknown_suite_is_named_in_the_error():
    with pytest.raises(ValueError, match="no ns-3 test suite named 'edgelam-nope'"):
        _core.run_ns3_test_suite("edgelam-nope")
