"""Report settings: the contact center's time zone, the interval, per-queue KPI rules."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from acd.reports.kpi import QueueRules


class QueueKpiSettings(BaseModel):
    """One queue's KPI rules (docs/kpis.md)."""

    model_config = ConfigDict(extra="forbid")

    short_abandon_s: float = Field(default=5.0, ge=0, le=3600)
    sl_threshold_s: float = Field(default=20.0, ge=0, le=3600)
    abandon_policy: Literal["ignore", "lost", "good_within"] = "lost"
    target_sl: float = Field(default=0.8, ge=0, lt=1)
    target_asa_s: float | None = Field(default=None, gt=0)

    def rules(self) -> QueueRules:
        return QueueRules(self.short_abandon_s, self.sl_threshold_s, self.abandon_policy,
                          self.target_sl, self.target_asa_s)


class ReportSettings(BaseModel):
    """`reports:` in acd.yaml. `queues` maps a queue name to its rules; `default`
    applies to every other queue. `shrinkage` is the share of paid time agents are
    not available (breaks, absence): agents to schedule = needed / (1 - shrinkage)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    interval_minutes: Literal[15, 30, 60] = 30
    shrinkage: float = Field(default=0.3, ge=0, le=0.9)
    forecast_weeks: int = Field(default=4, ge=1, le=52)
    default: QueueKpiSettings = Field(default_factory=QueueKpiSettings)
    queues: dict[str, QueueKpiSettings] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (use an IANA name)") from exc
        return v

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rules(self) -> dict[str, QueueRules]:
        """Rules by queue name; '*' for every other queue."""
        out = {"*": self.default.rules()}
        out.update({q: s.rules() for q, s in self.queues.items()})
        return out
