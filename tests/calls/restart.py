"""An acd restart in the model world (tests.calls.world): `down` kills the process
(its timers and undelivered events vanish, events while it is down are lost),
`up` starts a new one that re-adopts the call through the pure re-adoption
(acd.calls.adoption) from the last remembered record, or from the caller's
channel variables when Redis lost it; a caller whose channel died meanwhile is
written by the recovery rule (acd.calls.recovery): one row, outcome from the
record's phase, `end_detail` "acd_down"."""

from __future__ import annotations

from dataclasses import replace

from acd.calls import events as e
from acd.calls import rows
from acd.calls.adoption import adopted, base_state, from_variables
from acd.calls.model import CALL_ID_VAR, QUEUE_VAR, CallState, Leg, Phase
from acd.calls.recovery import ACD_DOWN, LAST_SEQ
from acd.ivr.engine import IvrContext
from acd.routing.model import Offer
from acd.store.rows import CallRow, LegRow
from tests.calls.driver import CALL_ID, CALLER
from tests.calls.world import World


def down(w: World) -> None:
    """acd dies: its timers and the events it had not handled go with it."""
    w.log.append("== acd down")
    w.down = w.gap = True
    w.timers.clear()
    w.lost_events += len(w.pending)
    w.pending.clear()


def up(w: World, redis_lost: bool) -> None:
    """A new acd: reconnect, re-adopt or recover the call, hang up legs nobody owns."""
    w.down = w.gap = False
    w.legs_seen |= {leg.leg_id for leg in w.state.legs}
    caller = w.chans[CALLER]
    live = {ch for ch, x in w.chans.items() if x.alive and x.stasis}
    record = dict(w.record or {})
    w.log.append(f"== acd up (redis lost: {redis_lost}) record {record.get('phase')}")
    if CALLER in live:  # in our Stasis app and held by no one: re-adopted
        if redis_lost or not record:
            record = from_variables(caller.vars.get(CALL_ID_VAR), caller.vars.get(QUEUE_VAR))
        st = base_state(record, CALLER, fallback_id=CALL_ID, caller_number="5551234",
                        caller_name="", exten="100", language="en",
                        settings=w.state.settings, now_ms=w.ms)
        a = adopted(st, record, live, w.ms)
        _orphans(w, {CALLER, *a.legs}, a.hold)
        w.state = a.state
        first = e.Start(w.flow, IvrContext(CALL_ID, "5551234", "100", "en", {})) \
            if a.from_start else a.first
        for event in (a.readopted, first):  # moves half-done are ended first
            if event is not None:
                w.feed(event)
        return
    _orphans(w, set(), None)
    if record.get("call_id") and not caller.alive:
        _recover(w, record)
    # else: the call ended before (record forgotten), or its caller is alive in the
    # dialplan: recovery leaves the record until the channel is gone (`later`).


def later(w: World) -> None:
    """A record left for a caller in the dialplan: they hang up there, and a
    periodic reconciliation's recovery writes the call."""
    caller = w.chans[CALLER]
    if w.record and w.record.get("call_id") and not w.down and not caller.stasis:
        w.kill(CALLER, 16)
        _recover(w, w.record)


def _orphans(w: World, claimed: set[str], hold: Offer | None) -> None:
    """Agent legs nobody claims are hung up (nobody hears of them); reservations
    and on-call deadlines nobody renews expire in routing."""
    for ch, x in w.chans.items():
        if x.kind == "leg" and x.alive and ch not in claimed:
            x.alive = False
            x.bridge = None
    for agent in list(w.reserved):
        w._free(agent)
    for agent, state in w.agents.items():
        if state == "on_call" and (hold is None or hold.agent_id != agent):
            w.expired_ok.add(agent)


def _recover(w: World, record: dict[str, str]) -> None:
    """The recovery rule for a call whose caller left while acd was down (a world
    with ports runs acd's own, tests.calls.ports)."""
    if w.recover(record):
        w.log.append("== recovered by acd.calls.recovery")
        return
    started = int(record.get("started_ms") or w.ms)
    ended = min(w.ms, max(int(record.get("seen_ms") or 0), started))
    st = CallState(call_id=record["call_id"], channel_id=CALLER,
                   caller_number=record.get("caller", ""), dialled=record.get("dialled", ""),
                   started_ms=started, queue=record.get("queue") or None,
                   enqueued_ms=int(record.get("enqueued_ms") or 0) or None,
                   answered_ms=int(record.get("answered_ms") or 0) or None,
                   ended_ms=ended, end_detail=ACD_DOWN, caller_destroyed=True,
                   caller_gone=True, phase=Phase.ENDED, seq=LAST_SEQ)
    phase = record.get("phase")
    if phase in (Phase.CONNECTED.value, Phase.ENDING.value) and record.get("offer"):
        ending = phase == Phase.ENDING.value  # its agent left: wrap-up already sent
        o = Offer.model_validate_json(record["offer"])
        leg = Leg(leg_id=record.get("leg_id") or f"{st.call_id}-1",
                  channel_id=record.get("leg_channel") or "", agent_id=o.agent_id,
                  endpoint=o.endpoint, offer=o, started_ms=started, created=True,
                  answered_ms=int(record.get("leg_answered_ms") or 0) or None,
                  ended_ms=ended, outcome="answered")
        st = replace(st, legs=(leg,), connected=leg.channel_id, queue=o.queue,
                     outcome="answered",
                     ended_by=(record.get("ended_by") or "agent") if ending else "unknown")
        if ending:
            st = replace(st, ended_ms=int(record.get("ended_ms") or 0) or ended)
        if w.agents[o.agent_id] == "on_call" and not ending:
            w.agents[o.agent_id] = "wrapup"
        if not (ending and int(record.get("leg_ended_ms") or 0)):
            _write(w, rows.agent_leg_row(st, leg))
    elif phase in (Phase.QUEUED.value, Phase.OFFERING.value) and st.queue:
        st = replace(st, outcome="abandoned", ended_by="caller")
        w.queued = False
    else:
        st = replace(st, outcome=record.get("outcome") or "ivr_hangup", ended_by="caller")
    _write(w, rows.caller_leg_row(st))
    _write(w, rows.call_row(st))
    w.record = None
    w.state = st
    w.finished += 1
    w.log.append(f"== recovered as {st.outcome}")


def _write(w: World, row: CallRow | LegRow) -> None:
    """The row writer never overwrites a row (ON CONFLICT DO NOTHING): rows the
    earlier acd wrote win over the recovery's."""
    pk = type(row).PRIMARY_KEY
    if not any(type(x) is type(row) and getattr(x, pk) == getattr(row, pk) for x in w.rows):
        w.rows.append(row)
