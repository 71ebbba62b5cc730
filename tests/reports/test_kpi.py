"""Every KPI on hand-made event sequences, computed in Python and by SQL (triggers).

Each case lists rows and the figures a person works out by hand; both sides must
give them (and give each other's every other figure too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from acd.reports import kpi
from acd.reports.kpi import QueueRules
from tests.reports.helpers import at, both_agents, both_queues, call, insert, same, state

R = {"*": QueueRules()}
T = at("10:00:00")


def _case(calls: list[Any], expect: dict[str, Any], rules: dict[str, QueueRules] = R,
          **kw: Any) -> tuple[list[Any], dict[str, Any], dict[str, QueueRules], dict[str, Any]]:
    return calls, expect, rules, kw


QUEUE_CASES = {
    "answered within the threshold": _case(
        [call(T, 3), call(T, 20), call(T, 20.001)],
        {"offered": 3, "answered": 3, "answered_within": 2, "service_level": 2 / 3,
         "asa_s": (3 + 20 + 20.001) / 3, "longest_wait_s": 20.001}),
    "abandon exactly at the short threshold is short": _case(
        [call(T, 5, "abandoned"), call(T, 5.001, "abandoned"), call(T, 10)],
        {"entered": 3, "offered": 2, "short_abandons": 1, "abandoned": 1,
         "abandoned_within": 1, "avg_abandon_s": 5.001, "service_level": 0.5,
         "abandon_rate": 0.5, "longest_wait_s": 10.0}),
    "policy ignore drops abandons": _case(
        [call(T, 10), call(T, 30), call(T, 12, "abandoned"), call(T, 40, "abandoned")],
        {"offered": 4, "service_level": 1 / 2},
        {"*": QueueRules(abandon_policy="ignore")}),
    "policy lost counts abandons as failures": _case(
        [call(T, 10), call(T, 30), call(T, 12, "abandoned"), call(T, 40, "abandoned")],
        {"offered": 4, "service_level": 1 / 4}),
    "policy good_within counts quick abandons as good": _case(
        [call(T, 10), call(T, 30), call(T, 12, "abandoned"), call(T, 40, "abandoned")],
        {"offered": 4, "abandoned_within": 1, "service_level": 2 / 4},
        {"*": QueueRules(abandon_policy="good_within")}),
    "per-queue thresholds": _case(
        [call(T, 8, queue="vip"), call(T, 8, queue="q"), call(T, 3, "abandoned", queue="vip")],
        {"queue": "vip", "offered": 2, "answered_within": 0, "service_level": 0.0},
        {"*": QueueRules(), "vip": QueueRules(short_abandon_s=2, sl_threshold_s=5)}),
    "no calls offered: no service level": _case(
        [call(T, 2, "abandoned")],
        {"entered": 1, "offered": 0, "service_level": None, "asa_s": None, "aht_s": None}),
    "p90 by nearest rank in whole seconds": _case(
        [call(T, w) for w in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10.9)],
        {"asa_p90_s": 9}),
    "p90 of one call": _case([call(T, 42.7)], {"asa_p90_s": 42}),
    "talk time and AHT without wrap-up": _case(
        [call(T, 1, talk_s=100), call(T, 1, talk_s=200)],
        {"aht_s": 150.0, "talk_s": 300.0, "hold_s": 0.0, "wrap_s": 0.0}),
    "hold time counts in AHT, apart from talk": _case(
        [call(T, 1, talk_s=100, hold_s=20), call(T, 1, talk_s=200, hold_s=None)],
        {"aht_s": 160.0, "talk_s": 300.0, "hold_s": 20.0, "wrap_s": 0.0}),
    "the hold of a call nobody answered counts nowhere": _case(
        [call(T, 30, "abandoned", agent=None, hold_s=5), call(T, 1, talk_s=60, hold_s=6)],
        {"hold_s": 6.0, "aht_s": 66.0}),
    # Transfers are counted from the calls' queue events (tests/reports/test_moves.py).
    "transferred call is answered; its outcome is no transfer count": _case(
        [call(T, 4, "transferred"), call(T, 4)],
        {"answered": 2, "transfers": 0, "service_level": 1.0}),
    "callback request counts offered, not answered": _case(
        [call(T, 60, "callback", agent=None), call(T, 1)],
        {"offered": 2, "answered": 1, "callbacks": 1, "service_level": 0.5,
         "abandoned": 0}),
    "the callback acd places is only counted as answered callback": _case(
        [call(T, 60, "callback", agent=None, call_id="orig"),
         call(T + timedelta(minutes=5), 0, callback_of="orig"),
         call(T + timedelta(minutes=5), 0, "no_answer", agent=None, callback_of="orig")],
        {"entered": 1, "offered": 1, "callbacks": 1, "callbacks_answered": 1,
         "answered": 0}),
}


@pytest.mark.parametrize("name", list(QUEUE_CASES))
async def test_queue_kpi(conn: asyncpg.Connection, name: str) -> None:
    calls, expect, rules, _ = QUEUE_CASES[name]
    await insert(conn, calls, [])
    from acd.reports.sql import sync_rules

    await sync_rules(conn, rules)
    rows, py = await both_queues(conn, calls, [], rules)
    same(rows, py)
    row = next(r for r in rows if r["queue"] == expect.get("queue", "q"))
    for k, v in expect.items():
        if isinstance(v, float):
            assert row[k] == pytest.approx(v), k
        else:
            assert row[k] == v, k


async def test_call_spanning_two_intervals_counts_where_it_entered(
        conn: asyncpg.Connection) -> None:
    # Entered at 10:29:50, answered at 10:30:20, talked until 10:35.
    c = call(at("10:29:50"), 30, talk_s=270)
    await insert(conn, [c], [])
    rows, py = await both_queues(conn, [c], [], R, group="interval", minutes=30)
    same(rows, py)
    assert [(r["interval"], r["answered"], r["answered_within"]) for r in rows] == [
        (at("10:00:00").isoformat(), 1, 0)]


async def test_wrap_up_goes_to_the_call_the_agent_just_ended(
        conn: asyncpg.Connection) -> None:
    c1 = call(at("10:00:00"), 5, talk_s=100, queue="q", agent="a1")
    c2 = call(at("10:20:00"), 5, talk_s=100, queue="other", agent="a1")
    states = [state("a1", "available", at("09:00:00")),
              state("a1", "on_call", at("10:00:05")), state("a1", "wrap_up", at("10:01:45")),
              state("a1", "available", at("10:02:15")),
              state("a1", "on_call", at("10:20:05")), state("a1", "wrap_up", at("10:21:45")),
              state("a1", "available", at("10:21:55"))]
    await insert(conn, [c1, c2], states)
    rows, py = await both_queues(conn, [c1, c2], states, R)
    same(rows, py)
    by_q = {r["queue"]: r for r in rows}
    assert by_q["q"]["wrap_s"] == 30.0 and by_q["q"]["aht_s"] == 130.0
    assert by_q["other"]["wrap_s"] == 10.0 and by_q["other"]["aht_s"] == 110.0


AGENT_STATES = [
    ("a1", "available", "09:00:00", None), ("a1", "on_call", "09:10:00", None),
    ("a1", "wrap_up", "09:20:00", None), ("a1", "available", "09:25:00", None),
    ("a1", "break", "09:30:00", "lunch"), ("a1", "available", "10:00:00", None),
    ("a1", "break", "10:15:00", "coffee"), ("a1", "logged_out", "10:30:00", None),
]


async def test_agent_times_occupancy_utilisation(conn: asyncpg.Connection) -> None:
    states = [state(a, s, at(t), r) for a, s, t, r in AGENT_STATES]
    await insert(conn, [], states, batches=3)
    rows, py = await both_agents(conn, [], states)
    same(rows, py)
    (r,) = rows
    assert r["logged_in_s"] == 5400.0 and r["break_s"] == 2700.0
    assert r["breaks_s"] == {"coffee": 900.0, "lunch": 1800.0}
    assert r["states_s"] == {"available": 1800.0, "break": 2700.0, "on_call": 600.0,
                             "wrap_up": 300.0}
    assert r["occupancy"] == pytest.approx(900 / 2700)
    assert r["utilisation"] == pytest.approx(900 / 5400)


async def test_agent_logged_in_across_midnight_counts_on_both_days(
        conn: asyncpg.Connection) -> None:
    d1 = datetime(2026, 3, 10, tzinfo=UTC)
    states = [state("n1", "available", at("22:00:00", d1)),
              state("n1", "logged_out", at("02:30:00", d1 + timedelta(days=1)))]
    await insert(conn, [], states)
    rows, py = await both_agents(conn, [], states, group="day")
    same(rows, py)
    assert [(r["day"], r["logged_in_s"]) for r in rows] == [
        ("2026-03-10", 7200.0), ("2026-03-11", 9000.0)]


async def test_states_arriving_out_of_order_give_the_same_times(
        conn: asyncpg.Connection) -> None:
    states = [state(a, s, at(t), r) for a, s, t, r in AGENT_STATES]
    shuffled = states[4:] + states[:2] + states[2:4][::-1]
    for s in shuffled:
        await insert(conn, [], [s])
    rows, py = await both_agents(conn, [], states)
    same(rows, py)
    assert rows[0]["logged_in_s"] == 5400.0


PARIS = "Europe/Paris"
FALL_BACK = datetime(2026, 10, 25, tzinfo=UTC)  # 03:00 CEST -> 02:00 CET at 01:00 UTC


async def test_daylight_saving_change(conn: asyncpg.Connection) -> None:
    # 00:30 UTC = 02:30 CEST and 01:30 UTC = 02:30 CET: the same wall-clock hour
    # twice; each stays its own interval, and the local day has 25 hours.
    c1 = call(at("00:30:00", FALL_BACK), 5)
    c2 = call(at("01:30:00", FALL_BACK), 5)
    states = [state("p1", "available", at("22:00:00", FALL_BACK - timedelta(days=1))),
              state("p1", "logged_out", at("23:00:00", FALL_BACK))]
    await insert(conn, [c1, c2], states)
    rows, py = await both_queues(conn, [c1, c2], states, R, tz=PARIS, group="interval",
                                 minutes=60)
    same(rows, py)
    assert [r["interval"] for r in rows] == [
        "2026-10-25T00:00:00+00:00", "2026-10-25T01:00:00+00:00"]
    agents, apy = await both_agents(conn, [c1, c2], states, tz=PARIS, group="day")
    same(agents, apy)
    assert [(r["day"], r["logged_in_s"]) for r in agents if r["agent_id"] == "p1"] == [
        ("2026-10-25", 25 * 3600.0)]


@pytest.mark.parametrize(("utc", "minutes", "local_start"), [
    ("2026-10-25T00:45:00+00:00", 60, "2026-10-25T02:00:00+02:00"),
    ("2026-10-25T01:45:00+00:00", 60, "2026-10-25T02:00:00+01:00"),
    ("2026-03-29T01:15:00+00:00", 30, "2026-03-29T03:00:00+02:00"),
    ("2026-03-10T10:45:00+00:00", 30, "2026-03-10T11:30:00+01:00"),
    ("2026-03-10T10:45:00+00:00", 15, "2026-03-10T11:45:00+01:00"),
])
def test_interval_of_in_paris(utc: str, minutes: int, local_start: str) -> None:
    from zoneinfo import ZoneInfo

    got = kpi.interval_of(datetime.fromisoformat(utc), ZoneInfo(PARIS), minutes)
    assert got == datetime.fromisoformat(local_start)


@pytest.mark.parametrize(("waits", "p90"), [
    ({}, None), ({3: 1}, 3), ({1: 9, 50: 1}, 1), ({1: 8, 50: 2}, 50), ({0: 89, 7: 11}, 7),
])
def test_p90_nearest_rank(waits: dict[int, int], p90: int | None) -> None:
    assert kpi.p90_s(waits) == p90


async def test_dispositions_follow_updates_and_deletes(conn: asyncpg.Connection) -> None:
    from acd.reports.sql import disposition_report
    from tests.reports.helpers import WIDE

    t = at("10:00:00")
    await conn.executemany(
        "INSERT INTO dispositions (call_id, agent_id, queue, code, at) VALUES ($1,$2,$3,$4,$5)",
        [("c1", "a1", "q", "sale", t), ("c2", "a1", "q", "sale", t), ("c3", "a2", None, "x", t),
         ("c1", "a2", "q", "refund", t)])
    await conn.execute("UPDATE dispositions SET code = 'refund' WHERE call_id = 'c2'")
    await conn.execute("DELETE FROM dispositions WHERE call_id = 'c3'")
    got = await disposition_report(conn, *WIDE)
    rows = await conn.fetch("SELECT queue, code, at FROM dispositions")
    assert got == kpi.disposition_rows(dict(r) for r in rows)
    assert got == [{"queue": "q", "code": "refund", "calls": 2},
                   {"queue": "q", "code": "sale", "calls": 1}]
