"""Sionna 2.x's link-abstraction tables, read at run time from the installed package.

The NR BLER model (``ns3::NrBlerModel``, bound as :class:`edgelam_ns3._core.NrBlerModel`) holds
no tables of its own. This module finds them in the installed ``sionna-no-rt`` (or ``sionna``)
2.x package, parses them and hands them to the C++ model:

- ``sionna/sys/bler_tables/{PDSCH,PUSCH}_table{n}.json``: AWGN code-block error rate of the 5G NR
  LDPC chain per channel (``category`` 1 PDSCH, 0 PUSCH), TS 38.214 MCS table index, MCS index,
  code-block size (24, 100, 500, 1000, 2000 bits) and SINR (15 or 20 points from -5 dB to 20 or
  25 dB), simulated with Sionna (NVIDIA, Apache-2.0);
- ``sionna/sys/esm_params/eesm_beta_table.json``: EESM beta per MCS for MCS tables 1 and 2.

:func:`make_bler_model` uses the PDSCH tables for both directions. PUSCH without transform
precoding (CP-OFDM) uses the PDSCH MCS tables (TS 38.214 §6.1.4.1) and the same LDPC chain.
Sionna's ``PUSCH_table{1,2}.json`` follow the transform-precoding MCS tables 6.1.4.1-1/-2
instead: their waterfalls sit where those tables' spectral efficiencies put them (PUSCH table 2
MCS 27, 64-QAM R 772/1024, at ~16 dB, where 256-QAM MCS 27 of Table 5.1.3.1-2 needs ~25 dB).
Those tables are not implemented here, so the PUSCH files are skipped. Sionna itself decodes
PUSCH MCS indices without transform precoding by default.

Sionna itself is not imported (it would load torch): the files are located through
:func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _load_core

__all__ = [
    "BlerCurve",
    "sionna_sys_dir",
    "load_bler_tables",
    "load_eesm_betas",
    "make_bler_model",
]

CHANNELS = {0: "pusch", 1: "pdsch"}  # Sionna's mcs_category


@dataclass(frozen=True)
class BlerCurve:
    """The SINR-vs-BLER curves of one MCS.

    :param channel: 1 PDSCH, 0 PUSCH (Sionna's ``mcs_category``)
    :param table: TS 38.214 MCS table index (1 qam64, 2 qam256, 3 qam64LowSE, 4 qam1024)
    :param mcs: MCS index
    :param snr_db: SINR points [dB], shape [n_snr], increasing
    :param cb_sizes: code-block sizes [bits], shape [n_cbs], increasing
    :param bler: code-block error rate, shape [n_cbs, n_snr]
    :param source: the JSON file it was read from
    """

    channel: int
    table: int
    mcs: int
    snr_db: np.ndarray
    cb_sizes: np.ndarray
    bler: np.ndarray
    source: str


def sionna_sys_dir() -> Path:
    """:return: the folder of the installed ``sionna.sys`` package (Sionna 2.x)."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "Sionna 2.x is not installed; the NR BLER model reads its tables from "
            "sionna/sys/bler_tables. Install `sionna-no-rt==2.2.0` together with "
            "`torch==2.13.0` in one pip command (see scripts/setup.sh)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "sys"
    if not (path / "bler_tables").is_dir():
        raise FileNotFoundError(
            f"{path / 'bler_tables'} does not exist: Sionna 2.x ships its BLER tables there "
            "(Sionna 1.x with TensorFlow is not supported)"
        )
    return path


@functools.lru_cache(maxsize=4)
def _parse_bler_tables(folder: str) -> tuple[BlerCurve, ...]:
    curves = []
    for f in sorted(Path(folder).glob("*.json")):
        with open(f, encoding="utf-8") as fh:
            data = json.load(fh)
        for cat, by_cat in data["category"].items():
            for table, by_table in by_cat["index"].items():
                for mcs, entry in by_table["MCS"].items():
                    sizes = sorted(entry["CBS"], key=int)
                    bler = np.array([entry["CBS"][c]["BLER"] for c in sizes], dtype=float)
                    snr = np.array(entry["SNR_db"], dtype=float)
                    cbs = np.array([int(c) for c in sizes], dtype=float)
                    for a in (bler, snr, cbs):  # cached and shared: read-only
                        a.setflags(write=False)
                    curves.append(
                        BlerCurve(int(cat), int(table), int(mcs), snr, cbs, bler, f.name)
                    )
    if not curves:
        raise FileNotFoundError(f"no BLER tables (*.json) in {folder}")
    return tuple(curves)


def load_bler_tables(folder: str | Path | None = None) -> tuple[BlerCurve, ...]:
    """Read all SINR-vs-BLER tables.

    :param folder: a folder of Sionna-format JSON tables; default: the installed Sionna's
        ``sys/bler_tables``
    :return: one :class:`BlerCurve` per (channel, MCS table, MCS), arrays read-only
    """
    folder = Path(folder) if folder is not None else sionna_sys_dir() / "bler_tables"
    return _parse_bler_tables(str(folder.resolve()))


def load_eesm_betas(path: str | Path | None = None) -> dict[int, np.ndarray]:
    """Read the EESM betas.

    :param path: a Sionna-format beta JSON file; default: the installed Sionna's
        ``sys/esm_params/eesm_beta_table.json``
    :return: MCS table index -> beta per MCS index [-], shape [n_mcs]
    """
    if path is None:
        path = sionna_sys_dir() / "esm_params" / "eesm_beta_table.json"
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return {int(t): np.array(b, dtype=float) for t, b in data["index"].items()}


def feed_bler_curves(add_curve, set_eesm_betas, tables=None, betas=None) -> None:
    """Hand Sionna's BLER curves and EESM betas to a C++ consumer: ``add_curve(channel, table,
    mcs, snr_db, cb_sizes, bler)`` and ``set_eesm_betas(table, betas)``. The PDSCH curves serve
    PDSCH (channel 1) and CP-OFDM PUSCH (channel 0): see the module doc."""
    for c in load_bler_tables(tables):
        if c.channel == 1:
            for channel in (1, 0):
                add_curve(channel, c.table, c.mcs, c.snr_db, c.cb_sizes, c.bler)
    for table, b in load_eesm_betas(betas).items():
        set_eesm_betas(table, b)


def make_bler_model(
    target_bler: float = 0.1,
    min_bler: float = 1e-9,
    tables: str | Path | None = None,
    betas: str | Path | None = None,
):
    """Build the C++ NR BLER model from Sionna's tables.

    :param target_bler: default TBLER target of link adaptation [-]
    :param min_bler: floor of the curves' extension past their last point [-]
    :param tables: folder of BLER tables (default: the installed Sionna's)
    :param betas: EESM beta file (default: the installed Sionna's)
    :return: a finalized :class:`edgelam_ns3._core.NrBlerModel` with the PDSCH curves for
        channel 1 (PDSCH) and 0 (PUSCH without transform precoding)
    """
    core = _load_core()
    model = core.NrBlerModel(target_bler=target_bler, min_bler=min_bler)
    feed_bler_curves(model.add_curve, model.set_eesm_betas, tables, betas)
    model.finalize()
    return model
