"""Scenario configuration: a typed schema, YAML loading, ``--set`` overrides and validation.

Every field has help text with its unit; :func:`describe` turns it into CLI help. A bad config
fails here, before any simulation starts, with one line naming the field
(:class:`ConfigError`).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import frameworks
from .compute import BUILTIN_PROFILES
from .inference.config import InferenceConfig
from .frameworks.channel_prediction_config import BeamformingLoopConfig, ChannelPredictionConfig

SCENARIO_DIR = Path(__file__).parent / "scenarios"

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
NonNegInt = Annotated[int, Field(ge=0)]


class ConfigError(ValueError):
    """A config value breaks the schema; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProfileConfig(_Strict):
    """A user-defined compute profile (see :mod:`edgelam_ns3.compute`)."""

    peak_flops: PositiveFloat = Field(description="peak FLOP/s at the model's dtype")
    efficiency: Annotated[float, Field(gt=0, le=1)] = Field(
        description="sustained fraction of peak, (0, 1]")
    mem_bw_bytes_per_s: PositiveFloat = Field(description="memory bandwidth, B/s")
    power_w: PositiveFloat | None = Field(None, description="power draw while busy, W")
    concurrency: Annotated[int, Field(ge=1)] = Field(1, description="jobs served at once")
    memory_bytes: PositiveFloat | None = Field(
        None, description="memory for weights and KV caches, bytes (microservice_inference)")


class NodesConfig(_Strict):
    """Who computes: devices (UEs) behind a gNB, edge servers, a cloud node."""

    n_devices: Annotated[int, Field(ge=1, le=1024)] = Field(
        4, description="number of devices (UEs), named ue0, ue1, ...")
    device_profile: str = Field("smartphone_soc", description="compute profile of the devices")
    n_edge: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="number of edge servers, named edge0, edge1, ...")
    edge_profile: str = Field("edge_gpu_server", description="compute profile of edge servers")
    cloud: bool = Field(True, description="include a cloud node named 'cloud'")
    cloud_profile: str = Field("cloud_gpu", description="compute profile of the cloud node")


class IdealRadioConfig(_Strict):
    """The 'ideal' radio hop: a point-to-point link per UE to the gNB."""

    rate_bps: PositiveFloat = Field(200e6, description="line rate of each UE's link, bit/s")
    per_ue_rate_bps: list[PositiveFloat] | None = Field(
        None, description="line rate per UE, bit/s (overrides rate_bps; one per device)")
    bandwidth_hz: PositiveFloat | None = Field(
        None, description="if set, a UE's full-band rate is bandwidth_hz x its spectral "
        "efficiency (overrides rate_bps and per_ue_rate_bps), Hz")
    spectral_efficiency_bps_hz: list[PositiveFloat] | None = Field(
        None, description="per-UE spectral efficiency with bandwidth_hz, bit/s/Hz (one per "
        "device; default 4.0 for all)")
    delay_s: NonNegFloat = Field(0.001, description="one-way delay of the radio hop, s")
    queue_packets: Annotated[int, Field(ge=1)] = Field(
        1000, description="drop-tail queue per direction, packets")

    def full_band_rates(self, n_devices: int) -> list[float]:
        """Each UE's rate when it has the whole band, bit/s. Frameworks that allocate radio
        shares give UE i the rate share_i x this (OFDMA bandwidth split)."""
        if self.bandwidth_hz is not None:
            se = self.spectral_efficiency_bps_hz or [4.0] * n_devices
            return [self.bandwidth_hz * x for x in se]
        return list(self.per_ue_rate_bps or [self.rate_bps] * n_devices)


class TraceSourceConfig(_Strict):
    """One capacity trace file (CSV or Parquet) of radio.mode trace: one UE, or several UEs
    told apart by a UE column. Columns are mapped by name (``columns``) with units (``units``);
    ``format`` gives both defaults."""

    path: str = Field(description="CSV (.csv) or Parquet (.parquet) file")
    format: Literal["edgelam", "android_kpi"] = Field(
        "edgelam", description="'edgelam': t_s, dl_bps, ul_bps[, delay_s, loss] (s, bit/s, "
        "s, probability; what edgelam replay writes); 'android_kpi': drive-test logs of "
        "Android KPI loggers (G-NetTrack style: Timestamp as %Y.%m.%d_%H.%M.%S, DL_bitrate "
        "and UL_bitrate in kbit/s)")
    columns: dict[Literal["time", "dl", "ul", "delay", "loss", "ue"], str] = Field(
        default_factory=dict, description="column name per quantity (time, dl, ul, delay, "
        "loss, ue), overriding the format's")
    units: dict[Literal["time", "dl", "ul", "delay"], str] = Field(
        default_factory=dict, description="unit per quantity, overriding the format's: time "
        "s|ms|us or a strptime format (e.g. %Y.%m.%d_%H.%M.%S); dl, ul bit/s|kbit/s|Mbit/s|"
        "Gbit/s|bps|kbps|Mbps|Gbps|B/s|kB/s|MB/s; delay s|ms|us")
    ues: list[str] | None = Field(
        None, description="several UEs per file: the values of the ue column to take, one "
        "per device in device order (None: the whole file is one UE)")


class TraceRadioConfig(_Strict):
    """The 'trace' radio hop: a point-to-point link per UE to the gNB whose rate per direction
    (and optionally one-way delay and loss) follows a measured or recorded time series
    (``ns3::TraceRateLink``). A scheduling policy's share s serves the UE at s x the trace."""

    sources: list[TraceSourceConfig] = Field(
        default_factory=list, description="trace files, walked in order: each gives the next "
        "device(s) their series (one per device in all)")
    interpolation: Literal["hold", "linear"] = Field(
        "hold", description="'hold': a sample holds until the next; 'linear': linear between "
        "samples, served as steps of resolution_s with the same mean")
    resolution_s: PositiveFloat = Field(
        0.01, description="step of the linear interpolation, s")
    loop: bool = Field(
        False, description="restart each series after its end (period: its span plus its "
        "last interval); otherwise the last sample holds")
    offset_s: list[NonNegFloat] | None = Field(
        None, description="per-device time offset into its series, s (device i starts at "
        "offset_s[i]; default 0)")
    max_gap_s: PositiveFloat = Field(
        10.0, description="longest interval between a UE's consecutive samples accepted, s")
    delay_s: NonNegFloat = Field(
        0.001, description="one-way delay of the radio hop, added to the series' delay, s")
    ul_access_delay_s: NonNegFloat = Field(
        0.0, description="wait of an uplink packet that finds the UE's uplink idle, as an NR "
        "UE waits for its scheduling request and grant before a burst; the packets queued "
        "behind it follow without it, s (edgelam replay: estimated from the NR run's "
        "messages)")
    queue_packets: Annotated[int, Field(ge=1)] = Field(
        1000, description="drop-tail queue per direction, packets")
    min_rate_bps: PositiveFloat = Field(
        1e3, description="floor of the service rate (a zero-rate sample is served at it), bit/s")
    share: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, description="fraction of each UE's traced rate it is served at until a scheduling "
        "policy sets its share (edgelam replay: 1 / nodes.n_devices, the carrier split among "
        "the devices as when all send at once)")
    sharing: Literal["fixed", "cell"] = Field(
        "fixed", description="'fixed': each UE is served at its share x its own trace (e.g. "
        "drive-test throughput logged per phone); 'cell': the UEs share one carrier per "
        "direction, work-conserving as the NR MAC is (ns3::TraceCell): the shares are weights "
        "among the UEs with data, so what UEs without data leave goes to the others in "
        "proportion to their shares (the NR MAC gives it by its scheduler's metric) and a UE "
        "alone with data gets its whole trace rate (edgelam replay: the recorded full-carrier "
        "rates)")


NR_SCENARIOS = ("UMi-StreetCanyon", "UMa", "RMa", "InH-OfficeMixed", "InH-OfficeOpen")


