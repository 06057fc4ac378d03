"""``edgelam dataset csi``: draw a CSI data set (:mod:`edgelam_ns3.datasets.csi`) into an npz
or a Parquet file."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

__all__ = ["add_dataset_parser"]


def add_dataset_parser(sub) -> None:
    """Register ``dataset`` (with its ``csi`` kind) on the CLI's subparsers."""
    from .csi import PRESETS

    d = sub.add_parser("dataset", help="draw a data set into a file (csi: TR 38.901 channel "
                       "time series per UE)")
    kinds = d.add_subparsers(dest="kind", required=True)
    c = kinds.add_parser("csi", help="channel series per UE from Sionna's or ns-3's TR 38.901 "
                         "channel, normalised, with metadata, into an .npz or .parquet")
    c.add_argument("--preset", default="llm4cp", choices=sorted(PRESETS),
                   help="starting config (default llm4cp: UMa NLOS 2.4 GHz, 32 ports, 48 "
                   "subbands, 0.5 ms, 10-100 km/h)")
    c.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a config field, value read as YAML, e.g. --set source=ns3 "
                   "--set n_drops=20 --set speeds_kmh=[30,60]")
    c.add_argument("--out", required=True, help="output path: .npz, or .parquet (a row per "
                   "drop, UE and step; edgelam_ns3.datasets.csi.save_parquet)")
    c.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    c.set_defaults(fn=_cmd_csi)


def _overrides(items: list[str] | None) -> dict:
    import yaml

    from .csi import CsiConfig

    names = {f.name for f in dataclasses.fields(CsiConfig)}
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{sorted(names)}")
        out[key] = yaml.safe_load(value)
    return out


def _cmd_csi(args: argparse.Namespace) -> int:
    from . import csi

    out = Path(args.out)
    if out.suffix not in (".npz", ".parquet"):
        out = out.with_suffix(out.suffix + ".npz")
    try:
        cfg = csi.preset(args.preset, **_overrides(args.set))
    except (ValueError, TypeError) as e:
        print(f"edgelam dataset csi: {e}", file=sys.stderr)
        return 2
    if out.exists() and not args.force:
        print(f"edgelam dataset csi: {out} exists (use --force)", file=sys.stderr)
        return 2
    ds = csi.generate(cfg)
    csi.save(ds, out)
    print(f"{out}: h {list(ds.h.shape)} [drop, ue, step, rx, tx, subband], source {cfg.source}, "
          f"{cfg.scenario} {cfg.condition} {cfg.carrier_hz / 1e9:g} GHz, seed {cfg.seed}")
    return 0
