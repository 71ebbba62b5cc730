"""Transfers and holds in the reports (#17), counted from the calls' queue events,
defined once here in Python and in acd.reports.sql (`move_report`); the two must
agree (tests/reports/test_moves.py).

A call transferred from agent A to agent B who answers ends `answered`: its outcome
cannot say it was transferred, its `transfer` queue event does.

- **transfers**: `transfer` queue events that handed the caller on: result
  `completed` (the target agent answered; a blind transfer, or an attended one
  completed), `queued` (to a queue), `flow` (to an IVR flow) or `dialplan` (to a
  number). Failed ones (`failed:...`, `caller_gone`) do not count. Of them,
  **attended** (detail mode `attended`) and **blind** (the others). By queue (the
  call's queue when it was transferred) and by agent (the agent who transferred).
- **holds**: `hold` events (the caller put on hold, from the desktop, a supervisor or
  the phone's button); **hold time**: from each hold to the next `unhold` of the call
  (or, held to the end, the call's end), given to the agent and queue of the hold.

Both land in the 15-minute bucket of the event (the hold's start), not of the call's
entry: a report row of a queue or agent shows them beside the other figures of that
row's intervals (rows exist only where those figures do).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from acd.reports.kpi import _get, _group_key, _ms, bucket_of

By = Literal["queue", "agent"]
COUNTED = ("completed", "queued", "flow", "dialplan")  # transfer results that count


@dataclass(slots=True)
class MoveCounts:
    transfers: int = 0
    attended: int = 0
    holds: int = 0
    hold_ms: int = 0

    def add(self, other: MoveCounts) -> None:
        self.transfers += other.transfers
        self.attended += other.attended
        self.holds += other.holds
        self.hold_ms += other.hold_ms


Counts = Mapping[tuple[str, str], MoveCounts]  # (queue or agent, group key) -> counts


def _detail(ev: Any) -> dict[str, Any]:
    import json

    d = _get(ev, "detail")
    return json.loads(d) if isinstance(d, str) else dict(d or {})


def move_counts(events: Iterable[Any], calls: Iterable[Any], tz: ZoneInfo, *, by: By,
                group: str = "queue", minutes: int = 30, start: datetime | None = None,
                end: datetime | None = None) -> dict[tuple[str, str], MoveCounts]:
    """The counts in Python, from raw queue event and call rows (see the module)."""
    ended = {_get(c, "call_id"): _get(c, "ended_at") for c in calls}
    out: dict[tuple[str, str], MoveCounts] = defaultdict(MoveCounts)
    holds: dict[str, list[Any]] = defaultdict(list)

    def counts(ev: Any) -> MoveCounts | None:
        at = _get(ev, "at")
        if (start is not None and at < start) or (end is not None and at >= end):
            return None
        key = _get(ev, "queue") if by == "queue" else _get(ev, "agent_id") or ""
        return out[(key, _group_key(bucket_of(at), tz, group, minutes))]

    for ev in events:
        if _get(ev, "event") in ("hold", "unhold"):
            holds[_get(ev, "call_id")].append(ev)
        elif _get(ev, "event") == "transfer" and _detail(ev).get("result") in COUNTED:
            m = counts(ev)
            if m is not None:
                m.transfers += 1
                m.attended += _detail(ev).get("mode") == "attended"
    for call_id, evs in holds.items():
        evs.sort(key=lambda x: (_get(x, "at"), _get(x, "event_id")))
        for i, ev in enumerate(evs):
            if _get(ev, "event") != "hold" or (m := counts(ev)) is None:
                continue
            nxt = evs[i + 1] if i + 1 < len(evs) else None
            if nxt is not None and _get(nxt, "event") == "unhold":
                until = _get(nxt, "at")
            else:
                until = ended.get(call_id) or _get(ev, "at")
            m.holds += 1
            m.hold_ms += _ms(until - _get(ev, "at"))
    return dict(out)


def _row_key(row: Mapping[str, Any], name: str) -> tuple[str, str]:
    return (row[name], str(row.get("interval") or row.get("day") or ""))


def merge_queues(rows: Sequence[dict[str, Any]], counts: Counts) -> None:
    """The queue report's rows get their transfers and holds (in place)."""
    for row in rows:
        m = counts.get(_row_key(row, "queue")) or MoveCounts()
        row.update(transfers=m.transfers, transfers_attended=m.attended,
                   transfers_blind=m.transfers - m.attended, holds=m.holds)


def merge_agents(rows: Sequence[dict[str, Any]], counts: Counts) -> None:
    """The agent report's rows get the transfers they made and their holds (in place)."""
    for row in rows:
        m = counts.get(_row_key(row, "agent_id")) or MoveCounts()
        row.update(transfers=m.transfers, holds=m.holds, hold_s=m.hold_ms / 1000)