class CsiConfig(_Strict):
    """What the gNB knows of each UE's channel when it schedules and adapts the link
    (``ns3::NrCellMac`` CsiMode, ``ns3::NrCsiSrs``)."""

    mode: Literal["ideal", "srs", "csi-rs"] = Field(
        "srs", description="'ideal': the true per-RBG SINR, two active slots old (exact "
        "channel knowledge); 'srs': the gNB's noisy LS estimate from periodic SRS (TDD "
        "reciprocity), aged by its period and processing delay; 'csi-rs': each UE's periodic "
        "CSI report (4-bit CQI wideband and per subband, RI, PMI of the Type I codebook's DFT "
        "beams on the single-polarised gNB array), aged by its report delay: MCS from the CQI, "
        "precoder from the PMI, layers from the RI (DL on the precoded path; needs scheduler "
        "pf)")
    srs_period_slots: Annotated[int, Field(ge=1, le=2560)] = Field(
        10, description="SRS period T_SRS, slots (TS 38.214 §6.2.1; 10 = 5 ms at 30 kHz)")
    srs_offset_slots: NonNegInt | None = Field(
        None, description="SRS slot offset (< srs_period_slots; every occasion must fall in a "
        "slot with UL symbols; default: the first offset that does)")
    processing_delay_slots: Annotated[int, Field(ge=0, le=1000)] = Field(
        2, description="slots from an SRS to the first scheduling that uses its estimate")
    srs_comb: Literal[2, 4, 8] = Field(
        2, description="SRS comb K_TC (TS 38.211 §6.4.1.4.2): the LS estimate of a subband "
        "averages its 12 PRBs / K_TC SRS REs per PRB")
    csi_rs_period_slots: Annotated[int, Field(ge=1, le=2560)] = Field(
        10, description="mode csi-rs: CSI-RS and report period, slots (TS 38.214 §5.2.1.4)")
    csi_rs_offset_slots: NonNegInt | None = Field(
        None, description="mode csi-rs: CSI-RS slot offset (< csi_rs_period_slots; every "
        "occasion in a slot with DL symbols; default: the first offset that does)")
    report_delay_slots: Annotated[int, Field(ge=0, le=1000)] = Field(
        4, description="mode csi-rs: slots from a CSI-RS occasion to the first scheduling that "
        "uses its report")
    rank: Literal["adaptive", "fixed"] = Field(
        "adaptive", description="DL layers per UE (radio.mimo.max_layers_per_ue > 1): "
        "'adaptive': mode srs the rank of the largest TBS-level rate on the SRS estimate, mode "
        "csi-rs the reported RI; 'fixed': min(max_layers_per_ue, UE antennas, max_layers) (mode "
        "ideal always)")

    def occasions_ok(self, tdd_pattern: str, offset: int) -> bool:
        """Whether every SRS occasion offset + k period falls in a slot with UL symbols."""
        n = len(tdd_pattern)
        return all(tdd_pattern[(offset + k * self.srs_period_slots) % n] in "SU"
                   for k in range(n))

    def offset(self, tdd_pattern: str) -> int:
        """The SRS slot offset in effect (the configured one, else the first that works)."""
        if self.srs_offset_slots is not None:
            return self.srs_offset_slots
        return next((o for o in range(self.srs_period_slots)
                     if self.occasions_ok(tdd_pattern, o)), 0)

    def csi_rs_offset(self, tdd_pattern: str) -> int:
        """The CSI-RS slot offset in effect (the configured one, else the first in a slot with
        DL symbols at every occasion)."""
        if self.csi_rs_offset_slots is not None:
            return self.csi_rs_offset_slots
        return next((o for o in range(self.csi_rs_period_slots)
                     if self._csi_rs_ok(tdd_pattern, o)), 0)

    def _csi_rs_ok(self, tdd_pattern: str, offset: int) -> bool:
        n = len(tdd_pattern)
        return all(tdd_pattern[(offset + k * self.csi_rs_period_slots) % n] in "DS"
                   for k in range(n))

    def check(self, tdd_pattern: str, scheduler: str = "pf") -> None:
        """One-line errors naming the field, for modes 'srs' and 'csi-rs'."""
        if self.mode == "csi-rs":
            self._check_csi_rs(tdd_pattern, scheduler)
        if self.mode != "srs":
            return
        o = self.offset(tdd_pattern)
        if o >= self.srs_period_slots:
            raise ValueError(f"radio.csi.srs_offset_slots: {o} must be below csi.srs_period_slots "
                             f"({self.srs_period_slots})")
        if not self.occasions_ok(tdd_pattern, o):
            what = "srs_offset_slots" if self.srs_offset_slots is not None else "srs_period_slots"
            raise ValueError(f"radio.csi.{what}: SRS every {self.srs_period_slots} slots from "
                             f"slot {o} hits slots without UL symbols in tdd_pattern "
                             f"'{tdd_pattern}' (mode srs needs S or U slots; radio.csi.mode "
                             f"ideal knows the channel without SRS)")

    def _check_csi_rs(self, tdd_pattern: str, scheduler: str) -> None:
        if self.rank == "fixed":
            raise ValueError("radio.csi.rank: 'fixed' is for mode srs; mode csi-rs follows the "
                             "reported RI (cap it with radio.mimo.max_layers_per_ue)")
        if scheduler != "pf":
            raise ValueError("radio.csi.mode: csi-rs needs radio.scheduler pf (the DL is "
                             "precoded from the PMI on the MU-MIMO path)")
        o = self.csi_rs_offset(tdd_pattern)
        if o >= self.csi_rs_period_slots:
            raise ValueError(f"radio.csi.csi_rs_offset_slots: {o} must be below "
                             f"csi.csi_rs_period_slots ({self.csi_rs_period_slots})")
        if not self._csi_rs_ok(tdd_pattern, o):
            raise ValueError(f"radio.csi.csi_rs_offset_slots: CSI-RS every "
                             f"{self.csi_rs_period_slots} slots from slot {o} hits slots without "
                             f"DL symbols in tdd_pattern '{tdd_pattern}' (D or S slots)")

    def mac_attributes(self, tdd_pattern: str, gnb_array=(1, 1)) -> dict[str, str]:
        """ns-3 attributes of NrCellMac for this CSI (gnb_array: [rows, cols], the CSI-RS
        codebook's N1, N2)."""
        rank = {"RankAdaptation": "true" if self.rank == "adaptive" else "false"}
        if self.mode == "ideal":
            return {"CsiMode": "Ideal", **rank}
        if self.mode == "csi-rs":
            return {"CsiMode": "CsiRs", "CsiRsPeriodSlots": str(self.csi_rs_period_slots),
                    "CsiRsOffsetSlots": str(self.csi_rs_offset(tdd_pattern)),
                    "CsiReportDelaySlots": str(self.report_delay_slots),
                    "CsiRsN1": str(gnb_array[0]), "CsiRsN2": str(gnb_array[1]), **rank}
        return {**rank, "CsiMode": "Srs", "SrsPeriodSlots": str(self.srs_period_slots),
                "SrsOffsetSlots": str(self.offset(tdd_pattern)),
                "SrsProcessingDelaySlots": str(self.processing_delay_slots),
                "SrsComb": str(self.srs_comb)}


class MimoConfig(_Strict):
    """DL MU-MIMO and multiple layers (``ns3::NrCellMac`` MaxLayers, MaxLayersPerUe, Precoder,
    SusEpsilon). max_layers 1 keeps one UE per RBG through its analog beam."""

    max_layers: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="DL layers per RBG L across co-scheduled UEs (1: single layer, one UE "
        "per RBG through the gNB's beam; > 1: digital precoding over the gNB's antennas, users "
        "grouped by semi-orthogonal user selection on the PF metric)")
    max_layers_per_ue: Annotated[int, Field(ge=1, le=8)] = Field(
        1, description="DL layers of one UE at most (its eigen-modes; capped by its antennas)")
    precoder: Literal["zf", "mrt", "rzf"] = Field(
        "zf", description="precoder from the gNB's CSI: zero forcing, matched filter, or "
        "regularised ZF (alpha = sigma^2 L / P)")
    sus_epsilon: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="semi-orthogonality threshold of the user selection")

    def mac_attributes(self) -> dict[str, str]:
        """ns-3 attributes of NrCellMac for MIMO."""
        return {"MaxLayers": str(self.max_layers),
                "MaxLayersPerUe": str(self.max_layers_per_ue), "Precoder": self.precoder,
                "SusEpsilon": repr(self.sus_epsilon)}


_ALPHAS = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # TS 38.331 Alpha (TS 38.213 §7.1.1)


