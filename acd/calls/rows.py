"""What a call leaves behind, built from its state: PostgreSQL rows and the fields
of its re-adoption record. Pure functions: the machine emits them as commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from acd.calls import commands as c
from acd.calls import move_record
from acd.calls.endings import agent_leg_cause, call_ending
from acd.calls.model import CallState, Leg, Phase
from acd.store.rows import CallRow, LegRow, QueueEventRow

ExitReason = Literal["max_wait", "callback", "no_agents", "full"]


def ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def exit_reason(reason: str | None) -> ExitReason:
    if reason == "max_wait":
        return "max_wait"
    if reason == "callback":
        return "callback"
    if reason == "no_agents":
        return "no_agents"
    return "full"


def fail_event(reason: str) -> str:
    return {"busy": "busy", "unreachable": "unreachable"}.get(reason, "no_answer")


def _wait_ms(st: CallState, until: int | None) -> int | None:
    if st.enqueued_ms is None:
        return None
    end = until if until is not None else st.ended_ms
    return None if end is None else max(0, end - st.enqueued_ms)


def queue_event_row(st: CallState, event: str, agent_id: str | None, at_ms: int,
                    detail: dict[str, object], once_key: str | None = None) -> QueueEventRow:
    """`st.seq` makes the id unique within the call; ids sort in the order events
    happened (`ORDER BY at, event_id`). `once_key` names an event that two writers may
    write (`complete_key`): the database keeps the first."""
    event_id = f"{at_ms:013x}{st.seq % 16**8:08x}{st.call_id[:11]}"
    return QueueEventRow(
        event_id=event_id,
        call_id=st.call_id, queue=st.queue or "", event=event,
        agent_id=agent_id or None,  # "": an outside party's (a consulted number)
        at=ts(at_ms), wait_ms=_wait_ms(st, at_ms), detail=detail or None, once_key=once_key,
    )


def complete_key(leg: Leg) -> str:
    """The `complete` of the segment an agent leg carried: the call machine writes it
    when the call ends, a restarted acd's recovery when the first died before its
    re-adoption record said so; the same key makes it one row (migration 0008)."""
    return f"complete:{leg.leg_id}"


def agent_leg_row(st: CallState, leg: Leg) -> LegRow:
    detail: dict[str, object] | None = None
    if leg.kind == "transfer":  # a transfer's target (issue 17)
        detail = {"target": leg.target, "mode": leg.mode}
    return LegRow(
        leg_id=leg.leg_id, call_id=st.call_id, kind=leg.kind, channel_id=leg.channel_id,
        endpoint=leg.endpoint, agent_id=leg.agent_id or None, queue=st.queue,
        started_at=ts(leg.started_ms), answered_at=ts(leg.answered_ms),
        ended_at=ts(leg.ended_ms), hangup_cause=agent_leg_cause(leg.outcome, leg.cause),
        wait_ms=_wait_ms(st, leg.answered_ms or leg.started_ms), outcome=leg.outcome,
        detail=detail,
    )


def caller_leg_row(st: CallState) -> LegRow:
    leg = st.agent_leg
    return LegRow(
        leg_id=f"{st.call_id}-0", call_id=st.call_id, kind="caller",
        channel_id=st.channel_id, endpoint=None, agent_id=leg.agent_id if leg else None,
        queue=st.queue, started_at=ts(st.started_ms), answered_at=ts(st.answered_ms),
        ended_at=ts(st.ended_ms),
        hangup_cause=call_ending(st.outcome, st.ended_by, st.caller_cause).caller_cause,
        wait_ms=_wait_ms(st, leg.answered_ms if leg else None), outcome=st.outcome,
    )


def call_row(st: CallState) -> CallRow:
    leg = st.agent_leg  # the first agent once a consulted number took the caller
    talk: int | None = None
    hold: int | None = None
    if leg is not None and leg.answered_ms is not None:
        end = leg.ended_ms or st.ended_ms
        # Hold is not talk (handle time = talk + hold + wrap-up); a hold still on
        # when the call ended counts until then.
        hold = st.hold_total(end)
        talk = None if end is None else max(0, end - leg.answered_ms - hold)
    variables = dict(st.ivr.variables) if st.ivr is not None else {}
    ending = call_ending(st.outcome, st.ended_by, st.caller_cause)
    return CallRow(
        call_id=st.call_id, channel_id=st.channel_id, caller_number=st.caller_number,
        dialled=st.dialled, flow=st.flow_name, flow_version=st.flow_version,
        started_at=ts(st.started_ms), queue=st.queue, enqueued_at=ts(st.enqueued_ms),
        answered_at=ts(leg.answered_ms if leg else None), ended_at=ts(st.ended_ms),
        agent_id=leg.agent_id if leg else None, outcome=st.outcome or "failed",
        hangup_cause=ending.caller_cause,
        wait_ms=_wait_ms(st, leg.answered_ms if leg else None), talk_ms=talk,
        variables=variables or None, callback_of=st.routing_id,
        ended_by=ending.ended_by, end_detail=st.end_detail, hold_ms=hold,
    )


def record_fields(st: CallState, now_ms: int) -> dict[str, str | int]:
    """The re-adoption record (see acd.calls.recovery); the executor adds the node."""
    fields: dict[str, str | int] = {
        "call_id": st.call_id, "phase": st.phase.value, "queue": st.queue or "",
        "enqueued_ms": st.enqueued_ms or 0, "started_ms": st.started_ms,
        "caller": st.caller_number, "dialled": st.dialled, "routing_id": st.routing_id or "",
        "seen_ms": now_ms, "answered_ms": st.answered_ms or 0, "outcome": st.outcome or "",
        "flow": st.flow_name or "", "attempts": st.attempts, "seq": st.seq,
        # ---- the moves of #17 under way (always written: HSET keeps an old field)
        move_record.FIELD: move_record.encode(st) if st.phase is Phase.CONNECTED else "",
    }
    # A consulted number the caller was handed to: the record's leg is the first agent
    # (who left); the outside party rides in "moves" (move_record.Moves.outside).
    leg = st.agent_leg
    ending = st.phase is Phase.ENDING and st.ending_recorded
    if leg is not None and leg.offer is not None and (st.phase is Phase.CONNECTED or ending):
        fields.update({
            "offer": leg.offer.model_dump_json(), "leg_id": leg.leg_id,
            "leg_channel": leg.channel_id, "leg_started_ms": leg.started_ms,
            "leg_answered_ms": leg.answered_ms or 0, "bridge_id": st.bridge_id or "",
            # ---- hold: a restarted acd knows the caller is held (and by whom)
            "held_ms": st.held_ms or 0, "held_by": st.held_by or "",
            "hold_music": int(st.hold_music), "hold_ms": st.hold_ms,
            "unhold_due": int(st.unhold_due),
            # ---- a transfer's first agent let go (wrap-up sent, row once it ended)
            "agent_left": int(leg.hangup_requested and st.phase is Phase.CONNECTED),
            "leg_ended_ms": leg.ended_ms or 0,
            "leg_hung_up_ms": leg.hung_up_ms or 0,  # the agent's hang-up: their leg's end
        })
    if leg is not None and ending:
        # What is already written: the `complete` event, and the leg's row once it ended.
        fields.update({"ended_ms": st.ended_ms or now_ms, "ended_by": st.ended_by or ""})
    return fields


def moves_record(before: CallState, after: CallState, commands: list[c.Command],
                 now_ms: int) -> c.Remember | None:
    """The re-adoption record to write after a step whose moves of #17 changed shape
    (acd.calls.move_record.shape); None: no need, or the step writes it already."""
    if after.phase is not Phase.CONNECTED or before.phase is not Phase.CONNECTED \
            or after.caller_gone:
        return None
    if any(isinstance(cmd, c.Remember) for cmd in commands) \
            or move_record.shape(before) == move_record.shape(after):
        return None
    return c.Remember(after.channel_id, record_fields(after, now_ms))
