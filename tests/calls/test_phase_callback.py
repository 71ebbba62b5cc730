"""Table tests of the call machine's callback phase (calling the customer back):
this state, this event -> these commands and this phase (words: tests/calls/driver.py)."""

from __future__ import annotations

import pytest

from tests.calls.driver import check, ended

CASES = [
    ('cb', '',
     'cb-start',
     ['create caller PJSIP/5551234@caller-trunk', 'timer ring:caller 30'],
     'DIALLING'),
    ('cb', '',
     'cb-start 3',
     ['create caller PJSIP/5551234@caller-trunk', 'timer ring:caller 30'],
     'DIALLING'),
    ('cb', 'cb-start',
     'cb-created',
     [],
     'DIALLING'),
    ('cb', 'cb-start; cb-created',
     'cb-stasis',
     ['dial caller'],
     'DIALLING'),
    ('cb', 'cb-start; cb-created; cb-stasis',
     'cb-answer',
     ['event enter', 'remember queued', 'play acd-callback-connecting', 'event offer',
      'create leg1 PJSIP/a100', 'timer ring:leg1 20'],
     'OFFERING'),
    ('cb', 'cb-start; cb-created; cb-stasis',
     'cb-status NOANSWER; caller-destroyed 19',
     ['timer reap 60', 'event callback', 'callback-failed 300.0',
      *ended('no_answer', 'caller', 19)],
     'ENDED'),
    ('cb', 'cb-start 3; cb-created; cb-stasis',
     'cb-status BUSY; caller-destroyed 17',
     ['timer reap 60', 'event callback', 'callback-failed None', 'forget-callback',
      *ended('no_answer', 'caller', 17)],
     'ENDED'),
    ('cb', 'cb-start',
     'fail CreateChannel error',
     ['timer reap 60', 'event callback', 'callback-failed 300.0', *ended('no_answer', 'acd')],
     'ENDED'),
    ('cb', 'cb-start; cb-created; cb-stasis',
     'fail Dial gone',
     ['timer reap 60', 'event callback', 'callback-failed 300.0', *ended('no_answer', 'caller')],
     'ENDED'),
    ('cb', 'cb-start; cb-created; cb-stasis',
     'fail Dial error',
     ['hangup caller'],
     'DIALLING'),
    ('cb', 'cb-start; cb-created; cb-stasis',
     'fire ring:caller',
     ['hangup caller'],
     'DIALLING'),
    ('cb', ('cb-start; cb-created; cb-stasis; cb-answer; done; created leg1; stasis leg1; answer '
            'leg1; bridged; fresh leg1'),
     'caller-hangup 16; destroyed leg1; caller-destroyed 16',
     ['forget-callback', *ended('answered', 'caller')],
     'ENDED'),
    ('cb', 'cb-start; fail CreateChannel error',
     'cb-stasis',
     [],
     'ENDED'),
]


@pytest.mark.parametrize(("flow", "setup", "script", "commands", "phase"), CASES)
def test_callback_phase(flow: str, setup: str, script: str, commands: list[str],
        phase: str) -> None:
    check(flow, setup, script, commands, phase)