class UlConfig(_Strict):
    """Uplink realism (``ns3::NrCellMac`` UlPowerControl, SrBsr and their keys): TS 38.213
    §7.1.1 PUSCH power control and scheduling from scheduling requests and buffer status
    reports. Both off: every PUSCH at radio.ue_tx_power_dbm, the gNB knows UL buffers."""

    realism: bool = Field(
        True, description="false: the radio before issue 10.3 in one key - full-power PUSCH, "
        "exact UL buffers, HARQ feedback radio.harq.k1_slots after the data, no header bytes "
        "(power_control, sr_bsr, radio.harq.tdd_timing and radio.l2_headers must then stay at "
        "their defaults)")
    power_control: bool = Field(
        True, description="PUSCH power min(P_CMAX, p0_dbm + 10 log10(2^mu M_RB) + alpha PL + "
        "f) with PL the gNB-measured path loss (false: full power on every PUSCH)")
    p0_dbm: Annotated[float, Field(ge=-202, le=24)] = Field(
        -60.0, description="P_O_PUSCH (nominal + UE-specific) per 15 kHz RB, dBm (ITU-R "
        "M.2412 / TR 38.802 eMBB evaluations: -60 with alpha 0.6)")
    alpha: float = Field(0.6, description="path-loss compensation alpha (0, 0.4, 0.5 ... 1)")
    p_cmax_dbm: float | None = Field(
        None, description="P_CMAX, dBm (default and at most radio.ue_tx_power_dbm)")
    tpc: bool = Field(
        False, description="closed-loop TPC: after each PUSCH the gNB sends an accumulated "
        "command (+3/+1/0/-1 dB, TS 38.213 Table 7.1.1-1) toward tpc_target_sinr_db")
    tpc_target_sinr_db: Annotated[float, Field(ge=-10, le=40)] = Field(
        10.0, description="target effective PUSCH SINR of the closed-loop TPC, dB")
    sr_bsr: bool = Field(
        True, description="the gNB schedules the UL from buffer status reports (TS 38.321 "
        "Table 6.1.3.1-2 long BSR in every UL TB) and a UE with new data and nothing granted "
        "sends a scheduling request (false: the gNB knows UL buffers exactly)")
    sr_period_slots: Literal[1, 2, 4, 5, 8, 10, 16, 20, 40, 80, 160, 320, 640] = Field(
        10, description="SR period, slots (TS 38.331 SchedulingRequestResourceConfig)")
    sr_offset_slots: NonNegInt | None = Field(
        None, description="SR slot offset (< sr_period_slots, every occasion in a slot with UL "
        "symbols; default: the first offset that is)")
    sr_grant_delay_slots: Annotated[int, Field(ge=1, le=64)] = Field(
        3, description="slots from an SR to the PUSCH of its one-RBG grant (gNB processing + "
        "K2), then the first slot with UL data symbols")

    @model_validator(mode="after")
    def _ul_rules(self):
        if self.alpha not in _ALPHAS:
            raise ValueError(f"radio.ul.alpha: {self.alpha} is not one of {_ALPHAS} "
                             "(TS 38.213 §7.1.1)")
        # a key away from its default where nothing reads it (a dumped config round-trips)
        moved = {k for k, f in type(self).model_fields.items() if getattr(self, k) != f.default}
        unused = [k for k in ("p0_dbm", "alpha", "p_cmax_dbm", "tpc") if k in moved] \
            if not self.power_control else []
        unused += [k for k in ("sr_period_slots", "sr_offset_slots", "sr_grant_delay_slots")
                   if k in moved and not self.sr_bsr]
        unused += ["tpc_target_sinr_db"] if "tpc_target_sinr_db" in moved and not self.tpc else []
        if unused:
            raise ValueError(f"radio.ul.{unused[0]}: set away from its default but unused "
                             "(radio.ul.power_control, sr_bsr or tpc is off)")
        return self

    def sr_offset(self, tdd_pattern: str) -> int:
        """The SR offset in effect (the configured one, else the first in a UL-symbol slot)."""
        if self.sr_offset_slots is not None:
            return self.sr_offset_slots
        n = len(tdd_pattern)
        return next((o for o in range(self.sr_period_slots)
                     if all(tdd_pattern[(o + k * self.sr_period_slots) % n] in "SU"
                            for k in range(n))), 0)

    def check(self, tdd_pattern: str) -> None:
        """One-line errors naming the field: SR occasions in slots with UL symbols."""
        if not self.sr_bsr or not set(tdd_pattern) & set("SU"):
            return
        o, n = self.sr_offset(tdd_pattern), len(tdd_pattern)
        if o >= self.sr_period_slots:
            raise ValueError(f"radio.ul.sr_offset_slots: {o} must be below sr_period_slots "
                             f"({self.sr_period_slots})")
        if not all(tdd_pattern[(o + k * self.sr_period_slots) % n] in "SU" for k in range(n)):
            raise ValueError(f"radio.ul.sr_period_slots: SR every {self.sr_period_slots} "
                             f"slots from slot {o} hits slots without UL symbols in "
                             f"tdd_pattern '{tdd_pattern}'")

    def mac_attributes(self, tdd_pattern: str, ue_tx_power_dbm: float) -> dict[str, str]:
        """ns-3 attributes of NrCellMac for the uplink."""
        if not self.realism:
            return {"UlPowerControl": "false", "SrBsr": "false"}
        a = {"UlPowerControl": str(self.power_control).lower(),
             "SrBsr": str(self.sr_bsr).lower()}
        if self.power_control:
            a.update({"UlP0Dbm": repr(self.p0_dbm), "UlAlpha": repr(self.alpha),
                      "UlPcMaxDbm": repr(self.p_cmax_dbm if self.p_cmax_dbm is not None
                                         else ue_tx_power_dbm),
                      "UlTpc": str(self.tpc).lower(),
                      "UlTpcTargetSinrDb": repr(self.tpc_target_sinr_db)})
        if self.sr_bsr:
            a.update({"SrPeriodSlots": str(self.sr_period_slots),
                      "SrOffsetSlots": str(self.sr_offset(tdd_pattern)),
                      "SrGrantDelaySlots": str(self.sr_grant_delay_slots)})
        return a


class HarqConfig(_Strict):
    """HARQ feedback timing (``ns3::NrCellMac`` HarqFeedbackDelaySlots, HarqTddTiming)."""

    k1_slots: Annotated[int, Field(ge=1, le=15)] = Field(
        2, description="K1: least slots from a DL TB to its HARQ-ACK (UE processing; TS 38.213 "
        "§9.2.3); UL: slots until the gNB acts on a PUSCH's decoding")
    tdd_timing: bool = Field(
        True, description="the HARQ-ACK goes in the first slot carrying PUCCH (U, or S with UL "
        "symbols) at least k1_slots after the data, and the scheduler acts on it from the next "
        "slot (false, or a pattern without such a slot: k1_slots after the data)")

    def mac_attributes(self, realism: bool = True) -> dict[str, str]:
        """ns-3 attributes of NrCellMac for HARQ timing (realism: radio.ul.realism)."""
        return {"HarqFeedbackDelaySlots": str(self.k1_slots),
                "HarqTddTiming": str(self.tdd_timing and realism).lower()}


