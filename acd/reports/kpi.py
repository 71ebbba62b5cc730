"""The KPIs a contact center is run by, defined once, in plain Python over raw rows.

docs/kpis.md says the same in the same words; the SQL in
acd/store/migrations/0005_reports.sql and acd/reports/sql.py must agree with this
module (tests/reports check it on a synthetic month and on random histories).

Which calls count. A *queue call* is a `calls` row with a queue and an enqueue time
that acd did not place itself (`callback_of` is empty). Its figures land in the
interval in which it **entered the queue**, even when it is answered or ends in a
later one.

- **entered**: queue calls.
- **short abandon**: a queue call the caller hung up on (outcome `abandoned`) after
  waiting **at most** the queue's short-abandon threshold (default 5 s; a caller who
  hangs up at exactly 5 s is a short abandon). Short abandons are left out of offered.
- **offered**: entered minus short abandons.
- **answered**: offered calls an agent answered (`answered_at` is set), whatever the
  outcome (a call answered then transferred is answered).
- **abandoned**: offered calls with outcome `abandoned` that no agent answered.
- **answered within** / **abandoned within**: answered / abandoned after waiting at
  most the service-level threshold (default 20 s).
- **service level**, by the queue's abandon policy:
  `ignore`: answered within / (offered - abandoned);
  `lost`: answered within / offered (abandons count as failures; the default);
  `good_within`: (answered within + abandoned within) / offered.
  Callers who asked to be called back, were transferred by the flow, or left for
  any other reason count as not answered in time. No offered calls: no figure.
- **ASA** (average speed of answer): the true mean wait of answered calls (not a
  moving average). **ASA p90**: the wait, in whole seconds (rounded down), within
  which 90 % of answered calls were answered (nearest rank).
- **AHT** (average handle time): (talk + hold + wrap-up) / answered. Talk is the
  call row's `talk_ms` (connected time less hold); hold its `hold_ms` (every hold of
  the caller, from the desktop or the phone's button; docs/call-control.md); wrap-up is the time
  the agent then spent in the `wrap_up` state, given to the call the agent most
  recently started before the wrap-up began.
- **average abandon time**: the mean wait of abandoned calls (short ones excluded).
- **longest wait**: the longest wait of any offered call.
- **transfers** (and holds): from the calls' queue events, not their outcome (a call
  transferred to another agent who answers ends `answered`): acd.reports.moves.
- **callbacks**: queue calls whose caller asked to be called back (outcome
  `callback`); **callbacks answered**: calls acd placed to call back, answered.

Agents. An agent's *time in a state* runs from one `agent_states` row to the agent's
next row (the current state counts once it ends); it is split at interval edges, so
an agent logged in across midnight counts on both days. `logged_out` time is not
counted. **Logged in** = time in every other state; **break** = time in `break`,
also per break reason; **handle** = time in `on_call` + `wrap_up` (hold is part of
`on_call`). **Occupancy** = handle / (logged in - break); **utilisation** = handle /
logged in. **Answered** and **talk** per agent come from the calls they answered,
in the interval the call entered the queue.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

AbandonPolicy = Literal["ignore", "lost", "good_within"]
BUCKET = timedelta(minutes=15)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class QueueRules:
    """One queue's KPI settings."""

    short_abandon_s: float = 5.0
    sl_threshold_s: float = 20.0
    abandon_policy: AbandonPolicy = "lost"
    target_sl: float = 0.8
    target_asa_s: float | None = None

    @property
    def short_ms(self) -> int:
        return round(self.short_abandon_s * 1000)

    @property
    def sl_ms(self) -> int:
        return round(self.sl_threshold_s * 1000)


@dataclass(slots=True)
class QueueCounts:
    """Additive figures of one queue over some buckets (the summary table's columns)."""

    entered: int = 0
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    answer_wait_ms: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    abandon_wait_ms: int = 0
    short_abandons: int = 0
    longest_wait_ms: int = 0
    talk_ms: int = 0
    hold_ms: int = 0
    wrap_ms: int = 0
    transfers: int = 0
    callbacks: int = 0
    callbacks_answered: int = 0
    waits: dict[int, int] = field(default_factory=dict)  # whole seconds -> answered

    def add(self, other: QueueCounts) -> None:
        for f in fields(self):
            if f.name == "waits":
                for s, n in other.waits.items():
                    self.waits[s] = self.waits.get(s, 0) + n
            elif f.name == "longest_wait_ms":
                self.longest_wait_ms = max(self.longest_wait_ms, other.longest_wait_ms)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def bucket_of(t: datetime) -> datetime:
    """The 15-minute UTC bucket holding t."""
    n = (t - _EPOCH) // BUCKET
    return _EPOCH + n * BUCKET


