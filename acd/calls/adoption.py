"""The pure part of re-adoption (acd.calls.adopt): from a call's re-adoption
record (or what its caller's channel variables say when Redis lost it) and the
channels Asterisk still has, the call's state and the first event it is given.
No I/O: acd.calls.adopt reads Redis and ARI and carries the result out."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, replace

from acd.calls import events as e
from acd.calls import move_record
from acd.calls.model import CallSettings, CallState, Leg, Phase
from acd.calls.phases.hold import UNHOLD_AGAIN
from acd.routing.model import Offer


@dataclass(frozen=True, slots=True)
class Adoption:
    """A re-adopted call: `first` is its first event, or None with `from_start`
    (the IVR from its start, which the service builds) or for a connected call
    whose agent leg is still there (`legs`: the channels it holds besides the
    caller's); `hold`: the connected offer whose on-call deadline this node renews;
    `readopted`: posted before `first` when moves of #17 were half-done."""

    state: CallState
    first: e.Event | None = None
    from_start: bool = False
    hold: Offer | None = None
    legs: tuple[str, ...] = ()
    readopted: e.Readopted | None = None


def base_state(record: Mapping[str, str], channel_id: str, *, fallback_id: str,
               caller_number: str, caller_name: str, exten: str, language: str,
               settings: CallSettings, now_ms: int) -> CallState:
    """The call's identity from its record and its caller's channel."""
    return CallState(
        call_id=record.get("call_id") or fallback_id, channel_id=channel_id,
        caller_number=caller_number, caller_name=caller_name,
        dialled=record.get("dialled") or exten,
        started_ms=int(record.get("started_ms") or now_ms),
        language=language or "en", settings=settings,
        routing_id=record.get("routing_id") or None, flow_name=record.get("flow") or None)


def from_variables(call_id: str | None, queued: str | None) -> dict[str, str]:
    """A record from the caller channel's variables (ACD_CALL_ID, ACD_QUEUE
    "<queue>:<enqueued ms>"): the call id, and the queue of a caller who waited."""
    record: dict[str, str] = {}
    if call_id:
        record["call_id"] = call_id
    queue, _, enqueued = (queued or "").rpartition(":")
    if queue and enqueued.isdigit():
        record.update(phase=Phase.QUEUED.value, queue=queue, enqueued_ms=enqueued)
    return record


def adopted(state: CallState, record: Mapping[str, str], live: Set[str], now_ms: int
            ) -> Adoption:
    """Connected -> still talking (leg gone -> Vanished); queued or offering ->
    queued again (Requeue); anything else -> the IVR from its start."""
    phase = record.get("phase")
    made = _int(record.get("attempts"))  # legs the earlier process made
    # Ids of queue events and playbacks go on from the earlier process's (with room
    # for what it wrote after its last record): a reused id would be a dropped row.
    state = replace(state, seq=max(state.seq, _int(record.get("seq")) + SEQ_MARGIN))
    if phase == Phase.CONNECTED.value and record.get("offer"):
        offer = Offer.model_validate_json(record["offer"])
        leg = Leg(leg_id=record.get("leg_id") or f"{state.call_id}-1",
                  channel_id=record.get("leg_channel") or "", agent_id=offer.agent_id,
                  endpoint=offer.endpoint, offer=offer,
                  started_ms=int(record.get("leg_started_ms") or state.started_ms),
                  answered_ms=int(record.get("leg_answered_ms") or 0) or None,
                  created=True, dialled=True)
        state = replace(state, phase=Phase.CONNECTED, legs=(leg,), connected=leg.channel_id,
                        answer_recorded=True, outcome="answered", queue=offer.queue,
                        enqueued_ms=offer.enqueued_at_ms, attempts=max(offer.attempt, made),
                        answered_ms=int(record.get("answered_ms") or 0) or None,
                        bridge_id=record.get("bridge_id") or None,
                        # ---- hold: still held (music and mute stay on the caller)
                        held_ms=_int(record.get("held_ms")) or None,
                        held_by=record.get("held_by") or None,
                        hold_music=record.get("hold_music") == "1",
                        hold_ms=_int(record.get("hold_ms")),
                        unhold_due=record.get("unhold_due") == "1")
        # ---- the moves of #17 half-done: ended first (acd.calls.phases.readopt)
        moves = move_record.decode(record.get(move_record.FIELD))
        state = move_record.restore(state, moves)
        if record.get("agent_left") == "1" and (state.transfer is not None
                                                 or moves.outside is not None):
            # The agent who began the transfer left (wrap-up sent, the leg's row
            # written once it ended): the caller waits for the target.
            leg = replace(leg, hangup_requested=True,
                          ended_ms=_int(record.get("leg_ended_ms")) or None,
                          hung_up_ms=_int(record.get("leg_hung_up_ms")) or None)
            state = replace(state.with_leg(leg), answer_recorded=False)
        if moves.outside is not None:
            # A consulted number the caller was handed to: still the connected party.
            state = replace(state, connected=moves.outside.channel_id, answer_recorded=True)
        live_first = (leg.channel_id,) if leg.live else ()
        mine = (*live_first, *moves.channels())
        gone = frozenset(x for x in mine if x not in live)
        held = tuple(x for x in mine if x in live)
        readopted = e.Readopted(gone) if moves.channels() or moves.recording is not None \
            or moves.payment is not None else None
        hold = offer if state.answer_recorded and moves.outside is None else None
        if gone:
            # Hung up while no acd was listening (the agent: the call ends now).
            return Adoption(state, e.Vanished(gone), hold=hold, legs=held,
                            readopted=readopted)
        # An unhold Asterisk failed before the restart: tried again at once.
        again = e.TimerFired(UNHOLD_AGAIN) if state.unhold_due else None
        return Adoption(state, again, hold=hold, legs=held, readopted=readopted)
    if phase == Phase.ENDING.value and record.get("offer"):
        return _ending(state, record, live)
    if phase in (Phase.QUEUED.value, Phase.OFFERING.value) and record.get("queue"):
        state = replace(state, phase=Phase.QUEUED, queue=record["queue"],
                        enqueued_ms=int(record.get("enqueued_ms") or now_ms), attempts=made,
                        # ---- hold: a caller held when Redis lost the record would
                        # wait muted; unmuted once, held or not (phases.hold.settle)
                        unmute_once=True)
        return Adoption(state, e.Requeue())
    # Mid-IVR (or unknown): the caller hears the flow from its start.
    return Adoption(state, from_start=True)


SEQ_MARGIN = 64


def _int(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() else 0


def _ending(state: CallState, record: Mapping[str, str], live: Set[str]) -> Adoption:
    """A connected call whose agent left: its `complete` event (and the leg's row,
    once `leg_ended_ms`) are written; only the caller is left to end (Reap)."""
    offer = Offer.model_validate_json(record["offer"])
    leg = Leg(leg_id=record.get("leg_id") or f"{state.call_id}-1",
              channel_id=record.get("leg_channel") or "", agent_id=offer.agent_id,
              endpoint=offer.endpoint, offer=offer,
              started_ms=_int(record.get("leg_started_ms")) or state.started_ms,
              answered_ms=_int(record.get("leg_answered_ms")) or None,
              ended_ms=_int(record.get("leg_ended_ms")) or None, outcome="answered",
              hung_up_ms=_int(record.get("leg_hung_up_ms")) or None,
              created=True, dialled=True, hangup_requested=True)
    state = replace(state, phase=Phase.ENDING, legs=(leg,), connected=leg.channel_id,
                    answer_recorded=True, complete_sent=True, ending_recorded=True,
                    outcome="answered",
                    queue=offer.queue, enqueued_ms=offer.enqueued_at_ms,
                    attempts=max(offer.attempt, _int(record.get("attempts"))),
                    answered_ms=_int(record.get("answered_ms")) or None,
                    ended_by=record.get("ended_by") or "agent",
                    ended_ms=_int(record.get("ended_ms")) or None)
    legs = (leg.channel_id,) if leg.live and leg.channel_id in live else ()
    return Adoption(state, e.Reap(), legs=legs)