class RadioConfig(_Strict):
    """The radio access network between devices (UEs) and gNBs.

    ``nr`` (default): the 6G NR-like radio of ``ns3_scenarios`` (TR 38.901 channel through ns-3's
    ThreeGppChannelModel, beams, slot-level OFDMA with TS 38.214 link adaptation, TBS and HARQ).
    ``ideal``: a point-to-point link per UE (baseline)."""

    mode: Literal["nr", "ideal", "trace"] = Field(
        "nr", description="'nr': the 6G radio model; 'ideal': point-to-point links (baseline); "
        "'trace': point-to-point links whose capacity follows a trace (radio.trace)")
    ideal: IdealRadioConfig = Field(default_factory=IdealRadioConfig)
    trace: TraceRadioConfig = Field(default_factory=TraceRadioConfig)
    scenario: Literal[NR_SCENARIOS] = Field(
        "UMa", description="TR 38.901 scenario (path loss, LOS probability, clusters)")
    channel: Literal["3gpp", "fixed"] = Field(
        "3gpp", description="'3gpp': TR 38.901 channel; 'fixed': fixed gains (tests, baselines)")
    carrier_hz: Annotated[float, Field(ge=0.5e9, le=100e9)] = Field(
        7e9, description="carrier frequency, Hz (default 7 GHz: a 6G upper mid-band carrier, "
        "the 6G upper mid-band, FR3, around 7-24 GHz)")
    bandwidth_hz: PositiveFloat = Field(100e6, description="carrier bandwidth, Hz")
    numerology: Annotated[int, Field(ge=0, le=4)] = Field(
        1, description="numerology mu (SCS 15 x 2^mu kHz, slot 1/2^mu ms)")
    tdd_pattern: str = Field("DDDSU", description="TDD slot pattern of D, S, U ('D': all DL)")
    mcs_table: Literal["qam64", "qam256"] = Field(
        "qam256", description="TS 38.214 Table 5.1.3.1-1 (qam64) or -2 (qam256)")
    gnb_array: list[Annotated[int, Field(ge=1, le=64)]] = Field(
        default_factory=lambda: [8, 8], description="gNB uniform planar array [rows, cols]")
    ue_array: list[Annotated[int, Field(ge=1, le=8)]] = Field(
        default_factory=lambda: [1, 1], description="UE array [rows, cols] (1x1 up to 2x4)")
    gnb_tx_power_dbm: float = Field(
        43.0, description="gNB transmit power over the carrier, dBm (plausible: 0..60, see "
        "edgelam_ns3.radio.limits)")
    ue_tx_power_dbm: float = Field(
        23.0, description="UE transmit power, dBm (power class 3; plausible: -40..33)")
    ue_noise_figure_db: Annotated[float, Field(ge=0, le=20)] = Field(
        9.0, description="UE receiver noise figure, dB (TR 38.802 Table A.2.1-1 and the TR "
        "38.901 §7.8 calibrations, every scenario: 9 dB)")
    gnb_noise_figure_db: Annotated[float, Field(ge=0, le=20)] = Field(
        5.0, description="gNB receiver noise figure, dB (TR 38.802 Table A.2.1-1 and the TR "
        "38.901 §7.8 calibrations, every scenario: 5 dB)")
    scheduler: Literal["pf", "rr"] = Field("pf", description="proportional fair or round robin")
    beam_policy: Literal["dft", "los", "ideal"] = Field(
        "dft", description="'dft': SSB-like DFT-codebook sweep; 'los': steer to the LOS "
        "direction; 'ideal': dominant eigenvector of the channel")
    beam_period_s: PositiveFloat = Field(0.02, description="beam sweep period (dft), s")
    n_ues: Annotated[int, Field(ge=1, le=1024)] | None = Field(
        None, description="UEs in the radio (default nodes.n_devices; the first "
        "nodes.n_devices of them are the compute devices)")
    n_cells: Annotated[int, Field(ge=1, le=57)] = Field(
        1, description="cells (gNBs): sites x sectors_per_site, sites on a hexagonal layout of "
        "inter-site distance isd_m (7 sites: 1 ring, 19: 2 rings)")
    isd_m: PositiveFloat = Field(500.0, description="inter-site distance, m")
    sectors_per_site: Literal[1, 3] = Field(
        1, description="cells per site: 1 (panel facing +x) or 3 (gNB g is sector g mod 3 of "
        "site g // 3, bearings 30/150/270 deg, UEs dropped over the sector's hexagonal cell)")
    wraparound: bool = Field(
        False, description="wrap the hexagonal layout around (7 or 19 sites): each UE sees each "
        "cell at its closest wrapped image, so edge cells get full interference")
    ue_distance_m: PositiveFloat | None = Field(
        None, description="every UE at this distance from its gNB, m (default: dropped "
        "uniformly in the cell, at least min_ue_distance_m away)")
    min_ue_distance_m: NonNegFloat | None = Field(
        None, description="least horizontal UE-gNB distance of dropped UEs, m (default: the "
        "scenario's, TR 38.901 Tables 7.2-1..3: UMa and RMa 35, UMi-StreetCanyon 10, InH 0)")
    ue_positions_m: list[list[float]] | None = Field(
        None, description="explicit UE positions, m: one [x, y] or [x, y, z] per UE (z "
        "default 1.5), gnb0 at the origin, gNBs on a hexagonal grid of isd_m, panels facing +x")
    ue_speed_kmh: NonNegFloat = Field(0.0, description="UE speed, km/h")
    mobility: Literal["static", "constant-velocity", "random-walk"] | None = Field(
        None, description="UE mobility (default: static, or constant-velocity if ue_speed_kmh > 0)")
    fading_speed_kmh: NonNegFloat = Field(
        3.0, description="speed whose Doppler the fast fading of static UEs follows, km/h "
        "(TR 38.901 Table 7.8-2 calibration: 3 km/h pedestrians; they stay at their drop "
        "position). ns-3 3.37 keeps a realization's clusters fixed and rotates their Doppler "
        "phases at every channel_update_period_s (coherence time 0.423 c / (v f_c): 22 ms at "
        "3 km/h and 7 GHz). 0: a static UE's channel never changes. Moving UEs use their own "
        "velocity")
    fading_update_period_s: NonNegFloat = Field(
        0.0, description="period after which ns-3 draws a new small-scale realization, s (new "
        "clusters, independent of the previous ones: no spatial consistency in ns-3 3.37, so "
        "the channel jumps; 0: never)")
    channel_update_period_s: NonNegFloat = Field(
        0.01, description="channel (CSI) update period: Doppler phases, path gain, beams, s "
        "(0: computed once)")
    shadowing: bool = Field(True, description="log-normal shadowing (TR 38.901 Table 7.4.1-1), "
                            "drawn once per gNB-UE pair and correlated (§7.4.4) as a UE moves")
    target_bler: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.1, description="link-adaptation target BLER of first transmissions")
    olla: bool = Field(True, description="outer-loop link adaptation")
    harq_max_tx: Annotated[int, Field(ge=1, le=32)] = Field(
        4, description="HARQ: transmissions of a TB at most")
    dl_overhead: Annotated[float, Field(ge=0, lt=0.9)] = Field(
        0.14, description="share of DL REs without data (control, DM-RS; TS 38.306: 0.14 FR1)")
    ul_overhead: Annotated[float, Field(ge=0, lt=0.9)] = Field(
        0.08, description="share of UL REs without data (TS 38.306: 0.08 FR1)")
    csi: CsiConfig = Field(default_factory=CsiConfig)
    mimo: MimoConfig = Field(default_factory=MimoConfig)
    ul: UlConfig = Field(default_factory=UlConfig)
    harq: HarqConfig = Field(default_factory=HarqConfig)
    l2_headers: bool = Field(
        True, description="charge the L2 header bytes of each SDU piece in a TB: PDCP 2 B "
        "(12-bit SN), RLC 2 B (12-bit SN; 4 B with the SO of a continued segment), MAC "
        "subheader 2 B (up to 255 B) or 3 B, and a 4-B long BSR per UL TB with radio.ul.sr_bsr")

    @model_validator(mode="after")
    def _radio_rules(self):
        if not self.tdd_pattern or set(self.tdd_pattern) - set("DSU"):
            raise ValueError("tdd_pattern: only D, S and U slots (e.g. 'DDDSU')")
        if len(self.gnb_array) != 2 or len(self.ue_array) != 2:
            raise ValueError("gnb_array/ue_array: [rows, cols]")
        if self.ue_array[0] > 2 or self.ue_array[1] > 4:
            raise ValueError("ue_array: at most 2 x 4 elements")
        if not self.ul.realism:
            moved = [k for k, off in (("ul.power_control", not self.ul.power_control),
                                      ("ul.sr_bsr", not self.ul.sr_bsr),
                                      ("harq.tdd_timing", not self.harq.tdd_timing),
                                      ("l2_headers", not self.l2_headers)) if off]
            if moved:
                raise ValueError(f"radio.{moved[0]}: radio.ul.realism false already turns it "
                                 "off; leave it at its default")
        if self.mimo.max_layers > 1 and self.scheduler != "pf":
            raise ValueError("radio.mimo.max_layers: > 1 (MU-MIMO) needs radio.scheduler pf "
                             "(users are grouped on the PF metric)")
        if self.beam_policy != "los" and self.channel == "fixed":
            raise ValueError("beam_policy: 'dft' and 'ideal' need channel '3gpp'")
        if self.ue_positions_m is not None:
            if self.ue_distance_m is not None:
                raise ValueError("ue_positions_m: set it or ue_distance_m, not both")
            for i, p in enumerate(self.ue_positions_m):
                if len(p) not in (2, 3):
                    raise ValueError(f"ue_positions_m[{i}]: [x, y] or [x, y, z], got {p}")
        if self.n_cells % self.sectors_per_site:
            raise ValueError(f"n_cells: {self.n_cells} cells are not whole sites of "
                             f"sectors_per_site {self.sectors_per_site}")
        if self.wraparound and self.n_cells // self.sectors_per_site not in (7, 19):
            raise ValueError(f"wraparound: needs 7 or 19 sites (n_cells / sectors_per_site), "
                             f"got {self.n_cells // self.sectors_per_site}")
        if self.mode == "nr":
            from .radio import limits

            limits.check_powers(self.gnb_tx_power_dbm, self.ue_tx_power_dbm)
            limits.check_carrier(self.carrier_hz, self.bandwidth_hz, self.numerology)
        return self

    def mac_attributes(self) -> dict[str, str]:
        """ns-3 attributes of each cell's NrCellMac."""
        return {"TddPattern": self.tdd_pattern, "McsTable": self.mcs_table,
                "Scheduler": self.scheduler.upper(), "TargetBler": str(self.target_bler),
                "Olla": "true" if self.olla else "false",
                "MaxTransmissions": str(self.harq_max_tx), "DlOverhead": str(self.dl_overhead),
                "UlOverhead": str(self.ul_overhead),
                **self.csi.mac_attributes(self.tdd_pattern, self.gnb_array),
                **self.mimo.mac_attributes(),
                **self.ul.mac_attributes(self.tdd_pattern, self.ue_tx_power_dbm),
                **self.harq.mac_attributes(self.ul.realism),
                "L2Headers": str(self.l2_headers and self.ul.realism).lower()}

    def helper_attributes(self) -> dict[str, str]:
        """ns-3 attributes of the NrRadioHelper."""
        mobility = self.mobility or ("constant-velocity" if self.ue_speed_kmh > 0 else "static")
        a = {"Scenario": self.scenario, "CarrierHz": repr(self.carrier_hz),
             "BandwidthHz": repr(self.bandwidth_hz), "Numerology": str(self.numerology),
             "GnbTxPowerDbm": repr(self.gnb_tx_power_dbm),
             "UeTxPowerDbm": repr(self.ue_tx_power_dbm),
             "GnbArrayRows": str(self.gnb_array[0]), "GnbArrayCols": str(self.gnb_array[1]),
             "UeArrayRows": str(self.ue_array[0]), "UeArrayCols": str(self.ue_array[1]),
             "InterSiteDistanceM": repr(self.isd_m), "Mobility": mobility,
             "SectorsPerSite": str(self.sectors_per_site),
             "Wraparound": "true" if self.wraparound else "false",
             "UeSpeedKmh": repr(self.ue_speed_kmh),
             "UeNoiseFigureDb": repr(self.ue_noise_figure_db)}
        if self.scenario.startswith("UMi"):
            a["GnbHeightM"] = "10"
        elif self.scenario.startswith("InH"):
            a["GnbHeightM"] = "3"
        elif self.scenario == "RMa":
            a["GnbHeightM"] = "35"
        if self.ue_distance_m is not None:
            a["UeDistanceM"] = repr(self.ue_distance_m)
        if self.min_ue_distance_m is not None:
            a["MinUeDistanceM"] = repr(self.min_ue_distance_m)
        if self.ue_positions_m is not None:
            a["UePositions"] = ";".join(",".join(repr(float(x)) for x in p)
                                        for p in self.ue_positions_m)
        return a

    def channel_attributes(self) -> dict[str, str]:
        """ns-3 attributes of the channel."""
        nf = {"GnbNoiseFigure": repr(self.gnb_noise_figure_db)}
        if self.channel == "fixed":
            return nf
        return {**nf, "UpdatePeriod": f"{self.channel_update_period_s}s",
                "FadingUpdatePeriod": f"{self.fading_update_period_s}s",
                "StaticUeFadingSpeedKmh": repr(self.fading_speed_kmh),
                "ShadowingEnabled": "true" if self.shadowing else "false"}

    def beam_attributes(self) -> dict[str, str]:
        """ns-3 attributes of the NrBeamManager (empty: no policy object, LOS default beams)."""
        if self.channel == "fixed":
            return {}
        policy = {"dft": "DftCodebook", "los": "LosDirection", "ideal": "Ideal"}[self.beam_policy]
        return {"Policy": policy, "MeasurementPeriod": f"{self.beam_period_s}s"}


