"""Carries the call machine's commands out on ARI, the router, the row writer and
Redis, and turns every failure into an event for the machine.

Nothing here decides: a command's result comes back as the event the machine
expects (`Created`, `Bridged`, `Enqueued`...), a failure as `Failed(command,
fault)` with the fault classified (the channel is gone, the phone cannot be
reached, Asterisk refused, acd's own trouble). An exception of any other kind is
a bug: it is not caught here, so the call's mailbox hands it to the safety net.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from acd import metrics
from acd.ari.errors import AriAllocationFailed, AriError
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.deps import CallDeps
from acd.calls.lookups import Lookups
from acd.calls.mailbox import Mailbox
from acd.calls.records import Records
from acd.calls.replies import Replies
from acd.ivr import actions as a
from acd.ivr.engine import IvrContext
from acd.outage import ARI, CONNECTION_ERRORS, report
from acd.store.rows import CallRow

logger = logging.getLogger(__name__)

# acd's own trouble reaching its back-ends (Redis, a dropped connection, a timeout).
_BACKEND_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, RedisError)


# Commands that make a channel in acd's app (its StasisStart is how acd hears of it).
_INTO_THE_APP = (c.CreateChannel, c.StartSnoop)


def ari_fault(exc: AriError) -> e.Fault:
    if exc.gone:
        return "gone"
    if isinstance(exc, AriAllocationFailed):
        return "unreachable"
    if exc.status is not None and 400 <= exc.status < 500:
        return "refused"
    return "error"  # no answer, a timeout, a 5xx


class Executor:
    def __init__(self, deps: CallDeps, records: Records, lookups: Lookups,
                 replies: Replies | None = None) -> None:
        self.d = deps
        self.records = records
        self.lookups = lookups
        self.replies = replies if replies is not None else Replies()
        self.failures = 0

    async def run(self, call_id: str, cmd: c.Command, box: Mailbox) -> list[e.Event]:
        """Carry `cmd` out for call `call_id`; the events it gives the machine."""
        if isinstance(cmd, _INTO_THE_APP) and not self.d.listening():
            # Asterisk would drop the channel unheard (no events socket): acd's own
            # trouble, not the agent's; the events socket logs its outage once.
            self.failures += 1
            return [e.Failed(cmd, "error")]
        try:
            events = await self._run(call_id, cmd, box)
        except AriError as exc:
            fault = ari_fault(exc)
            if fault != "gone":
                self.failures += 1
                if isinstance(exc, CONNECTION_ERRORS):
                    report(logger, exc, "call %s: %s", call_id[:8], type(cmd).__name__)
                else:
                    logger.info("call %s: %s failed: %s", call_id[:8], type(cmd).__name__, exc)
            return [e.Failed(cmd, fault)]
        except _BACKEND_ERRORS as exc:
            self.failures += 1
            report(logger, exc, "call %s: %s", call_id[:8], type(cmd).__name__)
            return [e.Failed(cmd, "error")]
        if ARI.down and isinstance(cmd, c.ON_ARI):
            ARI.ok()  # Asterisk answers again: the outage's end, logged once
        return events

    async def _run(self, call_id: str, cmd: c.Command,  # noqa: C901 - one line per command
                   box: Mailbox) -> list[e.Event]:
        ari, router = self.d.ari, self.d.router
        match cmd:
            case c.Reply():
                self.replies.deliver(cmd)
            case c.Answer(channel_id=ch):
                await ari.answer(ch)
            case c.Play(channel_id=ch, playback_id=pid, prompts=prompts, language=lang):
                logger.info("call %s: plays %s", call_id[:8], ", ".join(prompts))
                await ari.play(ch, list(prompts), lang=lang, playback_id=pid)
            case c.StopPlayback(playback_id=pid):
                await ari.stop_playback(pid)
            case c.MusicOn(channel_id=ch, moh_class=moh):
                await ari.start_moh(ch, moh)
            case c.MusicOff(channel_id=ch):
                await ari.stop_moh(ch)
            case c.Hangup(channel_id=ch, reason=reason):
                await ari.hangup(ch, reason=reason)
            case c.SetVar(channel_id=ch, name=name, value=value):
                await ari.set_var(ch, name, value)
            case c.ToDialplan(channel_id=ch, context=ctx, extension=ext, priority=prio):
                await ari.continue_in_dialplan(ch, context=ctx, extension=ext, priority=prio)
            case c.Redirect(channel_id=ch, endpoint=ep):
                await ari.redirect(ch, ep)
            case c.Record(channel_id=ch, name=name, max_seconds=secs, beep=beep):
                await ari.record(ch, name, "wav", max_duration=secs, beep=beep)
            case c.CreateChannel():
                await ari.create_channel(cmd.endpoint, self.d.app, app_args=cmd.app_args,
                                         channel_id=cmd.channel_id, originator=cmd.originator,
                                         variables=dict(cmd.variables) or None)
                return [e.Created(cmd.channel_id)]
            case c.Dial(channel_id=ch, caller=caller, timeout=timeout):
                await ari.dial(ch, caller=caller, timeout=timeout)
            case c.CreateBridge(bridge_id=bid):
                await ari.create_bridge(bridge_id=bid, type="mixing", name="acd-call")
            case c.AddToBridge(bridge_id=bid, channel_ids=ids):
                await ari.add_channel(bid, list(ids))
                return [e.Bridged(bid)]
            case c.DestroyBridge(bridge_id=bid):
                await ari.destroy_bridge(bid)
            case c.CheckChannels(channel_ids=ids):
                gone = frozenset([ch for ch in ids if not await self._exists(ch)])
                return [e.Vanished(gone)] if gone else []
            case c.Resync():
                return await self._resync(cmd)
            case c.Enqueue(request=req, adopt=True):
                await router.adopt(req)
            case c.Enqueue(request=req):
                return [e.Enqueued(await router.enqueue(req))]
            case c.Dequeue(routing_id=rid):
                await router.dequeue(rid)
            case c.OfferRinging(offer=o):
                await router.offer_ringing(o)
            case c.RecordAnswer(channel_id=ch, offer=o):
                return [e.AnswerRecorded(ch, await router.offer_answered(o))]
            case c.OfferFailed(offer=o, reason=reason):
                await router.offer_failed(o, reason)
            case c.CallEnded(offer=o):
                await router.call_ended(o)
            case c.CallbackFailed(offer=o, retry_in=retry):
                await router.callback_failed(o, retry)
            case c.AskCallback(routing_id=rid, number=number):
                return [e.CallbackAccepted(await router.to_callback(rid, number))]
            case c.AskStanding(routing_id=rid, with_wait=with_wait):
                position, wait = await router.standing(rid, with_wait=with_wait)
                return [e.Standing(position, wait)]
            case c.AgentBreak(agent_id=agent, reason=reason):
                await router.agents.set_break(agent, reason)
            case c.IvrLookup(action=action):
                return await self._lookup(call_id, action, box)
            case c.WriteRow(row=row):
                self.d.writer.write(row)
                if isinstance(row, CallRow):
                    metrics.CALLS.labels(row.outcome).inc()
            case c.Remember(channel_id=ch, fields=fields):
                await self.records.remember(ch, {**fields, "node": router.node_id})
            case c.Forget(channel_id=ch):
                await self.records.forget(ch)
            case c.RememberCallback(routing_id=rid, fields=fields):
                await self.records.remember_callback(rid, fields)
            case c.ForgetCallback(routing_id=rid):
                await self.records.forget_callback(rid)
            case c.StartTimer(key=key, seconds=seconds):
                box.start_timer(key, seconds, e.TimerFired(key))
            case c.CancelTimer(key=key):
                box.cancel_timer(key)
            case c.Finished():
                pass  # the service forgets the call (acd.calls.service)
            # ---- monitoring (issue 17)
            case c.StartSnoop():
                await ari.snoop(cmd.target, self.d.app, spy=cmd.spy, whisper=cmd.whisper,
                                snoop_id=cmd.channel_id, app_args=cmd.app_args)
            case c.MoveSupervisor(channel_id=ch, source=src, bridge_id=bid, also=also):
                if src is not None:
                    await ari.remove_channel(src, ch)
                await ari.add_channel(bid, [ch, *also])
                return [e.Bridged(bid)]
            # ---- transfer (issue 17)
            case c.ReserveAgent():
                offer, why = await router.reserve_agent(cmd.task_id, cmd.agent_id, cmd.queue,
                                                        cmd.enqueued_at_ms, cmd.caller)
                return [e.TransferReserved(offer, why)]
            case c.LoadFlow():
                return [self._flow(cmd)]
            case c.ReportTransfer(channel_id=ch, state=state):
                await ari.transfer_progress(ch, state)
            case c.RemoveFromBridge(bridge_id=bid, channel_ids=ids):
                await ari.remove_channel(bid, list(ids))
            case c.Ringback(channel_id=ch):
                await ari.ring(ch)
            # ---- hold (docs/call-control.md: music on the caller kept in the bridge)
            case c.HoldCaller(channel_id=ch, moh_class=moh, request_id=rid):
                await ari.start_moh(ch, moh)
                await ari.mute(ch, "in")
                return [e.HoldDone(rid, True)]
            case c.UnholdCaller(channel_id=ch, request_id=rid, music=music, unmute=unmute):
                if unmute:
                    await ari.unmute(ch, "in")
                if music:
                    await ari.stop_moh(ch)
                return [e.HoldDone(rid, False)]
            # ---- recording and payment (#17)
            case c.StartBridgeRecording(bridge_id=bid, name=name, fmt=fmt):
                await ari.bridge_record(bid, name, fmt, if_exists="overwrite")
                return [e.RecordingOn(name)]
            case c.PauseRecording(name=name):
                await ari.pause_live_recording(name)
            case c.ResumeRecording(name=name):
                await ari.unpause_live_recording(name)
            case c.StopRecording(name=name):
                await ari.stop_live_recording(name)
            case c.BridgeMusicOn(bridge_id=bid, moh_class=moh):
                await ari.bridge_start_moh(bid, moh)
            case c.BridgeMusicOff(bridge_id=bid):
                await ari.bridge_stop_moh(bid)
            case c.FindPaymentFlow(name=name):
                return [e.PaymentFlowFound(name, self.d.flows.get(name),
                                           self.d.flows.snapshot())]
        return []

    def _flow(self, cmd: c.LoadFlow) -> e.FlowLoaded:
        flow = (self.d.flows.for_number(cmd.name[1:]) if cmd.name.startswith("#")
                else self.d.flows.get(cmd.name))
        if flow is None:
            return e.FlowLoaded(cmd.name, None)
        return e.FlowLoaded(cmd.name, flow, IvrContext(
            call_id=cmd.call_id, caller_number=cmd.caller, dialled=cmd.dialled,
            language=cmd.language, flows=self.d.flows.snapshot()))

    async def _exists(self, channel_id: str) -> bool:
        try:
            await self.d.ari.get_channel(channel_id)
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def _resync(self, cmd: c.Resync) -> list[e.Event]:
        """What the call missed while the events socket was down."""
        out: list[e.Event] = []
        gone: set[str] = set()
        for ch in cmd.channel_ids:
            try:
                channel = await self.d.ari.get_channel(ch)
            except AriError as exc:
                if exc.status == 404:
                    gone.add(ch)
                    continue
                raise
            if ch.startswith("acd-") and not ch.startswith("acd-cb-"):
                out.append(e.LegAnswered(ch) if channel.state == "Up" else e.LegInStasis(ch))
        for pid in cmd.playback_ids:
            try:
                await self.d.ari.get_playback(pid)
            except AriError as exc:
                if exc.status == 404:
                    out.append(e.PlaybackDone(pid))
                    continue
                raise
        return ([e.Vanished(frozenset(gone))] if gone else []) + out

    async def _lookup(self, call_id: str, action: a.HttpRequest | a.CheckList
                      | a.CheckOverride, box: Mailbox) -> list[e.Event]:
        if isinstance(action, a.HttpRequest):
            async def request() -> None:
                box.post(e.IvrResult(await self.lookups.http(call_id, action)))
            box.spawn(request())  # the call goes on hearing its prompt meanwhile
            return []
        if isinstance(action, a.CheckList):
            return [e.IvrResult(await self.lookups.check_list(call_id, action))]
        return [e.IvrResult(await self.lookups.check_override(call_id, action))]