def interval_of(bucket: datetime, tz: ZoneInfo, minutes: int) -> datetime:
    """The start (an instant) of the local interval of `minutes` holding the bucket.
    Across a DST change the repeated local hour makes intervals of its own."""
    local = bucket.astimezone(tz)
    into = (local.hour * 60 + local.minute) % minutes
    return (bucket - timedelta(minutes=into)).astimezone(UTC)


def day_of(bucket: datetime, tz: ZoneInfo) -> str:
    return bucket.astimezone(tz).date().isoformat()


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def _is_queue_call(c: Any) -> bool:
    return _get(c, "queue") is not None and _get(c, "enqueued_at") is not None


def add_call(counts: QueueCounts, c: Any, rules: QueueRules) -> None:
    """One call's figures (see the module's definitions)."""
    if _get(c, "callback_of") is not None:
        if _get(c, "answered_at") is not None:
            counts.callbacks_answered += 1
        return
    wait = _get(c, "wait_ms") or 0
    answered = _get(c, "answered_at") is not None
    aband = not answered and _get(c, "outcome") == "abandoned"
    short = aband and wait <= rules.short_ms
    counts.entered += 1
    if short:
        counts.short_abandons += 1
    else:
        counts.offered += 1
        counts.longest_wait_ms = max(counts.longest_wait_ms, wait)
    if answered:
        counts.answered += 1
        counts.answered_within += wait <= rules.sl_ms
        counts.answer_wait_ms += wait
        counts.talk_ms += _get(c, "talk_ms") or 0
        counts.hold_ms += _get(c, "hold_ms") or 0
        counts.waits[wait // 1000] = counts.waits.get(wait // 1000, 0) + 1
    if aband and not short:
        counts.abandoned += 1
        counts.abandoned_within += wait <= rules.sl_ms
        counts.abandon_wait_ms += wait
    counts.callbacks += _get(c, "outcome") == "callback"


RulesFor = Mapping[str, QueueRules]


def rules_for(rules: RulesFor, queue: str) -> QueueRules:
    return rules.get(queue) or rules.get("*") or QueueRules()


def queue_buckets(calls: Iterable[Any], states: Sequence[Any],
                  rules: RulesFor) -> dict[tuple[str, datetime], QueueCounts]:
    """Every queue's figures per 15-minute bucket, from raw call and state rows."""
    out: dict[tuple[str, datetime], QueueCounts] = defaultdict(QueueCounts)
    by_agent: dict[str, list[Any]] = defaultdict(list)
    for c in calls:
        if not _is_queue_call(c) or (_get(c, "callback_of") is not None
                                     and _get(c, "answered_at") is None):
            continue
        add_call(out[(_get(c, "queue"), bucket_of(_get(c, "enqueued_at")))], c,
                 rules_for(rules, _get(c, "queue")))
        if (_get(c, "agent_id") is not None and _get(c, "answered_at") is not None
                and _get(c, "callback_of") is None):
            by_agent[_get(c, "agent_id")].append(c)
    starts: dict[str, list[datetime]] = {}
    for agent, rows in by_agent.items():
        rows.sort(key=lambda r: (_get(r, "started_at"), _get(r, "call_id")))
        starts[agent] = [_get(r, "started_at") for r in rows]
    for agent, t0, t1, state, _reason in spans(states):
        i = bisect_right(starts.get(agent, []), t0)
        if state == "wrap_up" and i > 0:
            c = by_agent[agent][i - 1]  # the call the agent started last before t0
            out[(_get(c, "queue"), bucket_of(_get(c, "enqueued_at")))].wrap_ms += _ms(t1 - t0)
    return dict(out)


def _ms(d: timedelta) -> int:
    us = d // timedelta(microseconds=1)
    return int(math.copysign(math.floor(abs(us) / 1000 + 0.5), us))


def spans(states: Sequence[Any]) -> list[tuple[str, datetime, datetime, str, str]]:
    """(agent, from, to, state, reason) for each state an agent left, logged_out excluded."""
    by_agent: dict[str, list[Any]] = defaultdict(list)
    for s in states:
        by_agent[_get(s, "agent_id")].append(s)
    out = []
    for agent, rows in by_agent.items():
        rows.sort(key=lambda r: (_get(r, "at"), _get(r, "event_id")))
        for a, b in itertools.pairwise(rows):
            if _get(a, "state") != "logged_out" and _get(b, "at") > _get(a, "at"):
                out.append((agent, _get(a, "at"), _get(b, "at"), _get(a, "state"),
                            _get(a, "reason") or ""))
    return out


def agent_buckets(calls: Iterable[Any], states: Sequence[Any]
                  ) -> dict[tuple[str, datetime], AgentCounts]:
    """Every agent's time per state and reason, answered calls and talk, per bucket."""
    out: dict[tuple[str, datetime], AgentCounts] = defaultdict(AgentCounts)
    for agent, t0, t1, state, reason in spans(states):
        b = bucket_of(t0)
        while b < t1:
            piece = _ms(min(t1, b + BUCKET) - max(t0, b))
            out[(agent, b)].add_time(state, reason, piece)
            b += BUCKET
    for c in calls:
        if (_is_queue_call(c) and _get(c, "callback_of") is None
                and _get(c, "answered_at") is not None and _get(c, "agent_id") is not None):
            a = out[(_get(c, "agent_id"), bucket_of(_get(c, "enqueued_at")))]
            a.answered += 1
            a.talk_ms += _get(c, "talk_ms") or 0
    return dict(out)


@dataclass(slots=True)
class AgentCounts:
    """Additive figures of one agent: ms per (state, reason), answered, talk."""

    time_ms: dict[tuple[str, str], int] = field(default_factory=dict)
    answered: int = 0
    talk_ms: int = 0

    def add_time(self, state: str, reason: str, ms: int) -> None:
        if ms == 0:
            return
        key = (state, reason)
        self.time_ms[key] = self.time_ms.get(key, 0) + ms

    def add(self, other: AgentCounts) -> None:
        for (state, reason), ms in other.time_ms.items():
            self.add_time(state, reason, ms)
        self.answered += other.answered
        self.talk_ms += other.talk_ms


def _ratio(a: float, b: float) -> float | None:
    return None if b <= 0 else a / b


def p90_s(waits: Mapping[int, int]) -> int | None:
    """Nearest-rank 90th percentile of answered waits, whole seconds."""
    n = sum(waits.values())
    if n == 0:
        return None
    rank = math.ceil(0.9 * n)
    seen = 0
    for s in sorted(waits):
        seen += waits[s]
        if seen >= rank:
            return s
    return None  # pragma: no cover - unreachable: seen reaches n


def service_level(c: QueueCounts, policy: AbandonPolicy) -> float | None:
    if policy == "ignore":
        return _ratio(c.answered_within, c.offered - c.abandoned)
    if policy == "good_within":
        return _ratio(c.answered_within + c.abandoned_within, c.offered)
    return _ratio(c.answered_within, c.offered)


def queue_kpis(c: QueueCounts, rules: QueueRules) -> dict[str, Any]:
    """The derived KPIs of a queue's counts (ratios None when undefined; times in s)."""
    asa = _ratio(c.answer_wait_ms, c.answered)
    aht = _ratio(c.talk_ms + c.hold_ms + c.wrap_ms, c.answered)
    aban = _ratio(c.abandon_wait_ms, c.abandoned)
    return {
        "entered": c.entered, "offered": c.offered, "answered": c.answered,
        "abandoned": c.abandoned, "short_abandons": c.short_abandons,
        "answered_within": c.answered_within, "abandoned_within": c.abandoned_within,
        "service_level": service_level(c, rules.abandon_policy),
        "target_sl": rules.target_sl, "sl_threshold_s": rules.sl_threshold_s,
        "abandon_policy": rules.abandon_policy,
        "abandon_rate": _ratio(c.abandoned, c.offered),
        "asa_s": None if asa is None else asa / 1000, "asa_p90_s": p90_s(c.waits),
        "aht_s": None if aht is None else aht / 1000,
        "talk_s": c.talk_ms / 1000, "hold_s": c.hold_ms / 1000, "wrap_s": c.wrap_ms / 1000,
        "avg_abandon_s": None if aban is None else aban / 1000,
        "longest_wait_s": c.longest_wait_ms / 1000, "transfers": c.transfers,
        "callbacks": c.callbacks, "callbacks_answered": c.callbacks_answered,
    }


def agent_kpis(a: AgentCounts) -> dict[str, Any]:
    """The derived KPIs of an agent's counts (times in seconds)."""
    states: dict[str, int] = defaultdict(int)
    breaks: dict[str, int] = {}
    for (state, reason), ms in a.time_ms.items():
        states[state] += ms
        if state == "break":
            breaks[reason or "-"] = breaks.get(reason or "-", 0) + ms
    logged_in = sum(states.values())
    brk = states.get("break", 0)
    handle = states.get("on_call", 0) + states.get("wrap_up", 0)
    return {
        "answered": a.answered, "talk_s": a.talk_ms / 1000,
        "logged_in_s": logged_in / 1000, "break_s": brk / 1000, "handle_s": handle / 1000,
        "occupancy": _ratio(handle, logged_in - brk), "utilisation": _ratio(handle, logged_in),
        "states_s": {k: v / 1000 for k, v in sorted(states.items())},
        "breaks_s": {k: v / 1000 for k, v in sorted(breaks.items())},
    }


def _group_key(bucket: datetime, tz: ZoneInfo, group: str, minutes: int) -> str:
    if group == "interval":
        return interval_of(bucket, tz, minutes).isoformat()
    if group == "day":
        return day_of(bucket, tz)
    return ""


def queue_rows(buckets: Mapping[tuple[str, datetime], QueueCounts], rules: RulesFor,
               tz: ZoneInfo, *, group: str = "queue", minutes: int = 30,
               start: datetime | None = None, end: datetime | None = None
               ) -> list[dict[str, Any]]:
    """The queue report computed in Python: the same rows as the SQL one."""
    sums: dict[tuple[str, str], QueueCounts] = defaultdict(QueueCounts)
    for (queue, b), c in buckets.items():
        if (start is None or b >= start) and (end is None or b < end):
            sums[(_group_key(b, tz, group, minutes), queue)].add(c)
    out = []
    for (key, queue), c in sorted(sums.items()):
        row: dict[str, Any] = {"queue": queue}
        if group in ("interval", "day"):
            row[group] = key
        row.update(queue_kpis(c, rules_for(rules, queue)))
        out.append(row)
    return out


def agent_rows(buckets: Mapping[tuple[str, datetime], AgentCounts], tz: ZoneInfo, *,
               group: str = "queue", minutes: int = 30, start: datetime | None = None,
               end: datetime | None = None) -> list[dict[str, Any]]:
    """The agent report computed in Python: the same rows as the SQL one."""
    sums: dict[tuple[str, str], AgentCounts] = defaultdict(AgentCounts)
    for (agent, b), a in buckets.items():
        if (start is None or b >= start) and (end is None or b < end):
            sums[(_group_key(b, tz, group, minutes), agent)].add(a)
    out = []
    for (key, agent), a in sorted(sums.items()):
        row: dict[str, Any] = {"agent_id": agent}
        if group in ("interval", "day"):
            row[group] = key
        row.update(agent_kpis(a))
        out.append(row)
    return out


def disposition_rows(rows: Iterable[Any], start: datetime | None = None,
                     end: datetime | None = None) -> list[dict[str, Any]]:
    """Dispositions per queue and code, by the bucket in which they were saved."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        b = bucket_of(_get(r, "at"))
        if (start is None or b >= start) and (end is None or b < end):
            counts[(_get(r, "queue") or "", _get(r, "code"))] += 1
    ordered = sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    return [{"queue": q, "code": c, "calls": n} for (q, c), n in ordered]
