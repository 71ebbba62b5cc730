"""Row types against the real tables, and the spool encoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from acd.store import spool
from acd.store.rows import (
    ROW_TYPES,
    AgentStateRow,
    CallRow,
    LegRow,
    QueueEventRow,
    RecordingRow,
    Row,
)

T0 = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)

SAMPLES: list[Row] = [
    CallRow("c1", "ch1", "+15551234", "100", "main", "v3", T0, "sales", T0, T0, T0, "a1",
            "answered", 16, 1200, 30000, {"lang": "fr", "pin": "****", "n": 3}),
    CallRow("c2", "ch2", "", "100", None, None, T0, None, None, None, None, None,
            "ivr_hangup", None, None, None, None),
    LegRow("l1", "c1", "agent", "acd-x", "PJSIP/agent1", "a1", "sales", T0, T0, T0, 16, 10,
           "answered_elsewhere"),
    LegRow("l2", "c1", "caller", None, None, None, None, None, None, None, None, None, None),
    QueueEventRow("e1", "c1", "sales", "offer", "a1",
                  T0.astimezone(timezone(timedelta(hours=-5))), 10, {"attempt": 1}),
    QueueEventRow("e2", "c1", "sales", "enter", None, T0, None, None),
    AgentStateRow("s1", "a1", "ready", None, "logged_out", T0),
    AgentStateRow("s2", "a1", "break", "lunch", "ready", T0),
    # Call control (migration 0007): a snoop leg and a recording with a paused interval.
    LegRow("l3", "c1", "snoop", "snoop-1", None, "a1", "sales", T0, T0, T0, 16, 0, None,
           {"mode": "whisper", "supervisor": "u1"}),
    RecordingRow("r1", "c1", "c1.wav", "wav", T0, T0, 61000,
                 [{"from": "2025-03-04T05:06:07+00:00", "to": "2025-03-04T05:06:17+00:00",
                   "reason": "collect"}], "done"),
    CallRow("c3", "ch3", "+15551234", "100", "main", "v3", T0, "sales", T0, T0, T0, "a1",
            "answered", 16, 1200, 30000, None, hold_ms=4500),
]


@pytest.mark.parametrize("cls", list(ROW_TYPES.values()), ids=list(ROW_TYPES))
async def test_columns_match_the_table(store_dsn: str, cls: type[Row]) -> None:
    conn = await asyncpg.connect(store_dsn)
    try:
        cols = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = $1 ORDER BY ordinal_position", cls.TABLE)
        pk = await conn.fetchval(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary",
            cls.TABLE)
    finally:
        await conn.close()
    assert tuple(r["column_name"] for r in cols) == cls.COLUMNS
    assert pk == cls.PRIMARY_KEY


@pytest.mark.parametrize("row", SAMPLES, ids=[r.key for r in SAMPLES])
def test_spool_line_round_trips(row: Row) -> None:
    back = spool.decode(spool.encode(row))
    assert back == row
    assert type(back) is type(row)


def test_a_line_spooled_before_migration_0007_still_reads() -> None:
    """Rows spooled by the version before (no hold_ms / detail) are not set aside."""
    old_call = ('{"t": "calls", "v": ["c9", "ch9", "+1", "100", null, null, null, null, null,'
                ' null, null, null, "ivr_hangup", null, null, null, null, null, null, null]}')
    back = spool.decode(old_call)
    assert isinstance(back, CallRow) and back.hold_ms is None
    old_leg = '{"t": "legs", "v": ["l9", "c9", "caller", null, null, null, null, null, null,' \
              ' null, null, null, null]}'
    leg = spool.decode(old_leg)
    assert isinstance(leg, LegRow) and leg.detail is None


@pytest.mark.parametrize(("line", "error"), [
    ('{"t": "nope", "v": []}', KeyError),
    ('{"t": "legs", "v": ["l9", "c9", "caller", null, null, null, null, null, null, null,'
     ' null, null, null, null, "one too many"]}', ValueError),
    ('{"t": "agent_states", "v": ["s1", "a1"]}', ValueError),
    ('{"t": "agent_states", "v": ["s1", "a1", "x", null, null, "not a time"]}', ValueError),
    ("{truncated", ValueError),
])
def test_spool_refuses_lines_that_hold_no_row(line: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        spool.decode(line)


def test_spool_file_keeps_rows_in_order_and_sets_bad_lines_aside(tmp_path: Path) -> None:
    path = spool.write_spool(tmp_path, "spool-1.jsonl", SAMPLES)
    with path.open("a") as f:
        f.write("{garbage\n")
    rows, bad = spool.read_spool(path)
    assert rows == SAMPLES
    assert bad == ["{garbage"]
    assert spool.list_spool(tmp_path) == [path]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(("row", "expected"), [
    (SAMPLES[0], ("c1", "ch1", "+15551234", "100", "main", "v3", T0, "sales", T0, T0, T0, "a1",
                  "answered", 16, 1200, 30000, '{"lang":"fr","pin":"****","n":3}', None, None,
                  None, None)),
    (SAMPLES[3], ("l2", "c1", "caller", None, None, None, None, None, None, None, None, None,
                  None, None)),
    (SAMPLES[8], ("l3", "c1", "snoop", "snoop-1", None, "a1", "sales", T0, T0, T0, 16, 0,
                  None, '{"mode":"whisper","supervisor":"u1"}')),
    (SAMPLES[9], ("r1", "c1", "c1.wav", "wav", T0, T0, 61000, '[{"from":"2025-03-04T05:06:07'
                  '+00:00","to":"2025-03-04T05:06:17+00:00","reason":"collect"}]', "done")),
    (SAMPLES[7], ("s2", "a1", "break", "lunch", "ready", T0)),
])
def test_record_is_column_order_with_json_encoded(row: Row, expected: tuple[object, ...],
                                                  ) -> None:
    assert row.record() == expected


@pytest.mark.parametrize(("sql", "ok"), [
    ("INSERT INTO queue_events VALUES ('e', 'c', 'q', 'hold', 'a1', now(), 0, NULL)", True),
    ("INSERT INTO queue_events VALUES ('e', 'c', 'q', 'record_pause', NULL, now(), 0,"
     " '{\"reason\": \"collect\"}')", True),
    ("INSERT INTO queue_events VALUES ('e', 'c', 'q', 'holding', 'a1', now(), 0, NULL)", False),
    ("INSERT INTO legs (leg_id, call_id, kind, detail) VALUES ('l', 'c', 'supervisor',"
     " '{\"mode\": \"barge\"}')", True),
    ("INSERT INTO legs (leg_id, call_id, kind) VALUES ('l', 'c', 'spy')", False),
    ("INSERT INTO legs (leg_id, call_id, kind, detail) VALUES ('l', 'c', 'snoop', '[]')", False),
    ("INSERT INTO recordings (recording_id, call_id, file, format, started_at, paused)"
     " VALUES ('r', 'c', 'c.wav', 'wav', now(), '{}')", False),
    ("INSERT INTO recordings (recording_id, call_id, file, format, started_at, duration_ms)"
     " VALUES ('r', 'c', 'c.wav', 'wav', now(), -1)", False),
    ("INSERT INTO calls (call_id, channel_id, caller_number, dialled, started_at, outcome,"
     " hold_ms) VALUES ('c', 'ch', '', '100', now(), 'answered', -5)", False),
])
async def test_call_control_constraints(store_dsn: str, sql: str, ok: bool) -> None:
    conn = await asyncpg.connect(store_dsn)
    try:
        if ok:
            await conn.execute(sql)
        else:
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(sql)
    finally:
        await conn.close()
