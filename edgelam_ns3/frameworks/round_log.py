"""The per-round latency breakdown of the training frameworks (one row of ``rounds.parquet``
per round)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoundLog:
    """Latency breakdown of one round along its critical path. Each phase is the slowest
    device's (or message's) time in that phase; phases run one after the other."""

    index: int
    t_start_s: float
    scheduled: list[int] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    device_compute_s: float = 0.0
    uplink_s: float = 0.0
    server_compute_s: float = 0.0
    downlink_s: float = 0.0
    bytes_up: int = 0
    bytes_down: int = 0
    losses: list[float] = field(default_factory=list)
    _phase: dict = field(default_factory=dict)

    def job(self, phase: str, rec: dict) -> None:
        """Account a finished compute job (a record from :class:`~edgelam_ns3.compute.Device`)."""
        d = rec["t_end_s"] - rec["t_start_s"]
        key = ("server" if phase.startswith("server") else "device", phase)
        self._phase[key] = max(self._phase.get(key, 0.0), d)

    def message(self, phase: str, msg, up: bool) -> None:
        """Account a delivered message of this round."""
        key = ("up" if up else "down", phase)
        self._phase[key] = max(self._phase.get(key, 0.0), msg.latency_s)
        if up:
            self.bytes_up += msg.bytes
        else:
            self.bytes_down += msg.bytes

    def close(self, t_end_s: float, extra: dict | None = None) -> dict:
        """The round's row for ``rounds.parquet``."""
        for (kind, _), v in self._phase.items():
            if kind == "device":
                self.device_compute_s += v
            elif kind == "server":
                self.server_compute_s += v
            elif kind == "up":
                self.uplink_s += v
            else:
                self.downlink_s += v
        row = {
            "round": self.index,
            "t_start_s": self.t_start_s,
            "t_end_s": t_end_s,
            "latency_s": t_end_s - self.t_start_s,
            "device_compute_s": self.device_compute_s,
            "uplink_s": self.uplink_s,
            "server_compute_s": self.server_compute_s,
            "downlink_s": self.downlink_s,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "n_scheduled": len(self.scheduled),
            "scheduled": ",".join(str(i) for i in self.scheduled),
            "shares": ",".join(f"{s:.4f}" for s in self.shares),
            "loss": sum(self.losses) / len(self.losses) if self.losses else float("nan"),
        }
        row.update(extra or {})
        return row


BREAKDOWN = ("latency_s", "device_compute_s", "uplink_s", "server_compute_s", "downlink_s")
"""The latency breakdown of a round's row, seconds: the whole round and its phases."""


def rounds_summary(rows: list[dict], target_loss: float | None) -> dict:
    """The run summary's training figures from the rounds' rows (:meth:`RoundLog.close` rows
    with ``eval_loss``): first and last training and held-out loss, the simulated time at which
    the held-out loss first reached ``target_loss``, and the mean latency breakdown."""
    out = {"loss_first": None, "loss_last": None, "time_to_target_s": None,
           "target_loss": target_loss}
    if not rows:
        return out
    out.update(loss_first=rows[0]["loss"], loss_last=rows[-1]["loss"],
               eval_loss_first=rows[0]["eval_loss"], eval_loss_last=rows[-1]["eval_loss"],
               round_breakdown_mean_s={k: sum(r[k] for r in rows) / len(rows)
                                       for k in BREAKDOWN})
    if target_loss is not None:
        out["time_to_target_s"] = next((r["t_end_s"] for r in rows
                                        if r["eval_loss"] <= target_loss), None)
    return out