class LinkConfig(_Strict):
    """A full-duplex point-to-point backhaul link."""

    a: str = Field(description="one end (node name)")
    b: str = Field(description="other end (node name)")
    rate_bps: PositiveFloat = Field(description="line rate of each direction, bit/s")
    delay_s: NonNegFloat = Field(description="one-way propagation delay, s")
    queue_packets: Annotated[int, Field(ge=1)] = Field(
        1000, description="drop-tail queue per direction, packets")


class CrossTrafficConfig(_Strict):
    """Background UDP traffic competing on the links of its route."""

    src: str = Field(description="source node")
    dst: str = Field(description="sink node")
    mode: Literal["onoff", "replay"] = Field(description="'onoff' or 'replay' (from csv)")
    rate_bps: PositiveFloat | None = Field(None, description="on-period bit rate (onoff), bit/s")
    mean_on_s: PositiveFloat = Field(1.0, description="mean on period (onoff), s")
    mean_off_s: NonNegFloat = Field(1.0, description="mean off period (onoff, 0: always on), s")
    packet_bytes: Annotated[int, Field(ge=1, le=65000)] = Field(
        1472, description="UDP payload per packet, bytes")
    start_s: NonNegFloat = Field(0.0, description="start instant (onoff), s")
    csv: str | None = Field(None, description="replay: CSV with columns time_s,bytes")

    @model_validator(mode="after")
    def _mode_fields(self):
        if self.mode == "onoff" and self.rate_bps is None:
            raise ValueError("rate_bps: required when mode is 'onoff'")
        if self.mode == "replay":
            if self.csv is None:
                raise ValueError("csv: required when mode is 'replay'")
            read_replay_csv(self.csv)  # the whole file, now rather than in the run
        return self


def csv_rows(path: str | Path, required: tuple[str, ...], what: str = "csv"):
    """Rows of a CSV with a header, as (where, row): ``where`` is ``"{what}: {path}:{line}"``
    for one-line errors, ``row`` maps column name to text. Raises ValueError (one line naming
    the file and the missing column) for a missing or empty file or a header without one of
    ``required``. Shared by cross-traffic and radio capacity traces."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what}: no such file '{path}'")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise ValueError(f"{what}: {path}: empty file (expected a header "
                             f"{','.join(required)} and rows)")
        missing = set(required) - set(reader.fieldnames)
        if missing:
            raise ValueError(f"{what}: {path}:1: no column {' or '.join(sorted(missing))} in "
                             f"the header (needs {','.join(required)}; has "
                             f"{','.join(reader.fieldnames)})")
        for row in reader:
            yield f"{what}: {path}:{reader.line_num}", row


def read_replay_csv(path: str | Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Read and check a cross-traffic trace: a CSV with a header naming the columns
    ``time_s`` (s, finite, >= 0, non-decreasing) and ``bytes`` (finite, >= 0; a fraction is
    dropped), at least one row. Raises ValueError, one line naming the file, line and column."""
    import math

    times: list[float] = []
    sizes: list[float] = []
    for where, row in csv_rows(path, ("time_s", "bytes")):
        values = []
        for col in ("time_s", "bytes"):
            text = row[col]
            try:
                v = float(text)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: column {col}: {text!r} is not a number") from None
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"{where}: column {col}: {text!r} is not a finite "
                                 "number >= 0")
            values.append(v)
        if times and values[0] < times[-1]:
            raise ValueError(f"{where}: column time_s: {values[0]:g} is before the previous "
                             f"row's {times[-1]:g} (times must not decrease)")
        times.append(values[0])
        sizes.append(values[1])
    if not times:
        raise ValueError(f"csv: {Path(path)}: no rows after the header")
    return tuple(times), tuple(sizes)


def _default_backhaul_links() -> list[LinkConfig]:
    return [
        LinkConfig(a="gnb", b="edge0", rate_bps=10e9, delay_s=0.0005),
        LinkConfig(a="edge0", b="cloud", rate_bps=1e9, delay_s=0.010),
    ]


class BackhaulConfig(_Strict):
    """Links from the gNB to edge servers and the cloud."""

    links: list[LinkConfig] = Field(default_factory=_default_backhaul_links)
    cross_traffic: list[CrossTrafficConfig] = Field(default_factory=list)


class TransportConfig(_Strict):
    """How messages cross the network."""

    protocol: Literal["tcp", "udp"] = Field("tcp", description="'tcp' (default) or 'udp'")
    tcp_segment_bytes: Annotated[int, Field(ge=100, le=65483)] = Field(
        1448, description="TCP MSS, bytes (1448 fills a 1500-byte MTU with timestamps; "
        "above link_mtu_bytes - 52 a segment is IP-fragmented)")
    link_mtu_bytes: Annotated[int, Field(ge=576, le=65535)] = Field(
        1500, description="MTU of the point-to-point links (backhaul, ideal and trace radio "
        "hops), bytes; the NR radio carries 1500-byte packets. edgelam replay uses 65535 "
        "with tcp_segment_bytes 65483: a message crosses as a few large packets, 40x fewer "
        "ns-3 events")
    tcp_buffer_bytes: Annotated[int, Field(ge=4096)] = Field(
        1 << 20, description="TCP send and receive buffers, bytes")
    frame_header_bytes: Annotated[int, Field(ge=0)] = Field(
        16, description="framing bytes per message on a TCP stream")
    udp_timeout_s: PositiveFloat | None = Field(
        None, description="UDP: wait this long for a message's acknowledgement before sending "
        "it again, doubled at each retry, s (default: adaptive, RFC 6298 from the measured "
        "round trips; see edgelam_ns3.arq)")
    udp_max_tries: Annotated[int, Field(ge=1, le=16)] = Field(
        6, description="UDP: copies of a message sent at most; if none arrives the run fails "
        "(status failed, MessageLost naming the message)")


MODEL_PRESETS = {"gpt2-small": {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257}}
"""``model.preset`` -> the sizes it sets. ``gpt2-small``: GPT-2's 124M configuration (the
defaults of transformers' GPT2Config: 12 blocks, 768 hidden, 12 heads, a 50257-token
vocabulary; byte tokens use its first 256 ids)."""


