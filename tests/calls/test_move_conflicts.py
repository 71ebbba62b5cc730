"""Moves that conflict (acd.calls.phases.conflicts): every move asked while another
runs, as one table. "ok" is a move its handler took (answered yes, or started and
answered later); "no <error_id>" a refusal, which leaves the call as it was and
emits nothing but the answer. What the status says the desktop may show must match
(the moves it lists are never refused by the move under way). Words:
tests/calls/driver.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step
from acd.calls.model import CallSettings, QueueControl
from acd.calls.phases.control import CONNECTED_MOVES, available
from tests.calls.driver import CallDriver

SETTINGS = CallSettings(transfer_queues=(("sales", 0, True), ("supervisors", 0, True)),
                        queue_control=(("sales", QueueControl("always")),))
CONNECTED = "CONNECTED; rec-on"
XFER = "reserved a101; stasis xfer1"

# The moves under way (setups), in the order of the table's columns.
RUNNING = {
    "none": CONNECTED,
    "held": f"{CONNECTED}; move hold; hold-done hold",
    "phone-held": f"{CONNECTED}; phone-hold leg1",
    "transfer": f"{CONNECTED}; move transfer to=agent:a101; {XFER}",
    "consult-ringing": f"{CONNECTED}; move consult to=agent:a101; {XFER}",
    "consulting": f"{CONNECTED}; move consult to=agent:a101; {XFER}; answer xfer1",
    "conference": f"{CONNECTED}; move consult to=agent:a101; {XFER}; answer xfer1; "
                  "move conference",
    "payment-asked": f"{CONNECTED}; move payment",
    "paying": f"{CONNECTED}; move payment; pay-flow yaml; done",
}
COLUMNS = tuple(RUNNING)

# Monitoring moves come from a supervisor, the others from the agent.
ARGS = {"transfer": "to=queue:sales", "consult": "to=agent:a102", "escalate": "reason=rude",
        "listen": "endpoint=PJSIP/super1", "whisper": "endpoint=PJSIP/super1",
        "barge": "endpoint=PJSIP/super1"}
SUPERVISOR = frozenset({"listen", "whisper", "barge", "monitor_stop"})

OK = "ok"
PAY, XF = "no payment_running", "no transfer_in_progress"
CON, CONF, HELD = "no consult_running", "no conference_running", "no caller_held"
NOC = "no no_consult"

# move: its outcome in each column of RUNNING
#                none  held  phone-held transfer consult-ringing consulting conference
#                payment-asked paying
MATRIX: dict[str, tuple[str, ...]] = {
    "status":        (OK, OK, OK, OK, OK, OK, OK, OK, OK),
    "hold":          (OK, "no already_held", "no already_held", XF, CON, CON, CONF, PAY, PAY),
    "unhold":        ("no not_held", OK, OK) + ("no not_held",) * 4 + (PAY, PAY),
    "transfer":      (OK, HELD, HELD, XF, CON, CON, CONF, PAY, PAY),
    "consult":       (OK, HELD, HELD, XF, CON, CON, CONF, PAY, PAY),
    "escalate":      (OK, HELD, HELD, XF, CON, CON, CONF, PAY, PAY),
    "complete":      (NOC, NOC, NOC, NOC, NOC, OK, NOC, NOC, NOC),
    "cancel":        (NOC, NOC, NOC, NOC, OK, OK, NOC, NOC, NOC),
    "conference":    (NOC, NOC, NOC, NOC, NOC, OK, NOC, NOC, NOC),
    "payment":       (OK, HELD, HELD, XF, CON, CON, CONF, PAY, PAY),
    "record_start":  ("no recording",) * 3 + (XF, CON, CON, "no recording", PAY, PAY),
    "record_pause":  (OK,) * 9,
    "record_resume": (OK, OK, OK, OK, OK, OK, OK, PAY, PAY),
    "listen":        (OK,) * 9,
    "whisper":       (OK,) * 7 + (PAY, PAY),
    "barge":         (OK, OK, OK, XF, CON, CON, OK, PAY, PAY),
    "monitor_stop":  ("no not_monitored",) * 9,
}


def _ask(d: CallDriver, move: str) -> tuple[str, list[c.Command]]:
    by = "supervisor:sup" if move in SUPERVISOR else "agent:a100"
    args = dict(x.split("=", 1) for x in ARGS.get(move, "").split() if x)
    before = d.state
    state, out = step(before, e.Control("req-x", move, args, by), d.now)
    replies = [x for x in out if isinstance(x, c.Reply) and x.request_id == "req-x"]
    assert len(replies) <= 1
    if replies and not replies[0].ok:
        refusal = f"no {replies[0].error_id}"
        # Refused: nothing done, nothing changed.
        assert out == replies, (move, out)
        assert state == before, move
        return refusal, out
    return OK, out


def test_the_table_covers_every_move_and_every_column() -> None:
    assert set(MATRIX) == CONNECTED_MOVES | {"status"}
    assert all(len(row) == len(COLUMNS) for row in MATRIX.values())


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("move", sorted(MATRIX))
def test_a_move_while_another_runs(move: str, column: str) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(RUNNING[column])
    outcome, _ = _ask(d, move)
    assert outcome == MATRIX[move][COLUMNS.index(column)], (move, column)


@pytest.mark.parametrize("column", COLUMNS)
def test_the_status_lists_only_moves_that_are_taken(column: str) -> None:
    """The desktop's buttons: every move the status lists is taken (by the right
    role), and the ones a running move refuses are not listed."""
    d = CallDriver(settings=SETTINGS)
    d.run(RUNNING[column])
    listed = available(d.state)
    for move in sorted(CONNECTED_MOVES):
        outcome = MATRIX[move][COLUMNS.index(column)]
        if move in listed:
            assert outcome == OK, (move, column)
        elif outcome == OK:
            # Not listed but taken: only a move that would change nothing.
            assert move in ("record_pause", "record_resume", "listen", "whisper",
                            "barge"), (move, column)


@pytest.mark.parametrize(("column", "listed"), [
    ("none", {"hold", "transfer", "consult", "escalate", "payment", "record_pause",
              "listen", "whisper", "barge"}),
    ("held", {"unhold", "record_pause", "listen", "whisper", "barge"}),
    ("consulting", {"complete", "cancel", "conference", "record_pause", "listen",
                    "whisper"}),
    ("paying", {"listen"}),
])
def test_what_the_desktop_is_told_it_may_do(column: str, listed: set[str]) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(RUNNING[column])
    assert available(d.state) == {"status"} | listed


# The agent's phone during a move: its hold button is no hold of the caller (not
# counted, nothing done), its transfer button (REFER) is declined.
PHONE = [
    ("paying", "phone-hold leg1", []),
    ("paying", "phone-unhold leg1", []),
    ("consulting", "phone-hold leg1", []),
    ("transfer", "phone-hold leg1", []),
    ("paying", "refer leg1 101", ["report leg1 declined"]),
    ("consulting", "refer leg1 101", ["report leg1 declined"]),
    # ...which it is not in a conference, nor outside a move.
    ("conference", "phone-hold leg1", ["event hold phone", "remember connected"]),
    ("none", "phone-hold leg1", ["event hold phone", "remember connected"]),
]


@pytest.mark.parametrize(("column", "word", "commands"), PHONE)
def test_the_phone_during_a_move(column: str, word: str, commands: list[str]) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(RUNNING[column])
    before = d.state
    assert d.run(word) == commands
    if not commands:
        assert d.state == before


def test_after_the_payment_the_moves_come_back() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(f"{RUNNING['paying']}; key 4; key 2; key 4; key 2; http 201 P-1; bridged")
    assert d.state.payment is None
    assert {"hold", "transfer", "consult", "payment"} <= available(d.state)
    assert _ask(d, "hold")[0] == OK


def test_a_phone_hold_from_before_a_transfer_may_still_end() -> None:
    """The phone holds, then transfers (its REFER): the caller's hold may end from the
    desktop meanwhile, nothing else of the list may start."""
    d = CallDriver(settings=replace(SETTINGS, agent_numbers=(("101", "a101"),)))
    d.run(f"{CONNECTED}; phone-hold leg1; refer leg1 101")
    assert d.state.transfer is not None and d.state.held_ms is not None
    assert available(d.state) & {"unhold", "hold", "payment", "transfer"} == {"unhold"}
    assert _ask(d, "payment")[0] == XF
    outcome, out = _ask(d, "unhold")
    assert outcome == OK and [d.summary(x) for x in out][:1] == ["unhold caller music"]
