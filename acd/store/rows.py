"""The rows acd writes to PostgreSQL: one slotted, frozen dataclass per table.

Each row type knows its table, its primary key and its column order (the order of
its fields, the same as the table's), and turns itself into the tuple COPY wants.
Columns that are NOT NULL in the migrations refuse a None: the writer sets such a
row aside in its dead-letter file, it never blocks the other rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar

__all__ = ["ROW_TYPES", "AgentStateRow", "CallRow", "LegRow", "QueueEventRow", "RecordingRow",
           "Row"]


class Row:
    """Table metadata and encoding shared by the row types."""

    __slots__ = ()

    TABLE: ClassVar[str]
    PRIMARY_KEY: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    REQUIRED: ClassVar[int]          # the leading columns without a default
    JSON_COLUMNS: ClassVar[tuple[int, ...]]
    TIME_COLUMNS: ClassVar[tuple[int, ...]]
    _getter: ClassVar[attrgetter[Any]]

    def values(self) -> tuple[Any, ...]:
        """The row's values in column order, as Python objects."""
        out: tuple[Any, ...] = type(self)._getter(self)
        return out

    def record(self) -> tuple[Any, ...]:
        """The row's values in column order with JSON columns encoded: what COPY takes."""
        values = self.values()
        json_cols = type(self).JSON_COLUMNS
        if not json_cols:
            return values
        out = list(values)
        for i in json_cols:
            if out[i] is not None:
                out[i] = json.dumps(out[i], separators=(",", ":"), ensure_ascii=False)
        return tuple(out)

    @property
    def key(self) -> str:
        value: str = getattr(self, type(self).PRIMARY_KEY)
        return value


@dataclass(frozen=True, slots=True)
class CallRow(Row):
    """One call, written once when it ends. `outcome`: answered, abandoned, ivr_hangup,
    transferred, failed, callback (the caller asked to be called back), voicemail,
    or no_answer (a callback the caller did not pick up)."""

    TABLE: ClassVar[str] = "calls"
    PRIMARY_KEY: ClassVar[str] = "call_id"

    call_id: str
    channel_id: str
    caller_number: str
    dialled: str
    flow: str | None
    flow_version: str | None
    started_at: datetime | None
    queue: str | None
    enqueued_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    agent_id: str | None
    outcome: str
    hangup_cause: int | None
    wait_ms: int | None
    talk_ms: int | None
    variables: Mapping[str, object] | None
    callback_of: str | None = None  # the call whose caller asked to be called back
    ended_by: str | None = None  # caller, agent, acd or unknown (acd.calls.endings)
    end_detail: str | None = None  # e.g. acd_down, events_lost: what is known is partial
    hold_ms: int | None = None  # the caller's time on hold (not in talk_ms), migration 0007


@dataclass(frozen=True, slots=True)
class LegRow(Row):
    """One channel of a call. `kind`: caller, agent, transfer (a consult or transfer
    target), snoop, or supervisor (the supervisor's phone while monitoring)."""

    TABLE: ClassVar[str] = "legs"
    PRIMARY_KEY: ClassVar[str] = "leg_id"

    leg_id: str
    call_id: str
    kind: str
    channel_id: str | None
    endpoint: str | None
    agent_id: str | None
    queue: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: int | None
    wait_ms: int | None
    outcome: str | None
    detail: Mapping[str, object] | None = None  # what the leg was for, migration 0007


@dataclass(frozen=True, slots=True)
class QueueEventRow(Row):
    """One step of a call through a queue (`event_id`: uuid4 hex made by the caller).
    `event`: enter, offer, no_answer, busy, unreachable, connect, complete, abandon,
    exit, callback, transfer; and (migration 0007, docs/call-control.md) hold, unhold,
    consult, consult_end, conference, escalate, monitor, monitor_end, record_pause,
    record_resume, payment."""

    TABLE: ClassVar[str] = "queue_events"
    PRIMARY_KEY: ClassVar[str] = "event_id"

    event_id: str
    call_id: str
    queue: str
    event: str
    agent_id: str | None
    at: datetime | None
    wait_ms: int | None
    detail: Mapping[str, object] | None
    # Names an event that must be written once whoever writes it (migration 0008).
    once_key: str | None = None


@dataclass(frozen=True, slots=True)
class AgentStateRow(Row):
    """One change of an agent's state (`event_id`: uuid4 hex made by the caller)."""

    TABLE: ClassVar[str] = "agent_states"
    PRIMARY_KEY: ClassVar[str] = "event_id"

    event_id: str
    agent_id: str
    state: str
    reason: str | None
    previous: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class RecordingRow(Row):
    """One recording of a call's bridge, written when it ends. `duration_ms` is the
    file's length (recorded time less the paused intervals); `paused` lists them as
    {"from", "to", "reason"} (ISO times; reason agent, supervisor or collect)."""

    TABLE: ClassVar[str] = "recordings"
    PRIMARY_KEY: ClassVar[str] = "recording_id"

    recording_id: str
    call_id: str
    file: str
    format: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    paused: Sequence[Mapping[str, object]]
    outcome: str | None


def _describe(cls: type[Row]) -> None:
    all_fields = fields(cls)  # type: ignore[arg-type]
    names = tuple(f.name for f in all_fields)
    types = {f.name: str(f.type) for f in all_fields}
    cls.COLUMNS = names
    cls.REQUIRED = len([f for f in all_fields
                        if f.default is MISSING and f.default_factory is MISSING])
    cls.JSON_COLUMNS = tuple(i for i, n in enumerate(names) if "Mapping" in types[n])
    cls.TIME_COLUMNS = tuple(i for i, n in enumerate(names) if "datetime" in types[n])
    cls._getter = attrgetter(*names)


ROW_TYPES: dict[str, type[Row]] = {}
for _cls in (CallRow, LegRow, QueueEventRow, AgentStateRow, RecordingRow):
    _describe(_cls)
    ROW_TYPES[_cls.TABLE] = _cls