class ModelConfig(_Strict):
    """The GPT-2-style model (random weights, byte-level vocabulary)."""

    preset: Literal["gpt2-small"] | None = Field(
        None, description="a model size by name, setting n_layer, n_embd, n_head and "
        "vocab_size (gpt2-small: GPT-2's 124M configuration, 12 x 768, 12 heads, 50257 "
        "tokens); giving one of those keys a different value too is an error")
    vocab_size: Annotated[int, Field(ge=256)] = Field(
        256, description="vocabulary size (the data are bytes: ids 0-255)")
    n_layer: Annotated[int, Field(ge=1)] = Field(4, description="transformer blocks")
    n_embd: Annotated[int, Field(ge=8)] = Field(128, description="hidden size")
    n_head: Annotated[int, Field(ge=1)] = Field(4, description="attention heads")
    seq_len: Annotated[int, Field(ge=2)] = Field(64, description="tokens per sample")
    device_layers: Annotated[int, Field(ge=0)] = Field(
        1, description="transformer blocks on each device, with the token and positional "
        "embeddings (split_learning, split_fed_lora; fed_lora and centralized freeze these "
        "blocks and adapt the others, as split_fed_lora does); 0: only the token embedding "
        "(the cut tensor is then a codebook lookup, the text readable)")
    base: Literal["pretrained", "random"] | None = Field(
        None, description="weights fine-tuning starts from (split_fed_lora, fed_lora, "
        "centralized): 'pretrained' (the shipped base, see edgelam_ns3.pretrained) or "
        "'random'; default: the pretrained base when the model has its shape, else random")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        sizes = MODEL_PRESETS.get(data["preset"])
        if sizes is None:
            return data  # the Literal names the presets
        for key, v in sizes.items():
            if data.get(key, v) != v:
                raise ValueError(f"{key}: {data[key]!r}, but model.preset {data['preset']} "
                                 f"sets it to {v}; give one of them")
        return {**data, **sizes}

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.n_embd % self.n_head:
            raise ValueError("n_embd: must be a multiple of n_head")
        return self


class LoraTrainConfig(_Strict):
    """LoRA adapters on the server's frozen decoder (peft)."""

    r: Annotated[int, Field(ge=1)] = Field(8, description="adapter rank")
    alpha: PositiveFloat = Field(16.0, description="scaling numerator (update x alpha/r)")
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(0.0, description="adapter dropout")
    target_modules: list[str] = Field(default_factory=lambda: ["c_attn", "c_proj"],
                                      description="GPT-2 module names that get adapters")


class DpConfig(_Strict):
    """Differential privacy of the aggregated server update (Gaussian mechanism)."""

    enabled: bool = Field(False, description="clip per device, add Gaussian noise to the sum")
    noise_multiplier: NonNegFloat = Field(1.0, description="noise std / clipping bound")
    max_norm: PositiveFloat = Field(1.0, description="per-device clipping bound (L2)")
    delta: Annotated[float, Field(gt=0, lt=1)] = Field(1e-5, description="target delta")


class LoopedTrainConfig(_Strict):
    """The looped transformer of looped tensor parallelism."""

    n_loops: Annotated[int, Field(ge=1)] = Field(4, description="times the block is applied")
    d_ff: Annotated[int, Field(ge=1)] = Field(512, description="MLP hidden size")


FRAMEWORKS = (*frameworks.FRAMEWORKS, "none")  # "none": traffic only
POLICIES = ("all", "random", "round_robin", "channel_aware", "lyapunov", "recorded")


class TrainConfig(_Strict):
    """The training framework run on the simulated network."""

    framework: Literal[FRAMEWORKS] = Field(
        "split_learning", description="split_learning (U-shaped), split_fed_lora (split "
        "federated LoRA), fed_lora (FedAvg of adapters, baseline), centralized (raw data "
        "uploaded once, baseline), looped_tp (looped tensor parallelism), none (traffic only)")
    steps: Annotated[int, Field(ge=1)] = Field(40, description="training rounds")
    batch_size: Annotated[int, Field(ge=1)] = Field(8, description="samples per device per round")
    lr: PositiveFloat = Field(3e-3, description="Adam learning rate")
    server: str = Field("edge0", description="node hosting the server side")
    non_iid: bool = Field(False, description="each device gets its own region of the corpus")
    target_loss: PositiveFloat | None = Field(None, description="loss target for time-to-target")
    policy: Literal[POLICIES] | None = Field(
        None, description="device scheduling and bandwidth policy per round (split_fed_lora, "
        "fed_lora: default all; the other frameworks schedule no devices and reject it)")
    policy_record: str | None = Field(
        None, description="policy recorded: the run directory whose traces/rounds.parquet "
        "gives each round's devices and shares (edgelam replay --same-schedule)")
    k: Annotated[int, Field(ge=1)] = Field(
        2, description="devices per round for random, round_robin and channel_aware")
    min_participation: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="lyapunov: long-run fraction of rounds each device must take part in")
    lyapunov_v: PositiveFloat = Field(
        10.0, description="lyapunov: weight of round latency (s) against participation debt")
    local_steps: Annotated[int, Field(ge=1)] = Field(1, description="fed_lora: local steps per round")
    lora: LoraTrainConfig = Field(default_factory=LoraTrainConfig)
    dp: DpConfig = Field(default_factory=DpConfig)
    looped: LoopedTrainConfig = Field(default_factory=LoopedTrainConfig)


class TrafficConfig(_Strict):
    """Background application traffic between the server node and the UEs (UDP, ns-3
    OnOffApplication always on): full buffer when the offered rate exceeds what the radio
    gives."""

    full_buffer_dl: bool = Field(False, description="UDP from traffic.source to every UE")
    full_buffer_ul: bool = Field(False, description="UDP from every UE to traffic.source")
    source: str = Field("edge0", description="node at the far end of the traffic")
    rate_bps: PositiveFloat | None = Field(
        None, description="offered rate per UE and direction, bit/s (default: 1.2 x the "
        "carrier's peak, bandwidth x the top MCS's spectral efficiency in radio.mcs_table; "
        "radio.mode ideal: 1.2 x the fastest UE's full-band rate)")
    packet_bytes: Annotated[int, Field(ge=64, le=1472)] = Field(
        1472, description="UDP payload per packet, bytes")
    start_s: NonNegFloat = Field(0.01, description="traffic start (after attach), s")
    duration_s: PositiveFloat = Field(
        0.5, description="how long traffic-only scenarios (train.framework none) run, s")


class TraceConfig(_Strict):
    """What is recorded."""

    link_state_period_s: PositiveFloat = Field(0.05, description="link-state tap period, s")
    csi: bool = Field(False, description="also record at every link-state tap each UE's "
                      "true channel (h), the gNB's CSI of it (h_est: its SRS estimate in use; "
                      "h with radio.csi.mode ideal or before the first usable SRS) and that "
                      "CSI's age (age_s, NaN before the first SRS) into "
                      "traces/csi.npz (radio.mode nr)")


class SimConfig(_Strict):
    """Simulation limits."""

    max_time_s: PositiveFloat = Field(3600.0, description="stop at this simulated time, s")
    stall_warn_s: PositiveFloat | None = Field(
        10.0, description="warn when the framework makes no progress (no message delivered, "
        "no compute job or round finished) for this long, simulated s (null: never)")
    stall_stop_s: PositiveFloat | None = Field(
        120.0, description="stop the run (status incomplete) after this long without "
        "progress, simulated s (null: run on to max_time_s)")
    torch_threads: Annotated[int, Field(ge=1)] = Field(1, description="torch threads")
    torch_device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu", description="torch device of the model shards, optimiser state and batches "
        "(auto: cuda when torch sees a GPU, else cpu; cuda without one is an error). Simulated "
        "time is charged by the device profiles, so traces do not depend on it")


class ComputeConfig(_Strict):
    """How jobs' FLOPs and bytes are counted (:mod:`edgelam_ns3.compute`)."""

    accounting: Literal["cached", "exact"] = Field(
        "cached", description="cached: a job is counted until two counts under its key "
        "(job, modules, input shapes and dtypes, grad mode; compute.cost_key) agree, then "
        "charged those counts without counting (same charges, less wall time); exact: count "
        "every job")
    execution: Literal["real", "cost", "recorded"] = Field(
        "real", description="real: every job runs on real tensors; cost: on torch's meta "
        "device (shapes, no data): the same FLOP and byte counts, so the same compute charges "
        "and timing, but no numbers: losses are NaN (edgelam replay --timing meta); recorded: "
        "no job runs and torch is not imported: each is charged the counts compute.record's "
        "run traced for its (job, input shapes), losses NaN (edgelam replay --timing; "
        "split_learning and split_fed_lora, see edgelam_ns3.replay_timing)")
    record: str | None = Field(
        None, description="compute.execution recorded: the run directory whose "
        "traces/compute.parquet charges the jobs")


