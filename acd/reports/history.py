"""A synthetic history for demos and benchmarks: `acd demo history --days 28`.

Callers arrive by a daily and weekly shape (busy mornings, a lunch dip, quiet
weekends) in the contact center's time zone; one pool of agents, staffed hour by
hour from Erlang C with some slack and some shortfall, answers them first come,
first served. Callers give up after an exponential patience; agents take breaks.
The rows are the ones acd itself writes (calls, legs, queue events, agent states,
dispositions), so every report reads them as it would read real traffic.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from acd.reports.erlang import agents_needed
from acd.store.rows import AgentStateRow, CallRow, LegRow, QueueEventRow

# Share of a day's calls per local hour (weekday), and per weekday (Mon..Sun).
HOURS = {8: 4, 9: 9, 10: 12, 11: 11, 12: 7, 13: 7, 14: 10, 15: 10, 16: 9, 17: 7,
         18: 5, 19: 3}
WEEKDAYS = (1.25, 1.1, 1.0, 1.0, 0.95, 0.45, 0.2)
QUEUES = (("sales", 0.45, 180.0), ("support", 0.4, 300.0), ("billing", 0.15, 240.0))
BREAKS = ("coffee", "lunch", "training")
CODES = ("order", "question", "complaint", "refund", "no_sale")


@dataclass(slots=True)
class History:
    """The rows of a synthetic period, by table."""

    calls: list[CallRow] = field(default_factory=list)
    legs: list[LegRow] = field(default_factory=list)
    queue_events: list[QueueEventRow] = field(default_factory=list)
    agent_states: list[AgentStateRow] = field(default_factory=list)
    dispositions: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class _Agent:
    id: str
    free_at: datetime
    state: str = "logged_out"


def _ms(d: timedelta) -> int:
    return round(d.total_seconds() * 1000)


class _Gen:
    def __init__(self, tz: ZoneInfo, seed: int, full: bool) -> None:
        self.tz = tz
        self.rnd = random.Random(seed)
        self.full = full
        self.out = History()
        self.agents: list[_Agent] = []
        self.seq = 0

    def _id(self) -> str:
        self.seq += 1
        return f"{self.seq:012x}{self.rnd.getrandbits(48):012x}"

    def _state(self, a: _Agent, state: str, at: datetime, reason: str | None = None) -> None:
        self.out.agent_states.append(AgentStateRow(
            event_id=self._id(), agent_id=a.id, state=state, reason=reason,
            previous=a.state, at=at))
        a.state = state

    def _staff(self, hour_start: datetime, expected: float) -> list[_Agent]:
        """Agents on shift for this hour: Erlang C's figure, give or take 15 %."""
        aht = sum(share * t for _, share, t in QUEUES) + 15
        need = agents_needed(expected, aht, 0.8, 20).agents if expected > 0 else 0
        n = max(0, round(need * self.rnd.uniform(0.85, 1.15)))
        while len(self.agents) < n:
            self.agents.append(_Agent(f"{100 + len(self.agents)}", hour_start))
        on = self.agents[:n]
        for a in self.agents[n:]:
            if a.state != "logged_out":
                a.free_at = max(a.free_at, hour_start)
                self._state(a, "logged_out", a.free_at)
        for a in on:
            if a.state == "logged_out":
                a.free_at = max(a.free_at, hour_start)
                self._state(a, "available", a.free_at)
            elif self.rnd.random() < 0.25:
                start = max(a.free_at, hour_start + timedelta(minutes=self.rnd.uniform(0, 40)))
                reason = self.rnd.choice(BREAKS)
                self._state(a, "break", start, reason)
                a.free_at = start + timedelta(minutes=30 if reason == "lunch"
                                              else self.rnd.uniform(5, 15))
                self._state(a, "available", a.free_at)
        return on

    def day(self, d: date, calls_per_day: float) -> None:
        volume = calls_per_day * WEEKDAYS[d.weekday()] * 7 / sum(WEEKDAYS)
        total = sum(HOURS.values())
        for hour in range(24):
            start = datetime(d.year, d.month, d.day, hour, tzinfo=self.tz)
            if start.astimezone(self.tz).hour != hour:
                continue  # an hour a DST change skips
            expected = volume * HOURS.get(hour, 0) / total
            on = self._staff(start, expected)
            if not on:
                continue
            n = self._poisson(expected)
            arrivals = sorted(start + timedelta(seconds=self.rnd.uniform(0, 3600))
                              for _ in range(n))
            heap = [(a.free_at, i) for i, a in enumerate(on)]
            heapq.heapify(heap)
            for t in arrivals:
                self._call(t, on, heap)

    def _poisson(self, mean: float) -> int:
        if mean > 50:
            return max(0, round(self.rnd.gauss(mean, math.sqrt(mean))))
        k, p, limit = 0, 1.0, math.exp(-mean)
        while True:
            p *= self.rnd.random()
            if p <= limit:
                return k
            k += 1

    def _call(self, t: datetime, on: list[_Agent], heap: list[tuple[datetime, int]]) -> None:
        r = self.rnd.random()
        queue, aht = QUEUES[-1][0], QUEUES[-1][2]
        for name, share, mean in QUEUES:
            if r < share:
                queue, aht = name, mean
                break
            r -= share
        call_id = uuid.UUID(int=self.rnd.getrandbits(128)).hex
        caller = f"+3361{self.rnd.randrange(10**7):07d}"
        enq = t + timedelta(seconds=self.rnd.uniform(5, 25))  # time in the IVR
        free_at, i = heap[0]
        wait = max(timedelta(0), free_at - enq)
        patience = timedelta(seconds=self.rnd.expovariate(1 / 90))
        agent: _Agent | None = None
        if wait > timedelta(seconds=90) and self.rnd.random() < 0.3:
            outcome, wait = "callback", timedelta(seconds=self.rnd.uniform(30, 90))
        elif patience < wait:
            outcome, wait = "abandoned", patience
        else:
            agent = on[i]
            outcome = "transferred" if self.rnd.random() < 0.02 else "answered"
        answered = talk = None
        end = enq + wait
        if agent is not None:
            answered = end
            talk = timedelta(seconds=max(20.0, self.rnd.lognormvariate(math.log(aht) - 0.18,
                                                                       0.6)))
            end = answered + talk
            wrap = timedelta(seconds=self.rnd.uniform(5, 30))
            self._state(agent, "on_call", answered)
            self._state(agent, "wrap_up", end)
            self._state(agent, "available", end + wrap)
            agent.free_at = end + wrap
            heapq.heapreplace(heap, (agent.free_at, i))
            if self.rnd.random() < 0.7:
                self.out.dispositions.append(
                    (call_id, agent.id, queue, self.rnd.choice(CODES), "", end + wrap))
        wait_ms = _ms(wait)
        # About one answered call in four has the caller on hold for a tenth of it (no
        # random draw: the rest of the history stays as it was).
        hold_ms = _ms(talk) // 10 if talk is not None and _ms(talk) % 4 == 0 else 0
        self.out.calls.append(CallRow(
            call_id=call_id, channel_id=f"ch-{call_id[:12]}", caller_number=caller,
            dialled="100", flow="main", flow_version="demo", started_at=t, queue=queue,
            enqueued_at=enq, answered_at=answered, ended_at=end,
            agent_id=agent.id if agent else None, outcome=outcome, hangup_cause=16,
            wait_ms=wait_ms, talk_ms=None if talk is None else _ms(talk) - hold_ms,
            variables=None, hold_ms=hold_ms if talk is not None else None))
        if self.full:
            self._details(call_id, queue, t, enq, answered, end, agent, outcome, wait_ms)

    def _details(self, call_id: str, queue: str, t: datetime, enq: datetime,
                 answered: datetime | None, end: datetime, agent: _Agent | None,
                 outcome: str, wait_ms: int) -> None:
        out = self.out
        out.legs.append(LegRow(
            leg_id=f"{call_id}-0", call_id=call_id, kind="caller", channel_id=None,
            endpoint=None, agent_id=agent.id if agent else None, queue=queue, started_at=t,
            answered_at=t, ended_at=end, hangup_cause=16, wait_ms=wait_ms, outcome=outcome))
        out.queue_events.append(QueueEventRow(
            event_id=self._id(), call_id=call_id, queue=queue, event="enter", agent_id=None,
            at=enq, wait_ms=0, detail=None))
        if agent is not None and answered is not None:
            out.legs.append(LegRow(
                leg_id=f"{call_id}-1", call_id=call_id, kind="agent", channel_id=None,
                endpoint=f"PJSIP/agent{agent.id}", agent_id=agent.id, queue=queue,
                started_at=answered, answered_at=answered, ended_at=end, hangup_cause=16,
                wait_ms=wait_ms, outcome="answered"))
            for event, at in (("connect", answered), ("complete", end)):
                out.queue_events.append(QueueEventRow(
                    event_id=self._id(), call_id=call_id, queue=queue, event=event,
                    agent_id=agent.id, at=at, wait_ms=wait_ms, detail=None))
        else:
            event = "callback" if outcome == "callback" else "abandon"
            out.queue_events.append(QueueEventRow(
                event_id=self._id(), call_id=call_id, queue=queue, event=event,
                agent_id=None, at=end, wait_ms=wait_ms, detail=None))

    def finish(self, at: datetime) -> None:
        for a in self.agents:
            if a.state != "logged_out":
                self._state(a, "logged_out", max(a.free_at, at))


