"""A small model of the world around one call, for property tests of the pure
machine: channels in Asterisk, agents in routing, rows written, timers; faults
injected into any command; events lost while the events socket is down.

The world carries commands out as acd's executor does (a result event where the
machine expects one, `Failed` for a failure) and delivers Asterisk's events
later, in order, unless they are lost in a gap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step_recorded as step
from acd.calls.model import CallState, Phase
from acd.ivr.engine import IvrContext
from acd.ivr.model import Flow
from acd.routing.model import EnqueueResult, Offer
from acd.store.rows import CallRow, LegRow
from tests.calls.driver import CALL_ID, CALLER, offer
from tests.ivr.driver import T0

# Draws a fault for a command: None (it works) or a fault kind.
FaultDraw = Callable[[c.Command], e.Fault | None]
AGENTS = ("a100", "a101")


@dataclass
class Chan:
    kind: str  # caller | leg
    alive: bool = True
    stasis: bool = False
    moh: bool = False
    playing: set[str] = field(default_factory=set)
    bridge: str | None = None
    dialled: bool = False
    answered: bool = False
    agent: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    muted: bool = False  # hold: acd muted the caller toward the bridge


class World:
    def __init__(self, flow: Flow, faults: FaultDraw, ring_all: bool = False) -> None:
        self.now = T0
        self.faults = faults
        self.ring_all = ring_all
        self.flow = flow
        self.state = CallState(call_id=CALL_ID, channel_id=CALLER, caller_number="5551234",
                               dialled="100", started_ms=self.ms)
        self.chans: dict[str, Chan] = {CALLER: Chan("caller", stasis=True)}
        self.agents: dict[str, str] = dict.fromkeys(AGENTS, "available")
        self.reserved: dict[str, Offer] = {}  # agent -> offer
        self.expired_ok: set[str] = set()  # agents whose release failed: routing's TTL frees
        self.queued = False
        self.attempt = 0
        self.timers: dict[str, datetime] = {}
        self.pending: deque[e.Event] = deque()
        self.gap = False
        self.down = False  # acd is not running (tests.calls.restart)
        self.record: dict[str, str] | None = None  # the re-adoption record in Redis
        self.legs_seen: set[str] = set()  # agent legs of earlier acd processes
        self.lost_events = 0
        self.rows: list[object] = []
        self.finished = 0
        self.after_finish: list[c.Command] = []
        self.in_dialplan = False
        self.trace: list[str] = []
        self.log: list[str] = []  # every step, for a failing example's report
        # ---- hold: moves asked, their answers, the agent's phone holding
        self.asked: list[str] = []
        self.replies: list[str] = []
        self.phone_held = False

    @property
    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    # ------------------------------------------------------------ feeding

    def feed(self, event: e.Event) -> None:
        self.trace.append(type(event).__name__)
        todo: deque[e.Event] = deque([event])
        while todo:
            ev = todo.popleft()
            was_ended = self.state.phase is Phase.ENDED
            self.state, cmds = step(self.state, ev, self.now)
            self.log.append(f"{ev!r:.90} -> {[type(x).__name__ for x in cmds]}")
            if was_ended:
                self.after_finish += cmds
            results: list[e.Event] = []
            for cmd in cmds:
                results += self.carry_out(cmd)
            todo.extendleft(reversed(results))  # results first, as the executor does

    def carry_out(self, cmd: c.Command) -> list[e.Event]:
        """One command carried out: the events it gives back."""
        return self.execute(cmd)

    def asterisk(self, event: e.Event) -> None:
        """An event Asterisk sends: delivered later, or lost in a gap."""
        if self.gap:
            self.lost_events += 1
        else:
            self.pending.append(event)

    def deliver(self) -> bool:
        if not self.pending:
            return False
        self.feed(self.pending.popleft())
        return True

    # ----------------------------------------------------------- commands

    def execute(self, cmd: c.Command) -> list[e.Event]:
        if isinstance(cmd, c.StartTimer):
            self.timers[cmd.key] = self.now + timedelta(seconds=cmd.seconds)
            return []
        if isinstance(cmd, c.CancelTimer):
            self.timers.pop(cmd.key, None)
            return []
        if isinstance(cmd, c.WriteRow):
            self.rows.append(cmd.row)
            return []
        if isinstance(cmd, c.Finished):
            self.finished += 1
            self.timers.clear()
            return []
        if isinstance(cmd, c.Remember):
            self.record = {**(self.record or {}), **{k: str(v) for k, v in cmd.fields.items()}}
            return []
        if isinstance(cmd, c.Forget):
            self.record = None
            return []
        if isinstance(cmd, c.RememberCallback | c.ForgetCallback | c.OfferRinging
                      | c.IvrLookup):
            return []
        fault = self.faults(cmd)
        target = getattr(cmd, "channel_id", None) if isinstance(cmd, c.ON_CHANNEL) else None
        if target is not None and not isinstance(cmd, c.CreateChannel):
            ch = self.chans.get(target)
            if ch is None or not ch.alive or not ch.stasis:
                return [e.Failed(cmd, "gone")]
        if fault is not None:
            self.log.append(f"   fault {fault} on {type(cmd).__name__}")
            return self._fault(cmd, fault)
        return self._do(cmd)

    def _fault(self, cmd: c.Command, fault: e.Fault) -> list[e.Event]:
        if isinstance(cmd, c.OfferFailed | c.CallEnded | c.Dequeue | c.RecordAnswer):
            # Routing did not hear it: the reservation (or the on-call deadline the
            # owner stops renewing) expires and routing frees the agent itself.
            agent = getattr(cmd, "offer", None)
            if agent is not None:
                self.expired_ok.add(agent.agent_id)
            if agent is None or isinstance(cmd, c.RecordAnswer):
                # A dequeue, or an answer that would have released the other ring-all
                # reservations: their own expiry frees them.
                self.expired_ok.update(self.reserved)
        if isinstance(cmd, c.CreateChannel) and fault == "error":
            # A timeout: Asterisk may have made the channel all the same.
            self.chans[cmd.channel_id] = Chan("leg", stasis=True, agent=cmd.endpoint.split("/")[-1])
            self.asterisk(e.LegInStasis(cmd.channel_id))
        return [e.Failed(cmd, fault)]

    def _do(self, cmd: c.Command) -> list[e.Event]:  # noqa: C901 - one line per command
        chans = self.chans
        match cmd:
            case c.Play(channel_id=ch, playback_id=pid):
                chans[ch].playing.add(pid)
                chans[ch].moh = False  # a prompt stops the channel's music (Asterisk 22)
            case c.StopPlayback(playback_id=pid):
                for x in chans.values():
                    x.playing.discard(pid)
            case c.SetVar(channel_id=ch, name=name, value=value):
                chans[ch].vars[name] = value
            case c.MusicOn(channel_id=ch):
                chans[ch].moh = True
            case c.MusicOff(channel_id=ch):
                chans[ch].moh = False
            case c.Hangup(channel_id=ch):
                self.kill(ch, 16, requested=False)
            case c.ToDialplan(channel_id=ch) | c.Redirect(channel_id=ch):
                chans[ch].stasis = False
                chans[ch].moh = False
                chans[ch].playing.clear()
                self.in_dialplan = True
                self.asterisk(e.CallerLeft(None, destroyed=False))
            case c.CreateChannel(channel_id=ch, endpoint=ep):
                chans[ch] = Chan("leg", stasis=True, agent=ep.split("/")[-1])
                self.asterisk(e.LegInStasis(ch))
                return [e.Created(ch)]
            case c.Dial(channel_id=ch):
                chans[ch].dialled = True
                self.asterisk(e.LegRinging(ch))
            case c.CreateBridge():
                pass
            case c.AddToBridge(bridge_id=bid, channel_ids=ids):
                if not all(chans[x].alive and chans[x].stasis for x in ids):
                    return [e.Failed(cmd, "gone")]
                for x in ids:
                    chans[x].bridge = bid
                    chans[x].moh = False
                return [e.Bridged(bid)]
            case c.DestroyBridge(bridge_id=bid):
                for x in chans.values():
                    if x.bridge == bid:
                        x.bridge = None
            case c.CheckChannels(channel_ids=ids):
                gone = frozenset(x for x in ids if not chans[x].alive or not chans[x].stasis)
                return [e.Vanished(gone)] if gone else []
            case c.Resync(channel_ids=ids, playback_ids=pids):
                out: list[e.Event] = []
                gone = frozenset(x for x in ids if not chans[x].alive or not chans[x].stasis)
                if gone:
                    out.append(e.Vanished(gone))
                for x in ids:
                    if x not in gone and chans[x].kind == "leg":
                        out.append(e.LegAnswered(x) if chans[x].answered
                                   else e.LegInStasis(x))
                playing = chans[CALLER].playing
                out += [e.PlaybackDone(p) for p in pids if p not in playing]
                return out
            case c.Enqueue(adopt=adopt):
                self.queued = True
                return [] if adopt else [e.Enqueued(EnqueueResult(accepted=True, position=1))]
            case c.Dequeue():
                self.queued = False
                for agent in list(self.reserved):
                    self._free(agent)
            case c.RecordAnswer(offer=o):
                if self.reserved.get(o.agent_id) == o:
                    del self.reserved[o.agent_id]
                    self.agents[o.agent_id] = "on_call"
                    self.queued = False
                    for agent in list(self.reserved):  # ring-all: routing lets the rest go
                        self._free(agent)
                    return [e.AnswerRecorded(cmd.channel_id, True)]
                return [e.AnswerRecorded(cmd.channel_id, False)]
            case c.OfferFailed(offer=o):
                if self.reserved.get(o.agent_id) == o:
                    self._free(o.agent_id)
            case c.CallEnded(offer=o):
                if self.agents[o.agent_id] == "on_call":
                    self.agents[o.agent_id] = "wrapup"
            case c.AgentBreak(agent_id=a):
                self.agents[a] = "paused"
            case c.AskStanding():
                return [e.Standing(1, 30.0)]
            case c.AskCallback():
                self.queued = False  # a callback task now, served by another call
                return [e.CallbackAccepted(True)]
            # ---- hold
            case c.Reply(request_id=rid):
                self.replies.append(rid)
            case c.HoldCaller(channel_id=ch, request_id=rid):
                chans[ch].moh = chans[ch].muted = True
                return [e.HoldDone(rid, True)]
            case c.UnholdCaller(channel_id=ch, request_id=rid, music=music, unmute=unmute):
                chans[ch].moh = chans[ch].moh and not music
                chans[ch].muted = chans[ch].muted and not unmute
                return [e.HoldDone(rid, False)]
        return []

    # ---- hold: a move asked of the call, the agent's phone's hold button

    def move(self, action: str) -> None:
        rid = f"m{len(self.asked)}"
        self.asked.append(rid)
        self.feed(e.Control(rid, action, {}, "agent:a100"))

    def phone_hold(self, leg: str, held: bool) -> None:
        """The phone on `leg` holds (the bridge's others get music) or resumes."""
        bridge = self.chans[leg].bridge
        if bridge is None:
            return
        self.phone_held = held
        for x in self.chans.values():
            if x is not self.chans[leg] and x.bridge == bridge:
                x.moh = held
        self.asterisk(e.PhoneHold(leg, held))

    def stranded_on_hold(self) -> bool:
        """Not held as far as acd knows, yet the caller has music or is muted."""
        caller, st = self.chans[CALLER], self.state
        if (not caller.alive or not caller.stasis or st.held_ms is not None
                or st.hold_request is not None or "unhold" in self.timers):
            return False
        if st.phase in (Phase.QUEUED, Phase.OFFERING):
            return caller.muted  # back in the queue: their voice must be back
        if st.phase is not Phase.CONNECTED or caller.bridge is None or self.phone_held:
            return False
        return caller.moh or caller.muted

    def _free(self, agent: str) -> None:
        self.reserved.pop(agent, None)
        if self.agents[agent] == "reserved":
            self.agents[agent] = "available"

    # ------------------------------------------------------------ the world

    def kill(self, ch: str, cause: int, requested: bool = True) -> None:
        x = self.chans[ch]
        if not x.alive:
            return
        x.alive = False
        self.phone_held = self.phone_held and x.kind != "leg"  # hold: its phone is gone
        x.moh = False
        x.playing.clear()
        x.bridge = None
        if not x.stasis and x.kind == "caller":
            return  # with the dialplan: acd no longer hears of it
        if x.kind == "caller":
            if requested:
                self.asterisk(e.CallerHangupRequest(cause))
            self.asterisk(e.CallerLeft(cause))
        else:
            if requested:
                self.asterisk(e.LegHangupRequest(ch, cause))
            self.asterisk(e.LegDestroyed(ch, cause))

    def offer_now(self) -> bool:
        """Routing reserves a free agent for the waiting call."""
        if not self.queued or (self.reserved and not self.ring_all):
            return False
        free = [a for a, s in self.agents.items() if s == "available"]
        if not free:
            return False
        self.attempt += 1
        o = offer(free[0], self.attempt)
        self.reserved[free[0]] = o
        self.agents[free[0]] = "reserved"
        if self.state.phase is Phase.ENDED:
            # The service knows no such call any more: it dequeues (see on_offer).
            self.queued = False
            self._free(free[0])
            return True
        self.feed(e.OfferArrived(o, self.ring_all))
        return True

    def tick(self) -> bool:
        """Time passes up to the next timer, which fires."""
        if not self.timers:
            return False
        key, due = min(self.timers.items(), key=lambda kv: kv[1])
        del self.timers[key]
        self.now = max(self.now, due)
        self.wrapup_ends()
        self.feed(e.TimerFired(key))
        return True

    def wrapup_ends(self) -> None:
        for a, s in self.agents.items():
            if s == "wrapup":
                self.agents[a] = "available"

    def reconnect(self) -> None:
        """The events socket is back: reconciliation tells the call what is gone."""
        self.gap = False
        gone = frozenset(ch for ch in self.state.channels()
                         if ch in self.chans and (not self.chans[ch].alive
                                                  or not self.chans[ch].stasis))
        if gone and self.state.phase is not Phase.ENDED:
            self.feed(e.Vanished(gone))
        self.feed(e.Reconnected())

    def orphans(self) -> list[str]:
        """Agent legs alive in Stasis that the call no longer claims."""
        claimed = set(self.state.channels()) if self.state.phase is not Phase.ENDED else set()
        return [ch for ch, x in self.chans.items()
                if x.kind == "leg" and x.alive and ch not in claimed]

    def recover(self, record: dict[str, str]) -> bool:
        """acd's recovery of the call after a restart, if this world runs it
        (tests.calls.ports); otherwise tests.calls.restart models it."""
        return False

    def start(self) -> None:
        self.feed(e.Start(self.flow, IvrContext(CALL_ID, "5551234", "100", "en", {})))

    # ------------------------------------------------------------- checks

    def silent(self) -> bool:
        """The caller is in acd's hands, alive, and hears nothing."""
        caller = self.chans[CALLER]
        st = self.state
        if not caller.alive or not caller.stasis or st.phase is Phase.ENDED:
            return False
        if caller.moh or caller.playing:
            return False
        if caller.bridge is not None:
            return False
        # Brief silences with a timer that ends them: music tried again, a hang-up
        # tried again, the caller told the agent is gone and about to be hung up.
        if "moh" in self.timers or f"hangup:{CALLER}" in self.timers:
            return False
        if any(key.startswith("resync:") for key in self.timers):
            return False  # what the socket's gap hid is asked again
        if "reap" in self.timers and st.phase is Phase.ENDING:
            return False
        return not (st.ivr_timers and st.phase is Phase.IVR)  # waiting for digits

    def call_rows(self) -> list[CallRow]:
        return [r for r in self.rows if isinstance(r, CallRow)]

    def leg_rows(self) -> list[LegRow]:
        return [r for r in self.rows if isinstance(r, LegRow)]
