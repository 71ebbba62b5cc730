"""Blind transfers (issue 17): the connected agent sends the caller on.

    transfer {to: "agent:<id>" | "queue:<name>" | "flow:<name>" | "number:<digits>"}

- agent: routing reserves that agent if available (refused `target_unavailable`
  otherwise); their phone rings as a leg of kind `transfer` while the caller hears
  music (the caller's own moh, still in the call's bridge with the first agent);
  answered: the target joins the call's bridge, the first agent is hung up and
  wraps up. Busy, no answer, hung up before answering: the music stops and the
  caller is back with the first agent; if that agent left meanwhile, the caller is
  queued again at the head of the queue (never silence).
- queue: the first agent leaves (wrap-up); the caller waits in that queue on
  music, priority raised and enqueue time kept per the queue's transfer settings.
- flow: the first agent leaves; the caller runs that IVR flow from its start.
- number: the first agent leaves; the caller continues in the dialplan at
  `<transfer_context>,<number>,1` (the `[agents]` rules: 0... and +... outside).

The move is answered once: when the agent is reserved (ringing) or refused; at
once for the other kinds. Every transfer writes a `transfer` queue event (detail:
to, kind, by, mode, via, result); the first agent's `complete` says reason
transfer. The calls row keeps the first agent until another answers, and says the
transfer in `end_detail` ("transfer:<kind>"); a transfer to a number ends the call
`transferred` (ended_by acd).

The agent phone's own transfer button (a blind REFER, `PhoneRefer`) is the same
transfer, its target read from the Refer-To number (`refer_target`) and the phone
told how it went with transfer_progress (`report`). The ringing target, its answer
and failures, and the hook into the machine: acd.calls.phases.transfer_agent;
attended transfers: acd.calls.phases.consult; the phone's attended REFER (with
Replaces): acd.calls.phases.phone_consult.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import (
    QUEUE_VAR,
    Announcements,
    CallState,
    Leg,
    Phase,
    Transfer,
    Waiting,
    transfer_channel_id,
    transfer_task_id,
)
from acd.calls.phases.answers import refuse as _refuse
from acd.calls.phases.base import Run
from acd.calls.phases.ivr import perform
from acd.calls.phases.queued import request
from acd.ivr import engine
from acd.routing.model import Offer, QueueRequest

KINDS = ("agent", "queue", "flow", "number")
PHONE_HANGUP_AFTER = 5.0  # seconds a REFER's phone has to hang its leg up itself
MOH_TIMER = "xfer-moh"  # the caller's music tried again during a transfer
MOH_RETRIES = 3
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NUMBER = re.compile(r"\+?[0-9]{2,20}")


def parse_target(raw: object) -> str | None:
    """`kind:name` when `raw` names a target acd can reach, else None."""
    if not isinstance(raw, str):
        return None
    kind, _, name = raw.partition(":")
    if kind not in KINDS:
        return None
    pattern = _NUMBER if kind == "number" else _NAME
    return raw if pattern.fullmatch(name) else None


def state_of(st: CallState) -> str | None:
    """Where the call's transfer is, for the desktop: asking (routing), ringing,
    consulting (attended, the target talks to the agent), conference; None: none."""
    t = st.transfer
    if t is None:
        return None
    if t.conference:
        return "conference"
    if t.consult_bridge is not None:
        return "consulting"
    return "ringing" if t.channel_id is not None else "asking"


# ------------------------------------------------------------------ the move


def transfer(run: Run, event: e.Control) -> None:
    """A blind transfer asked from the desktop or the API (connected_only)."""
    if run.st.transfer is not None:
        _refuse(run, event, "transfer_in_progress",
                f"a transfer to {run.st.transfer.target} is under way")
        return
    target = parse_target(event.args.get("to"))
    if target is None:
        _refuse(run, event, "bad_target",
                "to must be agent:<id>, queue:<name>, flow:<name> or number:<digits>")
        return
    begin(run, Transfer(target, event.by, request_id=event.request_id))


def begin(run: Run, t: Transfer) -> None:
    """Start transfer `t` of the connected caller (the move or a REFER)."""
    st = run.st
    n = st.transfers + 1
    run.set(transfer=t, transfers=n)
    if t.kind == "agent":
        leg = st.connected_leg
        if leg is not None and leg.agent_id == t.name:
            settle(run, False, "target_unavailable", f"agent {t.name} is on this call")
            return
        run.emit(c.ReserveAgent(transfer_task_id(st.call_id, n), t.name, st.queue or "",
                                st.enqueued_ms or run.now_ms, st.caller_number))
    elif t.kind == "queue":
        _to_queue(run, t)
    elif t.kind == "flow":
        run.emit(c.LoadFlow(t.name, st.call_id, st.caller_number, st.dialled, st.language))
    else:
        _to_number(run, t)


def settle(run: Run, success: bool, error_id: str | None = None, message: str = "",
           **data: c.ControlArg) -> None:
    """Answer the move (once) and, on a refusal, forget the transfer."""
    t = run.st.transfer
    if t is None:
        return
    if not success:
        report(run, "channel_declined")
    if t.request_id is not None:
        data = {"target": t.target, **data}
        run.emit(c.Reply(t.request_id, True, data=data) if success else
                 c.Reply(t.request_id, False, error_id or "failed", message, data))
        run.set(transfer=replace(t, request_id=None))
    if not success:
        run.set(transfer=None)


def ring_target(run: Run, t: Transfer, agent_id: str, endpoint: str,
                offer: Offer | None) -> None:
    """Ring the target of transfer `t` (a leg of kind transfer, created into acd's app
    and dialled once there) while the caller hears music; the move is answered
    "ringing". `offer` None: an outside party (a consulted number)."""
    st = run.st
    n = st.transfers
    leg = Leg(leg_id=f"{st.call_id}-t{n}", channel_id=transfer_channel_id(st.call_id, n),
              agent_id=agent_id, endpoint=endpoint, offer=offer, started_ms=run.now_ms,
              kind="transfer", target=t.target, mode=t.mode)
    run.put_leg(leg)
    run.set(transfer=replace(t, channel_id=leg.channel_id))
    settle(run, True, state="ringing")
    run.music_on()
    variables = {"ACD_CALL_ID": st.call_id}
    if offer is not None:
        variables["ACD_QUEUE"] = offer.queue
    ring = max(1, round(st.ring_timeout(leg)))
    run.emit(
        c.CreateChannel(leg.channel_id, endpoint, f"transfer,{st.call_id}",
                        originator=st.channel_id, variables=variables),
        c.StartTimer(f"xfer:{leg.channel_id}", ring + st.settings.ring_guard_margin))


def report(run: Run, state: str) -> None:
    """Tell the phone whose REFER started the transfer how it ended (once)."""
    t = run.st.transfer
    if t is not None and t.refer_channel is not None:
        run.emit(c.ReportTransfer(t.refer_channel, state))
        run.set(transfer=replace(t, refer_channel=None))


def write_event(run: Run, t: Transfer, result: str, agent_id: str | None) -> None:
    run.queue_event("transfer", agent_id, to=t.target, kind=t.kind, by=t.by, mode=t.mode,
                    via=t.via, result=result)


def agent_leaves(run: Run, *, hang_up: bool = True) -> None:
    """The first agent is done with the call: hung up (unless their phone already
    did), to wrap-up. The calls row keeps them until another agent answers."""
    st = run.st
    leg = st.connected_leg
    if leg is None or leg.hangup_requested:
        return
    run.put_leg(leg, hangup_requested=True)
    if hang_up and leg.live and st.transfer is not None and st.transfer.via == "phone":
        # The phone hangs its leg up once told (NOTIFY 200); acd does if it does not.
        run.emit(c.StartTimer(f"hangup:{leg.channel_id}", PHONE_HANGUP_AFTER))
    elif hang_up and leg.live:
        run.hangup(leg.channel_id)
    if st.answer_recorded and not st.complete_sent:
        run.complete(leg, reason="transfer")
    run.set(answer_recorded=False, complete_sent=False,
            end_detail=st.end_detail or f"transfer:{st.transfer.kind if st.transfer else ''}")


def _leave_bridge(run: Run) -> None:
    run.stop_prompts()
    run.destroy_bridge()


# -------------------------------------------------------------- queue, flow, number


def _queue_settings(run: Run, name: str) -> tuple[int, bool] | None:
    for queue, raise_by, keep in run.st.settings.transfer_queues:
        if queue == name:
            return raise_by, keep
    return None


def _to_queue(run: Run, t: Transfer) -> None:
    conf = _queue_settings(run, t.name)
    if conf is None:
        settle(run, False, "unknown_target", f"no queue {t.name!r}")
        return
    raise_by, keep = conf
    st = run.st
    old = request(run)
    _hand_off(run, t, "queued")
    enqueued = old.enqueued_at_ms if keep else run.now_ms
    req = QueueRequest(call_id=st.rid, queue=t.name, priority=min(1000, old.priority + raise_by),
                       enqueued_at_ms=enqueued, caller=st.caller_number)
    generation = st.waiting.generation if st.waiting is not None else 0
    run.set(phase=Phase.QUEUED, queue=t.name, enqueued_ms=enqueued, transfer=None,
            waiting=Waiting(req, Announcements(), generation=generation))
    run.music_on()
    run.emit(c.Enqueue(req), c.SetVar(st.channel_id, QUEUE_VAR, f"{t.name}:{enqueued}"))


def flow_loaded(run: Run, event: e.FlowLoaded) -> None:
    t = run.st.transfer
    if t is None or t.kind != "flow" or t.name != event.name:
        return
    if event.flow is None or run.st.phase is not Phase.CONNECTED or run.st.caller_gone:
        settle(run, False, "unknown_target", f"no flow {event.name!r}")
        return
    st = run.st
    _hand_off(run, t, "flow")
    run.music_off()
    ctx = event.ctx or engine.IvrContext(call_id=st.call_id, caller_number=st.caller_number,
                                         dialled=st.dialled, language=st.language)
    state, actions = engine.start(event.flow, ctx, _now(run))
    run.set(phase=Phase.IVR, transfer=None, ivr=state, flow_name=event.flow.name,
            flow_version=event.flow.version, waiting=None)
    perform(run, actions)
    if not run.st.caller_gone:
        run.remember()


def _hand_off(run: Run, t: Transfer, where: str) -> None:
    """The caller goes on without an agent (a queue, a flow, the dialplan): the move
    is answered, the phone told, the agent leaves to wrap-up, the bridge is left."""
    st = run.st
    write_event(run, t, where, st.connected_leg.agent_id if st.connected_leg else None)
    settle(run, True, state=where)
    report(run, "channel_answered")
    agent_leaves(run)
    _leave_bridge(run)


def _now(run: Run) -> datetime:
    return datetime.fromtimestamp(run.now_ms / 1000, tz=UTC)


def _to_number(run: Run, t: Transfer) -> None:
    st = run.st
    _hand_off(run, t, "dialplan")
    run.music_off()
    run.set(phase=Phase.IVR, transfer=None, transferred=True, outcome="transferred",
            ended_by="acd", end_detail="transfer:number")
    run.emit(c.ToDialplan(st.channel_id, st.settings.transfer_context, t.name, 1))


# ---------------------------------------------------------- the phone's REFER


def refer_target(run: Run, destination: str) -> str | None:
    """What a REFER's Refer-To user part names (the shipped `[agents]` numbers): an
    agent's number, 8 + an acd number (its flow), 0... or +... outside."""
    for number, agent_id in run.st.settings.agent_numbers:
        if number == destination:
            return f"agent:{agent_id}"
    if destination.startswith("8") and destination[1:].isdigit():
        return f"flow:#{destination[1:]}"
    if destination[:1] in ("0", "+") and _NUMBER.fullmatch(destination):
        return f"number:{destination}"
    return None


def phone_refer(run: Run, event: e.PhoneRefer) -> None:
    """The connected agent's phone asks for a blind transfer (its transfer button):
    carried out like the desktop's, reported to the phone with transfer_progress."""
    st = run.st
    leg = st.connected_leg
    if (leg is None or leg.channel_id != event.channel_id or st.phase is not Phase.CONNECTED
            or st.caller_gone or st.transfer is not None):
        run.emit(c.ReportTransfer(event.channel_id, "channel_declined"))
        return
    target = refer_target(run, event.destination)
    if target is None:
        run.emit(c.ReportTransfer(event.channel_id, "channel_declined"))
        return
    run.emit(c.ReportTransfer(event.channel_id, "channel_progress"))
    begin(run, Transfer(target, f"phone:{leg.agent_id}", via="phone",
                        refer_channel=event.channel_id))