def generate(days: int, end: date, tz: ZoneInfo, calls_per_day: float = 2000.0,
             seed: int = 1, full: bool = True) -> History:
    """The rows of `days` local days ending the day before `end`."""
    out = History()
    for part in by_day(days, end, tz, calls_per_day, seed, full):
        for f in ("calls", "legs", "queue_events", "agent_states", "dispositions"):
            getattr(out, f).extend(getattr(part, f))
    return out


def by_day(days: int, end: date, tz: ZoneInfo, calls_per_day: float = 2000.0,
           seed: int = 1, full: bool = True) -> Iterator[History]:
    """`generate`, one day's rows at a time (a million calls need not fit at once)."""
    gen = _Gen(tz, seed, full)
    first = end - timedelta(days=days)
    for i in range(days):
        gen.day(first + timedelta(days=i), calls_per_day)
        if i == days - 1:
            gen.finish(datetime(end.year, end.month, end.day, tzinfo=tz))
        yield gen.out
        gen.out = History()


def chunks(h: History) -> Iterator[tuple[str, list[tuple[Any, ...]], tuple[str, ...] | None]]:
    """(table, records, columns) for COPY."""
    for rows in (h.calls, h.legs, h.queue_events, h.agent_states):
        if rows:
            yield rows[0].TABLE, [r.record() for r in rows], rows[0].COLUMNS
    if h.dispositions:
        yield ("dispositions", h.dispositions,
               ("call_id", "agent_id", "queue", "code", "notes", "at"))
