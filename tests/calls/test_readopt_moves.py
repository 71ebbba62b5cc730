"""Table tests of a call re-adopted with a move of #17 half-done (issue #17 / #12):
its record's "moves" (acd.calls.move_record), the re-adoption (acd.calls.adoption)
and the ending of each move (acd.calls.phases.readopt). Words: tests/calls/driver.py."""

from __future__ import annotations

import pytest

from acd.calls import move_record, rows
from acd.calls.adoption import adopted, base_state
from acd.calls.model import CallSettings, CallState, QueueControl, monitor_channels
from tests.calls.driver import AGENT_ENDS, CALLER, CallDriver

SETTINGS = CallSettings(transfer_queues=(("sales", 0, True),),
                        queue_control=(("sales", QueueControl("always")),))
RINGING = "CONNECTED; rec-on; move consult to=agent:a101; reserved a101; stasis xfer1"
TALKING = f"{RINGING}; answer xfer1"
BLIND = "CONNECTED; rec-on; move transfer to=agent:a101; reserved a101; stasis xfer1"
PLAIN = CallSettings(transfer_queues=(("sales", 0, True),))


def restart(d: CallDriver, gone: tuple[str, ...] = ()) -> list[str]:
    """acd dies now and a new one takes the call back from its last record: the
    commands of its first events (Readopted, then what the adoption posts)."""
    record = {k: str(v) for k, v in rows.record_fields(d.state, d.ms).items()}
    st = d.state
    channels = {CALLER, *(leg.channel_id for leg in st.live_legs()), *monitor_channels(st)}
    live = channels - {d.chan(x) for x in gone}
    base = base_state(record, CALLER, fallback_id="new", caller_number="5551234",
                      caller_name="", exten="100", language="en", settings=st.settings,
                      now_ms=d.ms)
    a = adopted(base, record, live, d.ms)
    assert set(a.legs) == live - {CALLER}
    d.state = a.state
    out: list[str] = []
    for event in (a.readopted, a.first):
        if event is not None:
            out += d.send(event)
    return out


CASES = [
    # A consult (target answered): the target hung up and to wrap-up, the agent back
    # with the caller, the consult bridge gone; the recording goes on.
    (TALKING, (), [
        "hangup xfer1", "wrapup a101", "event complete", "bridge remove leg1",
        "bridge add leg1", "moh off", "bridge destroy", "event consult_end"]),
    # The target still ringing: cancelled, its reservation released, music off.
    (RINGING, (), ["hangup xfer1", "dequeue", "moh off", "event consult_end"]),
    (BLIND, (), ["hangup xfer1", "dequeue", "moh off", "event transfer"]),
    # The target hung up while acd was down: its own rule (the agent back, its row).
    (TALKING, ("xfer1",), [
        "wrapup a101", "event complete", "bridge remove leg1", "bridge add leg1",
        "moh off", "bridge destroy", "event consult_end", "row xfer1 answered 16"]),
    # A conference goes on: all three are in the call's bridge.
    (f"{TALKING}; move conference", (), []),
    # The agent gone too: the recording stopped with its row, each leg's row, the
    # target and the agent to wrap-up, the call over as when an agent hangs up.
    (TALKING, ("leg1", "xfer1"), [
        "rec stop", "row recording done 0 []", "wrapup a101", "event complete",
        "bridge remove leg1", "bridge add leg1", "moh off", "bridge destroy",
        "event consult_end", "row leg1 answered 16", "row xfer1 answered 16",
        *AGENT_ENDS]),
]


@pytest.mark.parametrize(("setup", "gone", "commands"), CASES,
                         ids=[f"{i}" for i in range(len(CASES))])
def test_a_transfer_half_done_is_ended(setup: str, gone: tuple[str, ...],
                                       commands: list[str]) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(setup)
    assert restart(d, gone) == commands
    assert d.state.transfer is None or d.state.transfer.conference
    # The recording goes on unless the agent's leg is gone.
    assert (d.state.bridge_rec is None) == ("leg1" in gone)


def test_the_target_ends_its_row_after_the_restart() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TALKING)
    restart(d)
    assert d.run("destroyed xfer1 16") == ["row xfer1 answered 16"]
    assert d.run("bridged") == []  # the agent back in the call's bridge: no new answer
    assert d.state.connected_leg is not None and d.state.connected_leg.agent_id == "a100"


def test_a_new_consult_after_the_restart_makes_new_ids() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TALKING)
    restart(d)
    d.run("destroyed xfer1 16; move consult to=agent:a102")
    assert "create xfer2 PJSIP/a102" in d.run("reserved a102")


MONITORING = [
    # Listening: the supervisor's leg and the snoop hung up, the monitor bridge gone,
    # their rows and the end of the monitoring written.
    ("LISTENING", (), [
        "cancel monitor:sup1", "hangup snoop1.1", "row snoop1.1 done", "hangup sup1",
        "row sup1 answered", "bridge destroy mon1", "event monitor_end listen"]),
    # The supervisor hung up while acd was down: the monitoring's own rule.
    ("LISTENING", ("sup1",), [
        "cancel monitor:sup1", "hangup snoop1.1", "row snoop1.1 done",
        "row sup1 answered", "bridge destroy mon1", "event monitor_end listen"]),
    # Barging: the supervisor's leg hung up (it is in the call's bridge).
    ("CONNECTED; smove barge endpoint=PJSIP/super1; mon sup1 stasis; "
     "mon sup1 answered; bridged", (), [
         "cancel monitor:sup1", "hangup sup1", "row sup1 answered",
         "event monitor_end barge"]),
    # The supervisor's phone still ringing: hung up, its row "failed".
    ("CONNECTED; smove listen endpoint=PJSIP/super1; mon sup1 stasis", (), [
        "cancel monitor:sup1", "hangup sup1", "row sup1 failed"]),
]


