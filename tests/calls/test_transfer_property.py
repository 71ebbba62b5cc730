"""Whole calls with transfers through the pure machine against the model world
(tests/calls/world.py), with faults, hang-ups of anyone at any moment and events
lost in gaps: blind transfers to every kind of target, consults completed,
cancelled or made conferences, escalations, the phone's REFER, the phone's own
consult (its second call) and its attended REFER.

Afterwards: every move got exactly one answer, the caller was never left in acd's
hands in silence (alone in a bridge without music counts as silence), the call has
one `calls` row, every leg at most one row, no channel is left, and every agent is
available or paused (or waiting on routing's own expiry after a lost word)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as hs

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import CallSettings, Phase
from tests.calls.driver import CALL_ID, CALLER, FLOW, flow_of, offer
from tests.calls.test_machine_property import FALLIBLE, FAULTS, settle
from tests.calls.test_machine_property import act as base_act
from tests.calls.world import Chan, World

TARGETS = ("agent:a101", "agent:a100", "queue:sales", "flow:t", "number:05551234",
           "queue:nope", "flow:nope", "agent:zz")
MOVES = ("transfer", "consult", "complete", "cancel", "conference", "escalate", "status")
ACTIONS = (("advance",) * 30 + ("deliver",) * 6 + ("caller_hangup", "answer", "answer",
           "reject", "agent_hangup", "phone_lost", "offer", "tick", "gap", "gap", "crash")
           + tuple(f"move:{m}" for m in MOVES) * 3 + ("refer",) * 3
           + ("phone_call", "phone_call", "phone_refer", "phone_hangup"))
SETTINGS = CallSettings(transfer_queues=(("sales", 0, True), ("supervisors", 0, True)),
                        agent_numbers=(("100", "a100"), ("101", "a101")))


class TransferWorld(World):
    """The model world, with routing's transfer tasks and the flows a transfer loads."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.state = self.state.__class__(**{**{f: getattr(self.state, f) for f in
                                                self.state.__dataclass_fields__},
                                             "settings": SETTINGS})
        self.asked: list[str] = []  # request ids of the moves sent
        self.replies: list[str] = []  # request ids of the replies seen

    def execute(self, cmd: c.Command) -> list[e.Event]:
        if isinstance(cmd, c.Reply):
            self.replies.append(cmd.request_id)
            return []
        if isinstance(cmd, c.ReportTransfer):
            return []
        if isinstance(cmd, c.LoadFlow):
            return [e.FlowLoaded(cmd.name, self.flow if cmd.name in ("t", "#100") else None)]
        if isinstance(cmd, c.ReserveAgent):
            fault = self.faults(cmd)
            if fault is not None:
                return [e.Failed(cmd, fault)]
            free = [a for a, s in self.agents.items() if s == "available"
                    and (not cmd.agent_id or a == cmd.agent_id)]
            if not free:
                return [e.TransferReserved(None, "unavailable")]
            self.attempt += 1
            o = offer(free[0], self.attempt, call_id=cmd.task_id)
            self.reserved[free[0]] = o
            self.agents[free[0]] = "reserved"
            return [e.TransferReserved(o)]
        if isinstance(cmd, c.RemoveFromBridge):
            for ch in cmd.channel_ids:
                if ch in self.chans:
                    self.chans[ch].bridge = None
            return []
        return super().execute(cmd)

    def kill(self, ch: str, cause: int, requested: bool = True) -> None:
        x = self.chans[ch]
        if x.kind != "phone":
            super().kill(ch, cause, requested)
            return
        if x.alive:  # the agent phone's second call: its hang-up, its StasisEnd
            x.alive, x.bridge = False, None
            self.asterisk(e.PhoneLegGone(ch))

    def phone_leg(self) -> str | None:
        """The agent phone's latest second call still up."""
        live = [ch for ch, x in self.chans.items() if x.kind == "phone" and x.alive]
        return live[-1] if live else None

    def silent(self) -> bool:
        if super().silent():
            return True
        caller = self.chans[CALLER]
        if (not caller.alive or not caller.stasis or self.state.phase is Phase.ENDED
                or caller.moh or caller.playing or caller.bridge is None):
            return False
        mates = [x for ch, x in self.chans.items()
                 if ch != CALLER and x.alive and x.bridge == caller.bridge]
        return not mates and not {f"hangup:{CALLER}", "xfer-moh"} & set(self.timers) and not (
            "reap" in self.timers and self.state.phase is Phase.ENDING)


