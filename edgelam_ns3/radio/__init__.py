"""The 6G radio from Python.

- :mod:`~edgelam_ns3.radio.phy`: the NR PHY abstraction of the C++ models (MCS tables, TBS,
  PRBs per bandwidth, BLER model, EESM), re-exported here;
- :mod:`~edgelam_ns3.radio.phy_tables`: Sionna 2.x's BLER tables and EESM betas;
- :mod:`~edgelam_ns3.radio.control`: what the training frameworks may ask of the radio (link
  quality, radio shares);
- :mod:`~edgelam_ns3.radio.summary`: a run's per-UE and per-cell radio and traffic figures.
"""

from .phy import (BlerCurve, Mcs, eesm, load_bler_tables, load_eesm_betas, make_bler_model,
                  max_spectral_efficiency, mcs, num_mcs, num_prb, num_prb_table, scs_hz, tbs,
                  tbs_info)

__all__ = ["Mcs", "mcs", "num_mcs", "max_spectral_efficiency", "tbs", "tbs_info", "num_prb",
           "num_prb_table", "scs_hz", "eesm", "BlerCurve", "load_bler_tables", "load_eesm_betas",
           "make_bler_model"]
