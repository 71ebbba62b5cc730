"""Table tests of supervisor monitoring (acd.calls.phases.monitor): listen, whisper,
barge and monitor_stop on a connected call; mode switches that keep the supervisor's
leg; the supervisor's phone busy or silent; the supervisor or the call ending
(words: tests/calls/driver.py; `smove` asks as supervisor "sup", `move` as agent a100;
channels sup1 (the supervisor's leg), snoop1.k (its k-th snoop); bridges call, mon1)."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step
from acd.calls.phases.monitor import ENDPOINT
from tests.calls.driver import AGENT_ENDS, CALLER_ENDS, MACROS, CallDriver, check, ended

# Setups: the supervisor's phone ringing (its leg in Stasis), then answered
SUP_RINGING = "CONNECTED; smove listen endpoint=PJSIP/super1; mon sup1 stasis"
SUP_ANSWERED = f"{SUP_RINGING}; mon sup1 answered"
BARGE_ANSWERED = "CONNECTED; smove barge endpoint=PJSIP/super1; mon sup1 stasis; mon sup1 answered"
# The listening monitoring taken down: its snoop, the supervisor's leg, its bridge
SNOOP_DONE = "row snoop1.1 done 16 {'mode': 'listen', 'supervisor': 'sup'}"
SUP_DONE = "row sup1 answered 16 {'modes': ['listen'], 'supervisor': 'sup'}"
TORN_DOWN = ['cancel monitor:sup1', 'hangup snoop1.1', SNOOP_DONE, 'hangup sup1', SUP_DONE,
             'bridge destroy mon1', 'event monitor_end listen']
SUP_LEFT = [x for x in TORN_DOWN if x != 'hangup sup1']  # its leg already gone


def sup_failed(row: str, error: str, *, hangup: bool = True) -> list[str]:
    """The supervisor's leg given up before it joined: its row, the move refused."""
    return ['cancel monitor:sup1', *(['hangup sup1'] if hangup else []),
            f"row sup1 {row} {{'modes': [], 'supervisor': 'sup'}}", f'reply no {error}']