def act(w: TransferWorld, action: str, pick: int) -> None:
    st = w.state
    if action == "advance" and not w.pending and st.phase is Phase.CONNECTED:
        # A good day with transfers: a move on the call before anybody hangs up.
        if st.transfer is None and st.transfers < 2 and pick < 6:
            action = ("move:transfer", "move:consult", "move:escalate", "refer",
                      "phone_call", "move:transfer")[pick]
        elif st.transfer is not None and st.transfer.phone_leg is not None \
                and st.transfer.consult_bridge is not None and pick < 3:
            action = ("phone_refer", "phone_hangup", "phone_refer")[pick]
        elif st.transfer is not None and st.transfer.consult_bridge is not None and pick < 5:
            action = ("move:complete", "move:cancel", "move:conference", "agent_hangup",
                      "move:complete")[pick]
    if action.startswith("move:"):
        move = action.partition(":")[2]
        rid = f"r{len(w.asked)}"
        w.asked.append(rid)
        args: dict[str, c.ControlArg] = {}
        if move in ("transfer", "consult"):
            leg = w.state.connected_leg
            other = "a101" if leg is None or leg.agent_id == "a100" else "a100"
            args["to"] = f"agent:{other}" if pick < 4 else \
                TARGETS[(pick + 3 * len(w.asked)) % len(TARGETS)]
        if move == "escalate":
            args["reason"] = "abuse"
        w.feed(e.Control(rid, move, args, "agent:a100"))
        return
    if action == "refer":
        st = w.state
        leg = st.connected_leg
        if leg is not None and w.chans.get(leg.channel_id) and w.chans[leg.channel_id].alive:
            dest = ("101", "100", "05551234", "8100", "999")[(pick + len(w.trace)) % 5]
            w.asterisk(e.PhoneRefer(leg.channel_id, dest, attended=pick == 7))
        return
    if action in ("phone_call", "phone_refer", "phone_hangup"):
        phone_act(w, action, pick)
        return
    base_act(w, action, pick)  # type: ignore[arg-type]


def phone_act(w: TransferWorld, action: str, pick: int) -> None:
    """The agent's phone: a call to a colleague, its transfer button, hanging up."""
    if action == "phone_call":  # the agent's phone dials a colleague (its 2nd call)
        leg = w.state.connected_leg
        if leg is not None and w.chans.get(leg.channel_id) and w.chans[leg.channel_id].alive:
            ch = f"phone{len(w.trace)}"
            w.chans[ch] = Chan("phone", stasis=True)
            w.asterisk(e.PhoneConsult(ch, "101" if pick < 6 else ("100", "199")[pick % 2]))
        return
    if action == "phone_refer":  # its transfer button, Replaces naming the 2nd call
        leg, second = w.state.connected_leg, w.phone_leg()
        if leg is not None and second is not None and w.chans[leg.channel_id].alive:
            w.asterisk(e.PhoneRefer(leg.channel_id, "101", attended=True, replaces=second))
        return
    if action == "phone_hangup":
        second = w.phone_leg()
        if second is not None:
            w.kill(second, 16)