class BridgeConfig(_Strict):
    """How the frameworks reach ns-3 (doc/zmq.md)."""

    transport: Literal["inprocess", "zmq"] = Field(
        "inprocess", description="inprocess: ns-3 in this process (pybind11, the fast path); "
        "zmq: an ns-3 program in another process over ZeroMQ (edgelam-zmq module)")
    endpoint: Annotated[str, Field(pattern=r"^(ipc|tcp|ipc://.+|tcp://.+)$")] = Field(
        "ipc", description="zmq: ipc (a unique ipc:// endpoint in a private temp dir, "
        "removed at exit), tcp (loopback, a free port), or an explicit ipc://PATH or "
        "tcp://HOST:PORT that this side binds")
    command: list[str] | None = Field(
        None, description="zmq: the ns-3 program to start, '{endpoint}' replaced by the "
        "endpoint (null: this package's edgelam-zmq-server; []: start none, wait for one)")
    timeout_s: PositiveFloat = Field(
        120.0, description="zmq: longest wait for a message from the ns-3 side, s")


class ScenarioConfig(_Strict):
    """A complete scenario."""

    name: str = Field("custom", description="scenario name")
    seed: Annotated[int, Field(ge=1)] = Field(1, description="seed of ns-3 and torch")
    run: Annotated[int, Field(ge=1)] = Field(1, description="ns-3 run number (substream)")
    nodes: NodesConfig = Field(default_factory=NodesConfig)
    radio: RadioConfig = Field(default_factory=RadioConfig)
    backhaul: BackhaulConfig = Field(default_factory=BackhaulConfig)
    transport: TransportConfig = Field(default_factory=TransportConfig)
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    trace: TraceConfig = Field(default_factory=TraceConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    bridge: BridgeConfig = Field(default_factory=BridgeConfig)
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig,
        description="microservice-assisted inference (train.framework microservice_inference)")
    prediction: ChannelPredictionConfig = Field(
        default_factory=ChannelPredictionConfig,
        description="channel prediction in the loop (train.framework channel_prediction)")
    beamforming: BeamformingLoopConfig = Field(
        default_factory=BeamformingLoopConfig,
        description="beamforming in the loop (train.framework beamforming)")

    def n_ues(self) -> int:
        """UEs in the network: the compute devices, plus radio-only UEs (radio.n_ues)."""
        if self.radio.mode == "nr" and self.radio.n_ues is not None:
            return max(self.radio.n_ues, self.nodes.n_devices)
        return self.nodes.n_devices

    def gnb_names(self) -> list[str]:
        """gNB node names: 'gnb' for one cell, gnb0, gnb1, ... for several."""
        n = self.radio.n_cells if self.radio.mode == "nr" else 1
        return ["gnb"] if n == 1 else [f"gnb{i}" for i in range(n)]

    def node_names(self) -> list[str]:
        """All node names, in node-index order."""
        n = self.nodes
        names = [f"ue{i}" for i in range(self.n_ues())] + self.gnb_names()
        names += [f"edge{i}" for i in range(n.n_edge)]
        if n.cloud:
            names.append("cloud")
        return names

    def profile_of(self, node: str) -> str:
        """Name of the compute profile of a node."""
        if node.startswith("ue"):
            return self.nodes.device_profile
        if node.startswith("edge"):
            return self.nodes.edge_profile
        if node == "cloud":
            return self.nodes.cloud_profile
        raise KeyError(f"node '{node}' does not compute")

    @model_validator(mode="after")
    def _cross_references(self):
        names = self.node_names()
        known = ", ".join(names)
        for i, link in enumerate(self.backhaul.links):
            for end in ("a", "b"):
                v = getattr(link, end)
                if v not in names and v != "gnb":  # 'gnb' with several cells: every gNB
                    raise ValueError(f"backhaul.links[{i}].{end}: unknown node '{v}' (known: {known})")
            if link.a == link.b:
                raise ValueError(f"backhaul.links[{i}]: a and b are the same node '{link.a}'")
            if link.a.startswith("ue") or link.b.startswith("ue"):
                raise ValueError(f"backhaul.links[{i}]: devices attach through the radio, not the backhaul")
        for i, ct in enumerate(self.backhaul.cross_traffic):
            for end in ("src", "dst"):
                v = getattr(ct, end)
                if v not in names:
                    raise ValueError(f"backhaul.cross_traffic[{i}].{end}: unknown node '{v}' (known: {known})")
        for key in ("per_ue_rate_bps", "spectral_efficiency_bps_hz"):
            per_ue = getattr(self.radio.ideal, key)
            if self.radio.mode == "ideal" and per_ue is not None and \
                    len(per_ue) != self.nodes.n_devices:
                raise ValueError(f"radio.ideal.{key}: has {len(per_ue)} entries, "
                                 f"nodes.n_devices is {self.nodes.n_devices}")
        if self.radio.mode == "trace":
            from .radio.trace import load_ue_traces
            load_ue_traces(self.radio.trace, self.nodes.n_devices)  # whole files, before a run
        t = self.train
        if t.k > self.nodes.n_devices and t.policy in ("random", "round_robin", "channel_aware"):
            raise ValueError(f"train.k: {t.k} devices per round but only "
                             f"{self.nodes.n_devices} devices")
        if t.framework == "looped_tp":
            if self.model.n_head % self.nodes.n_devices or t.looped.d_ff % self.nodes.n_devices:
                raise ValueError("nodes.n_devices: looped_tp splits attention heads and the MLP "
                                 "across devices, so it must divide model.n_head and "
                                 "train.looped.d_ff")
        profiles = set(BUILTIN_PROFILES) | set(self.profiles)
        for field in ("device_profile", "edge_profile", "cloud_profile"):
            v = getattr(self.nodes, field)
            if v not in profiles:
                raise ValueError(f"nodes.{field}: unknown profile '{v}' "
                                 f"(known: {', '.join(sorted(profiles))})")
        if self.radio.mode == "nr" and self.radio.n_ues is not None \
                and self.radio.n_ues < self.nodes.n_devices:
            raise ValueError(f"radio.n_ues: {self.radio.n_ues} UEs but nodes.n_devices is "
                             f"{self.nodes.n_devices} (every device is a UE)")
        positions = self.radio.ue_positions_m
        if self.radio.mode == "nr" and positions is not None and len(positions) != self.n_ues():
            raise ValueError(f"radio.ue_positions_m: {len(positions)} positions for "
                             f"{self.n_ues()} UEs")
        if self.bridge.transport == "zmq" and self.radio.mode == "nr":
            raise ValueError("bridge.transport: zmq carries point-to-point networks (radio.mode "
                             "ideal or trace); radio.mode nr runs in-process")
        if self.train.server not in names or self.train.server.startswith(("ue", "gnb")):
            raise ValueError(f"train.server: '{self.train.server}' is not an edge server or the cloud "
                             f"(known: {known})")
        if (self.traffic.full_buffer_dl or self.traffic.full_buffer_ul) and \
                self.traffic.source not in names:
            raise ValueError(f"traffic.source: unknown node '{self.traffic.source}' (known: {known})")
        if self.model.seq_len > 1024:
            raise ValueError("model.seq_len: at most 1024 positions")
        unused = frameworks.unused_option(self)
        if unused:
            raise ValueError(unused)
        if t.policy is None and t.framework in frameworks.SCHEDULING:
            t.policy = "all"
        _check_recorded_policy(t)
        _check_model_fits(self.model, t.framework)
        if self.compute.execution == "cost" and t.dp.enabled:
            raise ValueError("compute.execution: cost has no gradient values for train.dp to "
                             "clip and noise; use compute.execution: real")
        if self.compute.execution == "recorded" or self.compute.record is not None:
            from .replay_timing import check
            check(self)
        _check_tdd_directions(self)
        if t.framework == "channel_prediction":
            from .frameworks.channel_prediction_config import check
            check(self)
        if t.framework == "beamforming":
            from .frameworks.channel_prediction_config import check_beamforming
            check_beamforming(self)
        return self


def _check_recorded_policy(t: TrainConfig) -> None:
    """``train.policy: recorded`` and its record go together, and the record holds every round
    the run takes (:func:`edgelam_ns3.policies.recorded_schedule`)."""
    if (t.policy == "recorded") != (t.policy_record is not None):
        raise ValueError("train.policy_record: given exactly when train.policy is recorded "
                         "(the run whose schedule it replays)")
    if t.policy == "recorded":
        from .policies import recorded_schedule

        rounds = recorded_schedule(t.policy_record)
        missing = [r for r in range(t.steps) if r not in rounds]
        if missing:
            raise ValueError(f"train.policy_record: {t.policy_record} records {len(rounds)} "
                             f"rounds, train.steps is {t.steps} (no round {missing[0]})")