CASES = [
    # The first mode: the supervisor's phone rings, answers; snoop and leg bridged
    ('plain', 'CONNECTED',
     'smove listen endpoint=PJSIP/super1',
     ['create sup1 PJSIP/super1', 'timer monitor:sup1 35'],
     'CONNECTED'),
    ('plain', 'CONNECTED; smove listen endpoint=PJSIP/super1',
     'mon sup1 stasis',
     ['dial sup1'],
     'CONNECTED'),
    ('plain', SUP_RINGING,
     'mon sup1 answered',
     ['cancel monitor:sup1', 'bridge create mon1', 'snoop snoop1.1 on leg1 spy=both whisper=none'],
     'CONNECTED'),
    ('plain', 'CONNECTED; smove whisper endpoint=PJSIP/super1; mon sup1 stasis',
     'mon sup1 answered',
     ['cancel monitor:sup1', 'bridge create mon1', 'snoop snoop1.1 on leg1 spy=both whisper=out'],
     'CONNECTED'),
    ('plain', SUP_ANSWERED,
     'mon snoop1.1 stasis',
     ['move sup1+snoop1.1 ->mon1'],
     'CONNECTED'),
    ('plain', f'{SUP_ANSWERED}; mon snoop1.1 stasis',
     'mbridged',
     ['event monitor listen', 'reply ok changed=True mode=listen supervisor=sup'],
     'CONNECTED'),
    ('plain', 'CONNECTED; smove barge endpoint=PJSIP/super1; mon sup1 stasis',
     'mon sup1 answered',
     ['cancel monitor:sup1', 'move sup1 ->call'],
     'CONNECTED'),
    ('plain', BARGE_ANSWERED,
     'bridged',
     ['event monitor barge', 'reply ok changed=True mode=barge supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING',
     'move status',
     ['status monitored=listen phase=connected'],
     'CONNECTED'),
    # Switching: a new snoop first, the old one dropped after; the supervisor's leg stays
    ('plain', 'LISTENING',
     'smove whisper',
     ['snoop snoop1.2 on leg1 spy=both whisper=out'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper',
     'mon snoop1.2 stasis',
     ['bridge add mon1 snoop1.2'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper; mon snoop1.2 stasis',
     'mbridged',
     ['hangup snoop1.1', SNOOP_DONE,
      'event monitor whisper', 'reply ok changed=True mode=whisper supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING',
     'smove barge',
     ['move sup1 mon1>call'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove barge',
     'bridged',
     ['hangup snoop1.1', SNOOP_DONE,
      'event monitor barge', 'reply ok changed=True mode=barge supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove barge; bridged',
     'smove listen',
     ['snoop snoop1.2 on leg1 spy=both whisper=none'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove barge; bridged; smove listen',
     'mon snoop1.2 stasis',
     ['move sup1+snoop1.2 call>mon1'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove barge; bridged; smove listen; mon snoop1.2 stasis',
     'mbridged',
     ['event monitor listen', 'reply ok changed=True mode=listen supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING',
     'smove listen',
     ['reply ok changed=False mode=listen supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper',
     'smove barge',
     ['reply no monitor_busy'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper',
     'fail StartSnoop gone',
     ['hangup snoop1.2', 'reply no monitor_failed'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper; fail StartSnoop gone',
     'move status',
     ['status monitored=listen phase=connected'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper; mon snoop1.2 stasis',
     'fail AddToBridge refused',
     ['hangup snoop1.2', 'reply no monitor_failed'],
     'CONNECTED'),
    # Stopping; the supervisor hanging up; the call ending
    ('plain', 'LISTENING',
     'smove monitor_stop',
     [*TORN_DOWN, 'reply ok by=sup mode=listen supervisor=sup'],
     'CONNECTED'),
    ('plain', 'LISTENING; smove barge; bridged',
     'smove monitor_stop',
     [
         'cancel monitor:sup1',
         'hangup sup1',
         "row sup1 answered 16 {'modes': ['listen', 'barge'], 'supervisor': 'sup'}",
         'bridge destroy mon1',
         'event monitor_end barge',
         'reply ok by=sup mode=barge supervisor=sup',
     ],
     'CONNECTED'),
    ('plain', 'LISTENING',
     'mon sup1 hangup 16',
     SUP_LEFT,
     'CONNECTED'),
    ('plain', 'LISTENING; mon sup1 hangup 16',
     'mon sup1 gone 16',
     [],
     'CONNECTED'),
    ('plain', 'LISTENING; mon sup1 hangup 16',
     'move status',
     ['status phase=connected'],
     'CONNECTED'),
    ('plain', 'LISTENING',
     'caller-hangup 16',
     [*TORN_DOWN, *CALLER_ENDS],
     'ENDING'),
    ('plain', 'LISTENING; caller-hangup 16; destroyed leg1 16',
     'caller-destroyed 16',
     ended('answered', 'caller'),
     'ENDED'),
    ('plain', 'LISTENING',
     'hangup-req leg1 16',
     [*TORN_DOWN, *AGENT_ENDS],
     'ENDING'),
    ('plain', 'LISTENING; smove whisper',
     'caller-hangup 16',
     ['cancel monitor:sup1', 'hangup snoop1.2', *TORN_DOWN[1:], 'reply no call_ended',
      *CALLER_ENDS],
     'ENDING'),
    ('plain', 'LISTENING',
     'mon snoop1.1 gone',
     TORN_DOWN,
     'CONNECTED'),
    ('plain', SUP_RINGING,
     'caller-hangup 16',
     [*sup_failed('cancelled 16', 'call_ended'), *CALLER_ENDS],
     'ENDING'),
    # Events lost (a gap in the events): what reconciliation finds gone ends what it carried
    ('plain', 'LISTENING',
     'vanished sup1',
     SUP_LEFT,
     'CONNECTED'),
    ('plain', 'LISTENING',
     'vanished snoop1.1',
     TORN_DOWN,
     'CONNECTED'),
    ('plain', 'LISTENING; smove whisper',
     'vanished snoop1.2',
     ['hangup snoop1.2', 'reply no monitor_failed'],
     'CONNECTED'),
    # The supervisor's phone does not answer: the move refused, the call untouched
    ('plain', SUP_RINGING,
     'mon sup1 gone 17',
     sup_failed('busy 17', 'supervisor_busy', hangup=False),
     'CONNECTED'),
    ('plain', SUP_RINGING,
     'mon sup1 gone 19',
     sup_failed('no_answer 19', 'supervisor_no_answer', hangup=False),
     'CONNECTED'),
    ('plain', 'CONNECTED; smove listen endpoint=PJSIP/super1',
     'fail CreateChannel unreachable',
     sup_failed('failed 16', 'supervisor_unreachable'),
     'CONNECTED'),
    ('plain', 'CONNECTED; smove listen endpoint=PJSIP/super1',
     'fail CreateChannel error',
     sup_failed('failed 16', 'monitor_failed'),
     'CONNECTED'),
    ('plain', SUP_RINGING,
     'fire monitor:sup1',
     sup_failed('no_answer 19', 'supervisor_no_answer'),
     'CONNECTED'),
    ('plain', SUP_ANSWERED,
     'fail CreateBridge error',
     [
         'cancel monitor:sup1',
         'hangup snoop1.1',
         'hangup sup1',
         "row sup1 answered 16 {'modes': [], 'supervisor': 'sup'}",
         'bridge destroy mon1',
         'reply no monitor_failed',
     ],
     'CONNECTED'),
    ('plain', BARGE_ANSWERED,
     'fail MoveSupervisor refused',
     sup_failed('answered 16', 'monitor_failed'),
     'CONNECTED'),
    # Refused before anything happens
    ('plain', 'CONNECTED',
     'move listen endpoint=PJSIP/super1',
     ['reply no forbidden'],
     'CONNECTED'),
    ('plain', 'RINGING',
     'smove listen endpoint=PJSIP/super1',
     ['reply no not_connected'],
     'OFFERING'),
    ('plain', 'start; done; enqueued; offer a100; stasis leg1; answer leg1; bridged',
     'smove listen endpoint=PJSIP/super1',
     ['reply no not_connected'],
     'CONNECTED'),
    ('plain', 'CONNECTED',
     'smove listen endpoint=PJSIP/super1@trunk',
     ['reply no bad_endpoint'],
     'CONNECTED'),
    ('plain', 'CONNECTED',
     'smove whisper endpoint=Local/1@agents',
     ['reply no bad_endpoint'],
     'CONNECTED'),
    ('plain', 'CONNECTED',
     'smove barge',
     ['reply no bad_endpoint'],
     'CONNECTED'),
    ('plain', 'CONNECTED',
     'smove monitor_stop',
     ['reply no not_monitored'],
     'CONNECTED'),
    ('plain', 'CONNECTED',
     'move monitor_stop',
     ['reply no forbidden'],
     'CONNECTED'),
    ('plain', 'CONNECTED; smove listen endpoint=PJSIP/super1',
     'smove whisper',
     ['reply no monitor_busy'],
     'CONNECTED'),
    ('plain', 'CONNECTED; caller-hangup 16',
     'smove listen endpoint=PJSIP/super1',
     ['reply no not_connected'],
     'ENDING'),
]


@pytest.mark.parametrize(("flow", "setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[2]}" for i, x in enumerate(CASES)])
def test_monitoring(flow: str, setup: str, script: str, commands: list[str],
                    phase: str) -> None:
    check(flow, setup, script, commands, phase)


def test_every_monitoring_move_is_answered_exactly_once() -> None:
    """Whatever comes between the ask and the answer, one Reply per request id."""
    scripts = [
        "LISTENING; smove whisper; mon snoop1.2 stasis; mbridged; smove barge; bridged; "
        "smove listen; mon snoop1.3 stasis; mbridged; smove monitor_stop",
        "LISTENING; smove whisper; caller-hangup 16; destroyed leg1 16; caller-destroyed 16",
        "CONNECTED; smove listen endpoint=PJSIP/s; mon sup1 stasis; mon sup1 gone 17; "
        "smove barge endpoint=PJSIP/s; mon sup2 stasis; mon sup2 answered; bridged; "
        "hangup-req leg1 16",
    ]
    for script in scripts:
        d = CallDriver()
        d.run(script)
        asked = script.replace("LISTENING", MACROS["LISTENING"]).count("smove")
        replies = [x.request_id for x in d.history if isinstance(x, c.Reply)]
        assert len(replies) == len(set(replies)) == asked, (script, replies)


def test_the_agents_leg_channel_names_the_snoop_target_and_the_supervisor_is_not_an_agent(
) -> None:
    d = CallDriver()
    d.run("LISTENING")
    snoop = d.latest(c.StartSnoop)
    create = [x for x in d.history if isinstance(x, c.CreateChannel)][-1]
    assert isinstance(snoop, c.StartSnoop) and snoop.target == d.chan("leg1")
    assert snoop.app_args == f"snoop,{d.state.call_id},listen"
    assert create.app_args == f"supervisor,{d.state.call_id}"  # never a caller, never an agent
    d.run("smove monitor_stop")
    rows = d.rows
    kinds = {getattr(r, "kind", None): r for r in rows}
    assert kinds["supervisor"].agent_id is None  # type: ignore[attr-defined]
    assert kinds["snoop"].agent_id == "a100"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("endpoint", "good"), [
    ("PJSIP/super1", True), ("PJSIP/agent102", True), ("PJSIP/a.b-c_d+1", True),
    ("PJSIP/super1@caller-trunk", False), ("PJSIP/x&PJSIP/y", False), ("Local/1@agents", False),
    ("SIP/super1", False), ("PJSIP/", False), ("PJSIP/" + "x" * 65, False),
    ("PJSIP/super1,30", False), ("PJSIP/a b", False),
])
def test_the_supervisor_endpoint_is_a_phone_never_a_dial_string(endpoint: str,
                                                                  good: bool) -> None:
    assert bool(ENDPOINT.match(endpoint)) is good


def test_after_a_gap_in_the_events_the_monitorings_channels_are_looked_up() -> None:
    d = CallDriver()
    d.run("LISTENING")
    _, out = step(d.state, e.Reconnected(), d.now)
    checks = [x for x in out if isinstance(x, c.CheckChannels)]
    assert [d.name(ch) for x in checks for ch in x.channel_ids] == ["sup1", "snoop1.1"]