@settings(max_examples=int(os.environ.get("ACD_PROP_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fault_rate=hs.sampled_from((0, 0, 5, 20)), data=hs.data())
def test_whole_calls_with_transfers(fault_rate: int, data: hs.DataObject) -> None:
    fallible = (*FALLIBLE, c.ReserveAgent, c.RemoveFromBridge)

    def faults(cmd: c.Command) -> e.Fault | None:
        if fault_rate == 0 or not isinstance(cmd, fallible):
            return None
        roll = data.draw(hs.integers(0, 99), label="fault")
        return FAULTS[roll % len(FAULTS)] if roll < fault_rate else None

    w = TransferWorld(flow_of(FLOW), faults)
    w.start()
    steps = data.draw(hs.lists(hs.tuples(hs.sampled_from(ACTIONS), hs.integers(0, 7)),
                               min_size=20, max_size=70), label="steps")
    seen = set()
    for action, pick in steps:
        act(w, action, pick)
        t = w.state.transfer
        if t is not None and t.phone_leg is not None:
            seen.add("talking" if t.consult_bridge is not None else "ringing")
        if not w.pending and not w.gap:
            assert not w.silent(), f"caller in silence after {action}:\n" + "\n".join(
                w.log[-12:])
    settle(w)

    assert sorted(w.replies) == sorted(w.asked), "every move answered exactly once\n" + \
        "\n".join(w.log[-20:])
    assert w.finished == 1, f"call not finished: {w.state.phase} {w.trace[-10:]}"
    # After its end a call answers moves and lets a phone's late second call go, no more.
    assert [x for x in w.after_finish if not isinstance(x, c.Reply) and not (
        isinstance(x, c.Hangup) and w.chans[x.channel_id].kind == "phone")] == []
    assert len(w.call_rows()) == 1
    assert len([r for r in w.leg_rows() if r.kind == "caller"]) == 1
    leg_ids = [r.leg_id for r in w.leg_rows() if r.kind != "caller"]
    assert len(leg_ids) == len(set(leg_ids)), "a leg written twice"
    assert set(leg_ids) >= {leg.leg_id for leg in w.state.legs}, "a leg never written"
    assert not [ch for ch, x in w.chans.items() if x.alive and x.stasis], "channel left"
    event(f"legs: {sorted({r.kind for r in w.leg_rows()})}")
    event(f"outcome {w.call_rows()[0].outcome}")
    phone = [r.detail.get("result") for r in w.rows if getattr(r, "event", None) in
             ("consult", "transfer") and r.detail.get("via") == "phone"]  # type: ignore[attr-defined]
    event(f"phone: {sorted(set(str(x) for x in phone))} consult {sorted(seen)}")
    for agent, state in w.agents.items():
        if agent in w.expired_ok and state in ("reserved", "on_call"):
            continue
        assert state in ("available", "paused"), f"agent {agent} left {state}\n" + "\n".join(
            w.log[-30:])
    assert CALL_ID


RESTARTS = ACTIONS + ("restart",) * 3  # acd dies / comes back (tests.calls.restart)


@settings(max_examples=int(os.environ.get("ACD_PROP_EXAMPLES", "400")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=hs.data())
def test_whole_calls_with_transfers_and_restarts(data: hs.DataObject) -> None:
    """acd dies and comes back at any moment of a transfer or consult (#17 / #12):
    the restarted acd ends what it finds half-done (acd.calls.phases.readopt)."""
    w = TransferWorld(flow_of(FLOW), lambda cmd: None)
    w.start()
    steps = data.draw(hs.lists(hs.tuples(hs.sampled_from(RESTARTS), hs.integers(0, 7)),
                               min_size=20, max_size=70), label="steps")
    for action, pick in steps:
        if action == "restart" and not w.down:
            # A move waiting for its answer gets the dying process's error instead.
            w.replies += [r for r in w.asked if r not in w.replies]
            t = w.state.transfer
            event(f"restart with a target leg: {t is not None and t.channel_id is not None}")
            # (the world's record is the last Remember the machine emitted)
        act(w, action, pick)
        if not w.pending and not w.gap and not w.down:
            assert not w.silent(), f"caller in silence after {action}:\n" + "\n".join(
                w.log[-12:])
    if w.down:
        act(w, "restart", 1)
    settle(w)
    assert w.finished == 1, f"call not finished: {w.state.phase} {w.trace[-10:]}"
    assert len(w.call_rows()) == 1
    assert len([r for r in w.leg_rows() if r.kind == "caller"]) == 1
    leg_ids = [r.leg_id for r in w.leg_rows() if r.kind != "caller"]
    assert len(leg_ids) == len(set(leg_ids)), "a leg written twice\n" + "\n".join(w.log)
    assert not [ch for ch, x in w.chans.items() if x.alive and x.stasis], "channel left"
    for agent, state in w.agents.items():
        if agent in w.expired_ok and state in ("reserved", "on_call"):
            continue
        assert state in ("available", "paused"), f"agent {agent} left {state}\n" + "\n".join(
            w.log[-30:])
