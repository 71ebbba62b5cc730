"""Property test of the recording and the payment (acd.calls.phases.record, .payment):
any order of moves, keys, results, failures and hang-ups, then the call's end.
Every move is answered exactly once; each recording's row is written once, its
paused intervals in order, apart and inside the recording; the card's keys are in
no command; the call is written once."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Phase
from acd.store.rows import CallRow, RecordingRow
from tests.calls.driver import CallDriver
from tests.calls.test_phase_record_pay import POLICY, REC

CARD_KEYS = "9753"  # keys the property's caller presses: never in a command
# word -> the kind of command that must have been sent before it makes sense
STEPS: list[tuple[str, type | None]] = [
    ("move record_pause", None), ("move-sup record_pause", None),
    ("move record_resume", None), ("move-sup record_resume", None),
    ("move record_start", None), ("move payment", None), ("move status", None),
    ("move payment; pay-flow yaml; done", None),  # to the card's collect at once
    ("pay-flow yaml", c.FindPaymentFlow), ("pay-flow none", c.FindPaymentFlow),
    ("done", c.Play), ("keys", None), ("key 1", None),
    ("http 201 P-9", c.IvrLookup), ("http 402", c.IvrLookup), ("bridged", None),
    ("rec-on", c.StartBridgeRecording), ("rec-off", c.StartBridgeRecording),
    ("rec-off failed", c.StartBridgeRecording),
    ("fail PauseRecording error", c.PauseRecording),
    ("fail ResumeRecording gone", c.ResumeRecording),
    ("fail RemoveFromBridge error", c.RemoveFromBridge),
    ("fail AddToBridge error", c.AddToBridge),
    ("tick 1", None), ("tick 7", None),
    ("hangup-req leg1", None), ("caller-hangup 16", None),
]
END = ("caller-hangup 16", "destroyed leg1 16", "caller-destroyed 16", "reap")


def sendable(d: CallDriver, needs: type | None) -> bool:
    return needs is None or any(isinstance(x, needs) for x in d.history)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(range(len(STEPS))), min_size=4, max_size=40))
def test_recording_and_payment_in_any_order(steps: list[int]) -> None:
    d = CallDriver(settings=POLICY["always"])
    d.run(REC)
    asked: list[str] = []
    for i in steps:
        word, needs = STEPS[i]
        if d.phase is Phase.ENDED or not sendable(d, needs):
            continue
        for one in ("; ".join(f"key {k}" for k in CARD_KEYS) if word == "keys"
                    else word).split("; "):
            needs_of = {"done": c.Play, "pay-flow yaml": c.FindPaymentFlow}.get(one)
            if d.phase is Phase.ENDED or not sendable(d, needs_of):
                break
            p, rec = d.state.payment, d.state.bridge_rec
            if one.startswith("key") and p is not None and p.ivr is not None \
                    and not p.returning and rec is not None:
                assert rec.state == "paused", "a key while paying, recorded"
            asked += [f"r{len(d.history)}"] if one.startswith("move") else []
            d.do(one)
    for word in END:
        if d.phase is not Phase.ENDED:
            d.do(word)
    assert d.phase is Phase.ENDED

    replies: dict[str, int] = {}
    for cmd in d.history:
        if isinstance(cmd, c.Reply):
            replies[cmd.request_id] = replies.get(cmd.request_id, 0) + 1
    # REC asked nothing; every move of the steps got exactly one answer.
    assert {r: replies.get(r, 0) for r in asked} == dict.fromkeys(asked, 1)

    rows: list[Any] = [x.row for x in d.history if isinstance(x, c.WriteRow)]
    recordings = [r for r in rows if isinstance(r, RecordingRow)]
    names = [r.recording_id for r in recordings]
    started = [x.name for x in d.history if isinstance(x, c.StartBridgeRecording)]
    assert sorted(names) == sorted(started)  # each recording's row, once
    for r in recordings:
        spans = [(p["from"], p["to"]) for p in r.paused]
        flat = [t for span in spans for t in span]
        assert flat == sorted(flat), r.paused  # in order, apart
        start, end = r.started_at.isoformat(timespec="milliseconds"), \
            r.ended_at.isoformat(timespec="milliseconds")
        assert all(start <= t <= end for t in flat)
        assert r.duration_ms is not None and r.duration_ms >= 0
    assert len([r for r in rows if isinstance(r, CallRow)]) == 1
    assert CARD_KEYS not in repr(d.history)
    assert not any(isinstance(x, e.Control) for x in d.history)
