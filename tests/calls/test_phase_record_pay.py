"""Table tests of the recording of a call's bridge and of the agent-assisted payment
(acd.calls.phases.record, acd.calls.phases.payment; words: tests/calls/driver.py).

"rec start 1 wav" is the call's first recording; "row recording <outcome> <file ms>
[<reason of each paused interval>]" its row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acd.calls import commands as c
from acd.calls.model import BridgeRecording, CallSettings, QueueControl
from acd.calls.phases import record
from acd.calls.phases.base import Run
from acd.ivr import engine
from tests.calls.driver import CALL_ID, PAY_FLOW, WRAPUP, CallDriver, flow_of

POLICY = {p: CallSettings(queue_control=(("sales", QueueControl(p)),))
          for p in ("always", "never", "on_demand")}

# Connected, recorded (policy always), 5 s into the call.
REC = "CONNECTED; rec-on; tick 5"
# ...and the caller sent to the payment flow, its first prompt over (1 s later).
PAYING = f"{REC}; move payment; tick 1; pay-flow yaml; done"

CASES = [
    # policy, setup, script, commands, phase
    ('always', 'start; done; enqueued; offer a100; stasis leg1; answer leg1; bridged',
     'fresh leg1',
     ['event connect', 'remember connected', 'rec start 1 wav'],
     'CONNECTED'),
    ('never', 'CONNECTED',
     'move record_start',
     ['reply no recording_off'],
     'CONNECTED'),
    ('on_demand', 'CONNECTED',
     'move record_start',
     ['rec start 1 wav'],
     'CONNECTED'),
    ('on_demand', 'CONNECTED; move record_start',
     'rec-on',
     ['reply ok recording=active'],
     'CONNECTED'),
    ('on_demand', 'CONNECTED; move record_start',
     'fail StartBridgeRecording refused',
     ['reply no recording_failed', 'row recording failed 0 []'],
     'CONNECTED'),
    ('always', REC,
     'move record_start',
     ['reply no recording'],
     'CONNECTED'),
    ('on_demand', 'CONNECTED',
     'move record_pause',
     ['reply no not_recording'],
     'CONNECTED'),
    ('always', 'QUEUED',
     'move record_resume',
     ['reply no not_recording'],
     'QUEUED'),
    ('always', REC,
     'move record_pause',
     ['rec pause', 'event record_pause', 'reply ok recording=paused'],
     'CONNECTED'),
    # A second pause (by a supervisor) adds nothing; one resume resumes both.
    ('always', f'{REC}; move record_pause',
     'move-sup record_pause',
     ['reply ok recording=paused'],
     'CONNECTED'),
    ('always', f'{REC}; move record_pause; move-sup record_pause; tick 2',
     'move record_resume',
     ['rec resume', 'event record_resume', 'reply ok recording=active'],
     'CONNECTED'),
    ('always', f'{REC}; move-sup record_pause; tick 2; move record_resume; tick 3',
     'caller-hangup 16',
     ['timer reap 60', 'cancel announce:1', 'hangup leg1', 'rec stop',
      'row recording done 8000 [supervisor]', *WRAPUP],
     'ENDING'),
    ('always', REC,
     'hangup-req leg1',
     ['timer reap 60', 'hangup caller', 'rec stop', 'row recording done 5000 []',
      *WRAPUP],
     'ENDING'),
    # The agent's phone is lost: the caller goes back to the queue, unrecorded.
    ('always', REC,
     'destroyed leg1 27',
     ['row leg1 agent_lost 27', 'rec stop', 'row recording done 5000 []',
      'bridge destroy', 'wrapup a100', 'event complete', 'break a100 phone_lost',
      'play acd-please-hold', 'adopt sales', 'event enter',
      'remember queued'],
     'QUEUED'),
    # Asterisk ended the recording (the bridge went, a failure): its row, once.
    ('always', REC,
     'rec-off',
     ['row recording done 5000 []'],
     'CONNECTED'),
    ('always', REC,
     'rec-off failed',
     ['row recording failed 5000 []'],
     'CONNECTED'),
    # A pause that fails ends the recording: nothing meant not to be recorded is.
    ('always', f'{REC}; move record_pause',
     'fail PauseRecording error',
     ['rec stop', 'row recording done 5000 [agent]'],
     'CONNECTED'),
    ('always', f'{REC}; move record_pause; tick 1; move record_resume',
     'fail ResumeRecording gone',
     ['row recording done 5000 [agent]'],
     'CONNECTED'),

    # ---- payment
    ('always', 'QUEUED',
     'move payment',
     ['reply no not_connected'],
     'QUEUED'),
    ('always', REC,
     'move payment flow=billing',
     ['find-flow billing'],
     'CONNECTED'),
    ('always', f'{REC}; move payment',
     'pay-flow none',
     ['reply no no_flow'],
     'CONNECTED'),
    ('always', f'{REC}; move payment',
     'pay-flow yaml',
     ['reply ok flow=payment payment=running', 'rec pause', 'event record_pause',
      'bridge remove caller', 'bridge moh on', 'play acd-enter-card-number'],
     'CONNECTED'),
    ('always', f'{REC}; move payment; pay-flow yaml',
     'move payment',
     ['reply no payment_running'],
     'CONNECTED'),
    ('always', f'{REC}; move payment; pay-flow yaml',
     'move record_resume',
     ['reply no payment_running'],
     'CONNECTED'),
    # Paid: the caller back into the bridge with the agent, then the recording resumes.
    ('always', f'{PAYING}; key 4; key 2; key 4; key 2; tick 2',
     'http 201 P-77',
     ['cancel pay:7', 'event payment', 'bridge moh off', 'bridge add caller'],
     'CONNECTED'),
    ('always', f'{PAYING}; key 4; key 2; key 4; key 2; tick 2; http 201 P-77',
     'bridged',
     ['rec resume', 'event record_resume'],
     'CONNECTED'),
    ('always', f'{PAYING}; key 4; key 2; key 4; key 2; tick 2; http 201 P-77; bridged',
     'move status',
     ['status payment=paid payment_reference=P-77 phase=connected recording=active'],
     'CONNECTED'),
    # Declined: the flow says so to the caller, then back to the agent.
    ('always', f'{PAYING}; key 4; key 2; key 4; key 2; tick 2',
     'http 402',
     ['cancel pay:7', 'play acd-payment-failed'],
     'CONNECTED'),
    ('always', f'{PAYING}; key 4; key 2; key 4; key 2; tick 2; http 402',
     'done',
     ['event payment', 'bridge moh off', 'bridge add caller'],
     'CONNECTED'),
    # The caller hangs up while paying: the call ends as usual.
    ('always', f'{PAYING}; key 4',
     'caller-hangup 16',
     ['cancel pay:3', 'event payment', 'timer reap 60', 'cancel announce:1', 'hangup leg1',
      'rec stop', 'row recording done 6000 [payment]', *WRAPUP],
     'ENDING'),
    # The agent hangs up while the caller pays: wrap-up now; the caller pays on...
    ('always', f'{PAYING}; key 4',
     'hangup-req leg1',
     ['rec stop', 'row recording done 6000 [payment]', 'wrapup a100', 'event complete'],
     'CONNECTED'),
    # ...and then goes back to the head of the queue.
    ('always', f'{PAYING}; key 4; hangup-req leg1; destroyed leg1; key 2; key 4; key 2',
     'http 201 P-78',
     ['cancel pay:7', 'event payment', 'bridge destroy', 'play acd-please-hold',
      'adopt sales', 'event enter'],
     'QUEUED'),
    # The caller could not leave the bridge: no payment (the agent would hear it).
    ('always', f'{REC}; move payment; pay-flow yaml',
     'fail RemoveFromBridge error',
     ['stop-play', 'bridge moh off', 'event payment', 'rec resume',
      'event record_resume'],
     'CONNECTED'),
]


def run_case(policy: str, setup: str, script: str) -> tuple[CallDriver, list[str]]:
    d = CallDriver(settings=POLICY[policy])
    d.run(setup)
    return d, d.run(script)


@pytest.mark.parametrize(("policy", "setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[2]}" for i, x in enumerate(CASES)])
def test_record_and_pay(policy: str, setup: str, script: str, commands: list[str],
                        phase: str) -> None:
    d, out = run_case(policy, setup, script)
    assert out == commands
    assert d.phase.name == phase


def test_the_recording_row_says_when_each_pause_was() -> None:
    d, _ = run_case("always", f"{REC}; move record_pause; tick 2; move record_resume; "
                    "tick 1; move payment; tick 1; pay-flow yaml", "tick 3; caller-hangup 16")
    row = next(x.row for x in d.history if isinstance(x, c.WriteRow)
               and x.row.TABLE == "recordings")
    assert row.recording_id == f"acd-rec-{CALL_ID}" and row.file == row.recording_id + ".wav"
    t0 = d.now - timedelta(seconds=12)  # the recording started 12 s before the end
    spans = [(p["from"], p["to"], p["reason"]) for p in row.paused]  # type: ignore[attr-defined]
    at = [(t0 + timedelta(seconds=s)).isoformat(timespec="milliseconds") for s in (5, 7, 9, 12)]
    assert spans == [(at[0], at[1], "agent"), (at[2], at[3], "payment")]
    assert row.duration_ms == 12_000 - 2_000 - 3_000  # type: ignore[attr-defined]


def test_no_digit_of_the_card_leaves_the_machine_in_clear() -> None:
    d, _ = run_case("always", PAYING, "key 4; key 9; key 1; key 7; tick 1; http 201 P-1")
    assert "4917" not in repr(d.history) and "4917" not in repr(d.state)
    lookup = d.latest(c.IvrLookup)
    assert "4917" not in repr(lookup)  # the body's Secret is revealed only by the sender


def test_a_masked_collect_pauses_the_recording_while_it_runs() -> None:
    d = CallDriver(settings=POLICY["always"])
    d.run(REC)
    flow = flow_of(PAY_FLOW)
    ivr, _ = engine.start(flow, engine.IvrContext(CALL_ID, "5551234", "100"), d.now)
    assert ivr.collecting_masked
    run = Run(d.state, d.ms)
    record.follow_collect(run, ivr)
    rec = run.st.bridge_rec
    assert isinstance(rec, BridgeRecording) and rec.holds == {"collect"}
    assert [d.summary(x) for x in run.out] == ["rec pause", "event record_pause"]
    record.follow_collect(run, None)
    assert run.st.bridge_rec is not None and run.st.bridge_rec.state == "active"
    assert [d.summary(x) for x in run.out][-2:] == ["rec resume", "event record_resume"]