def _check_tdd_directions(cfg: ScenarioConfig) -> None:
    """The 6G radio's TDD pattern has slots for each direction the run sends in (S slots carry
    both: DL symbols, a guard, UL symbols)."""
    r, t = cfg.radio, cfg.train
    if r.mode != "nr":
        return
    if t.framework == "none":
        needs = [("U", "uplink", "traffic.full_buffer_ul")] if cfg.traffic.full_buffer_ul else []
        if cfg.traffic.full_buffer_dl:
            needs.append(("D", "downlink", "traffic.full_buffer_dl"))
    else:
        why = f"train.framework {t.framework}"
        needs = [("U", "uplink", f"{why} (devices send to the server)")]
        if not (t.framework == "centralized" and cfg.transport.protocol == "udp"):
            needs.append(("D", "downlink", f"{why} (the server answers; TCP acknowledges)"))
    for slot, direction, why in needs:
        if slot not in r.tdd_pattern and "S" not in r.tdd_pattern:
            raise ValueError(f"radio.tdd_pattern: '{r.tdd_pattern}' has no {direction} slot "
                             f"({slot} or S), but {why} needs the {direction}")
    r.csi.check(r.tdd_pattern, r.scheduler)  # after the directions: SRS needs UL symbols too
    r.ul.check(r.tdd_pattern)


def _check_model_fits(m: ModelConfig, framework: str) -> None:
    """The cut leaves the server a block, and the pretrained base fits the model (whether the
    framework reads ``model.device_layers`` and ``model.base`` at all is
    :func:`edgelam_ns3.frameworks.unused_option`'s)."""
    if framework in frameworks.SPLIT_GPT and m.device_layers >= m.n_layer:
        raise ValueError(f"model.device_layers: {m.device_layers} blocks on the device but "
                         f"model.n_layer is {m.n_layer} (the server keeps at least one)")
    if m.base == "pretrained":
        from .pretrained import base_mismatch

        why = base_mismatch(m.n_layer, m.n_embd, m.n_head, m.seq_len)
        if why:
            raise ValueError(f"model.base: the pretrained base does not fit: {why} (set "
                             "model.base=random, or pretrain one: scripts/pretrain_base.py)")


# ---------------------------------------------------------------------------------------------


def _format_error(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if e["type"] == "extra_forbidden":
        return f"config: unknown key '{loc}'"
    if loc:
        return f"config: {loc}: {msg}"
    return f"config: {msg}"


def validate(raw: dict) -> ScenarioConfig:
    """Validate a raw config dict. Raises :class:`ConfigError` with a one-line message."""
    if not isinstance(raw, dict):
        raise ConfigError("config: the top level must be a mapping")
    try:
        return ScenarioConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None


def apply_override(raw: dict, assignment: str) -> None:
    """Apply one ``key.path=value`` override in place. The value is parsed as YAML
    (``3``, ``1e9``, ``true``, ``[8, 8]``); list items are addressed by index, as errors name
    them (``backhaul.links[0].rate_bps=1e8``) or as a path part (``backhaul.links.0.rate_bps``)."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, text = assignment.split("=", 1)
    value = yaml.safe_load(text) if text.strip() else ""
    parts = _key_parts(key.strip(), f"--set {assignment!r}")
    node: Any = raw
    for i, p in enumerate(parts[:-1]):
        here = _key_text(parts[:i + 1])
        if isinstance(node, list):
            node = node[_list_index(node, p, key)]
        else:
            node = node.setdefault(p, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"--set {key}: '{here}' is not a section")
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, key)] = value
    else:
        node[last] = value


def _key_parts(key: str, what: str) -> list[str]:
    """``backhaul.links[0].b`` -> ``["backhaul", "links", "0", "b"]``."""
    parts = []
    for piece in key.split("."):
        name, *indices = piece.split("[")
        if name:
            parts.append(name)
        for idx in indices:
            if not idx.endswith("]") or not idx[:-1]:
                raise ConfigError(f"{what}: malformed index '[{idx}' (write links[0])")
            parts.append(idx[:-1])
        if not name and not indices:
            parts.append("")
    if not parts or not all(parts):
        raise ConfigError(f"{what}: empty key")
    return parts


def _key_text(parts: list[str]) -> str:
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts).lstrip(".")


def _list_index(node: list, part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {key}: no list item [{part}] (the list has {len(node)})")
    return int(part)


def numbers_from_yaml(obj):
    """YAML 1.1 (PyYAML) reads ``1e9`` and ``2.5e6`` as strings; read them as floats."""
    if isinstance(obj, dict):
        return {k: numbers_from_yaml(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [numbers_from_yaml(v) for v in obj]
    if isinstance(obj, str):
        try:
            if "e" in obj.lower() and obj.strip()[0] in "0123456789.+-":
                return float(obj)
        except ValueError:
            return obj
    return obj


def scenario_path(name_or_path: str) -> Path:
    """A built-in scenario's YAML (``quickstart``) or a path to a YAML file. A built-in's name
    means the built-in even where a directory of that name exists."""
    p = Path(name_or_path)
    builtin = SCENARIO_DIR / f"{name_or_path}.yaml"
    if p.is_file():
        return p
    if p.suffix in (".yaml", ".yml") or ("/" in name_or_path and not builtin.is_file()):
        raise ConfigError(f"config: no such file '{p}'")
    if not builtin.is_file():
        known = ", ".join(builtin_scenarios())
        raise ConfigError(f"scenario '{name_or_path}': not a built-in ({known}) nor a YAML file")
    return builtin


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(x.stem for x in SCENARIO_DIR.glob("*.yaml"))


def scenario_summary(name_or_path: str, width: int = 100) -> str:
    """The first sentence of a scenario file's leading comment (at most ``width`` characters,
    cut at a word), as ``edgelam scenarios`` lists it."""
    comment = []
    for line in scenario_path(name_or_path).read_text().splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    text = " ".join(comment)
    end = re.search(r"\.(\s|$)", text)
    first = text[:end.start()] if end else text
    head, colon, tail = first.partition(": ")
    if colon:  # "Quickstart: what it is" -> what it is; "What it is (ref): detail" -> What it is
        first = tail[0].upper() + tail[1:] if len(head.split()) <= 2 else head
    if len(first) > width:
        first = first[:width - 3].rsplit(" ", 1)[0] + "..."
    return first or "(no description)"


def load(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> ScenarioConfig:
    """Load a scenario, apply ``key=value`` overrides, validate."""
    path = scenario_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config: {path}: not valid YAML{where} "
                          f"({getattr(exc, 'problem', None) or exc.__class__.__name__})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: {path}: cannot read ({exc})") from None
    if raw is None:
        raise ConfigError(f"config: {path}: empty (a scenario is a mapping of sections: name, "
                          "nodes, radio, train, ...)")
    return from_dict(raw, overrides)


def from_dict(raw: dict, overrides: list[str] | tuple[str, ...] = ()) -> ScenarioConfig:
    """Validate a raw dict after applying ``key=value`` overrides (the dict is not modified)."""
    raw = numbers_from_yaml(copy.deepcopy(raw))
    if any(a.split("=", 1)[0].strip() == "model.preset" for a in overrides) and \
            isinstance(raw.get("model"), dict):
        for key in MODEL_PRESETS["gpt2-small"]:  # --set model.preset replaces the file's sizes
            raw["model"].pop(key, None)
    for assignment in overrides:
        apply_override(raw, assignment)
    return validate(numbers_from_yaml(raw))


def to_yaml(cfg: ScenarioConfig) -> str:
    """The fully resolved config as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def describe(model: type[BaseModel] = ScenarioConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every leaf field, for CLI help. The items of lists and dicts of
    sections (``backhaul.links``, ``backhaul.cross_traffic``, ``profiles``) are described too,
    as ``backhaul.links[i].rate_bps`` and ``profiles.<name>.peak_flops``."""
    rows = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = f.annotation
        item = _section_items(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += describe(ann, key + ".")
            continue
        default = f.get_default(call_default_factory=True)
        if f.is_required():
            rows.append((key, "(required)", f.description or ""))
            continue
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        elif isinstance(default, list) and default and isinstance(default[0], BaseModel):
            default = [d.model_dump(mode="json") for d in default]
        if item is not None:
            where, section = item
            doc = (section.__doc__ or "").strip().splitlines()[0]
            each = "a list, each item" if where == "list" else "by name, each"
            rows.append((key, repr(default), f"{each}: {doc[0].lower()}{doc[1:]}"))
            sub = f"{key}[i]." if where == "list" else f"{key}.<name>."
            rows += describe(section, sub)
        else:
            rows.append((key, repr(default), f.description or ""))
    return rows


def _section_items(ann) -> tuple[str, type[BaseModel]] | None:
    """("list", Model) for ``list[Model]``, ("dict", Model) for ``dict[str, Model]``."""
    from typing import get_args, get_origin

    args = get_args(ann)
    if get_origin(ann) is list and args and isinstance(args[0], type) \
            and issubclass(args[0], BaseModel):
        return "list", args[0]
    if get_origin(ann) is dict and len(args) == 2 and isinstance(args[1], type) \
            and issubclass(args[1], BaseModel):
        return "dict", args[1]
    return None