@pytest.mark.parametrize(("setup", "gone", "commands"), MONITORING,
                         ids=[f"{i}" for i in range(len(MONITORING))])
def test_a_monitoring_is_ended(setup: str, gone: tuple[str, ...], commands: list[str]
                               ) -> None:
    d = CallDriver(settings=PLAIN)
    d.run(setup)
    assert d.state.monitor is not None
    # (a row's cause and detail left out: monitoring's own tables check them)
    out = [" ".join(x.split()[:3]) if x.startswith("row ") else x for x in restart(d, gone)]
    assert out == commands
    assert d.state.monitor is None and d.state.monitor_ids


def test_a_payment_is_interrupted() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run("CONNECTED; rec-on; tick 5; move payment; tick 1; pay-flow yaml; done; key 4; "
          "key 9")
    assert d.state.payment is not None and d.state.bridge_rec is not None
    assert d.state.bridge_rec.holds == {"payment", "collect"}
    record = rows.record_fields(d.state, d.ms)
    assert "49" not in str(record)  # no key the caller pressed
    assert restart(d) == [
        "event payment", "bridge moh off", "bridge add caller", "rec resume",
        "event record_resume"]
    assert d.state.payment is None and d.state.payment_result == ("interrupted", None)
    rec = d.state.bridge_rec  # recording again, the payment's pause kept for its row
    assert rec is not None and not rec.holds and rec.paused_since is None
    assert [reason for _, _, reason in rec.paused] == ["payment"]
    assert d.run("bridged") == []  # the caller back with the agent: no new answer
    assert d.run("key 1") == []  # and their keys go nowhere


@pytest.mark.parametrize(("setup", "commands", "holds"), [
    # Paused by the agent before acd died: it stays paused (the agent resumes it).
    ("CONNECTED; rec-on; tick 2; move record_pause", [], {"agent"}),
    # Never confirmed by Asterisk: stopped, its row written as failed.
    ("CONNECTED", ["rec stop", "row recording failed 0 []"], None),
])
def test_the_recording_after_a_restart(setup: str, commands: list[str],
                                       holds: set[str] | None) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(setup)
    assert d.state.bridge_rec is not None
    assert restart(d) == commands
    rec = d.state.bridge_rec
    assert (rec.holds if rec is not None else None) == holds


def test_a_held_caller_stays_held() -> None:
    d = CallDriver(settings=PLAIN)
    d.run("CONNECTED; move hold; hold-done hold; tick 4")
    out = restart(d)
    assert out == []
    assert d.state.held_ms is not None and d.state.hold_music


@pytest.mark.parametrize("setup", [TALKING, RINGING, BLIND, "LISTENING",
                                   f"{TALKING}; move conference"])
def test_the_record_keeps_the_moves(setup: str) -> None:
    d = CallDriver(settings=PLAIN if setup == "LISTENING" else SETTINGS)
    d.run(setup)
    moves = move_record.decode(move_record.encode(d.state))
    st = move_record.restore(CallState(d.state.call_id, CALLER, "", "", 0), moves)
    assert (st.transfer, st.monitor, st.bridge_rec, st.transfers, st.monitors) == (
        d.state.transfer, d.state.monitor, d.state.bridge_rec, d.state.transfers,
        d.state.monitors)
    assert st.legs == tuple(x for x in d.state.legs if x.kind == "transfer" and x.live)


@pytest.mark.parametrize("raw", ["", "{", "[]", '{"t": {}}', '{"n": [1]}', '{"m": {"n": 1}}'])
def test_a_record_it_cannot_read_names_no_moves(raw: str) -> None:
    assert move_record.decode(raw) == move_record.Moves()


@pytest.mark.parametrize(("script", "written"), [
    ("move consult to=agent:a101", False),  # a reservation: nothing up yet
    ("reserved a101", True),  # the target's leg
    ("stasis xfer1", False),
    ("answer xfer1", True),  # the consult bridge
    ("move cancel", True),  # over
])
def test_the_record_follows_the_moves(script: str, written: bool) -> None:
    """The service's step writes the record when a move's shape changes."""
    d = CallDriver(settings=SETTINGS)
    d.run("CONNECTED; move consult to=agent:a101; reserved a101; stasis xfer1; answer xfer1"
          .split(script)[0])
    before = d.state
    d.run(script)
    extra = rows.moves_record(before, d.state, d.last, d.ms)
    assert (extra is not None) is written
    if extra is not None:
        assert extra.fields[move_record.FIELD] == move_record.encode(d.state)


def test_a_blind_transfer_whose_agent_left_waits_for_its_target() -> None:
    """The agent who began a blind transfer hung up (their row written, wrap-up
    sent) while the target rang, then acd died: the caller still waits for the
    target (not hung up as if the agent had just left), no row or `complete` twice."""
    d = CallDriver(settings=PLAIN)
    d.run("CONNECTED; move transfer to=agent:a101; reserved a101; stasis xfer1; "
          "hangup-req leg1 16; destroyed leg1 16")
    record = rows.record_fields(d.state, d.ms)
    assert (record["agent_left"], record["leg_ended_ms"]) == (1, d.ms)
    assert restart(d) == []
    assert d.state.transfer is not None and d.state.moh
    d.run("answer xfer1; bridged; fresh xfer1")
    assert d.run("caller-hangup 16; destroyed xfer1 16") == ["row xfer1 answered 16",
                                                            "remember ending"]
    summaries = [d.summary(x) for x in d.history]
    assert summaries.count("row leg1 answered 16") == 1
    assert summaries.count("wrapup a100") == 1 and summaries.count("event complete") == 2
