"""A driver for the pure call machine: send events by short names, read commands
as short strings ("moh on", "create leg1 PJSIP/a100", "row call abandoned caller 16").

Channels read as names: "caller" for the caller's channel, "leg1", "leg2"... for
agent legs in the order they were offered.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step
from acd.calls.model import (
    CallSettings,
    CallState,
    Phase,
    leg_channel_id,
    monitor_bridge_id,
    snoop_channel_id,
    supervisor_channel_id,
    transfer_channel_id,
)
from acd.ivr.actions import HttpResult
from acd.ivr.engine import IvrContext
from acd.ivr.loader import check_flow
from acd.ivr.model import Flow
from acd.routing.model import EnqueueResult, Offer
from acd.store.rows import CallRow, LegRow, QueueEventRow, RecordingRow
from tests.calls import words
from tests.ivr.driver import T0

CALL_ID = "c0ffee0123456789abcdef0123456789"
CALLER = "chan-caller"

FLOW = """
name: t
start: hello
nodes:
  hello:
    type: play
    prompt: acd-welcome
    next: wait
  wait:
    type: queue
    queue: sales
    on_exit: {default: bye}
  bye:
    type: hangup
"""
ANNOUNCING = """
name: t
start: wait
nodes:
  wait:
    type: queue
    queue: sales
    announce: {position: true, every: 20, first: 5}
    callback: {key: "9", offer: [acd-press-9]}
    on_exit: {callback: thanks, default: bye}
  thanks:
    type: hangup
    prompt: acd-thanks
  bye:
    type: hangup
"""
# ---- recording and payment (#17): a payment flow (4 masked digits, the payment call)
PAY_FLOW = """
name: pay
start: card
nodes:
  card:
    type: collect
    prompt: acd-enter-card-number
    variable: card
    min_digits: 4
    max_digits: 4
    terminator: null
    masked: true
    next: pay
    on_invalid: failed
    on_timeout: failed
  pay:
    type: http
    method: POST
    url: "http://127.0.0.1:9/pay"
    body: {card: "${secret.card}"}
    response: {payment_id: id}
    next: done
    on_failure: failed
  failed:
    type: play
    prompt: acd-payment-failed
    next: done
  done:
    type: return
"""


def flow_of(text: str) -> Flow:
    flow, errors, _ = check_flow("t.yaml", text=textwrap.dedent(text))
    assert flow is not None, [str(x) for x in errors]
    return flow


def offer(agent: str, attempt: int = 1, ring: float = 15.0, call_id: str = CALL_ID,
          callback: str | None = None) -> Offer:
    return Offer(call_id=call_id, agent_id=agent, endpoint=f"PJSIP/{agent}", queue="sales",
                 reservation_id=f"r-{agent}-{attempt}", enqueued_at_ms=int(T0.timestamp() * 1000),
                 ring_timeout=ring, attempt=attempt, callback=callback)


class CallDriver:
    def __init__(self, flow: str = FLOW, *, ring_all: bool = False,
                 settings: CallSettings | None = None, callback: bool = False) -> None:
        self.now = T0
        self.flow = flow_of(flow)
        self.ring_all = ring_all
        self.state = CallState(
            call_id=CALL_ID, channel_id=CALLER, caller_number="5551234", dialled="100",
            started_ms=self.ms, settings=settings or CallSettings(),
            routing_id="origin-call" if callback else None)
        self.history: list[c.Command] = []
        self.last: list[c.Command] = []

    @property
    def ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    def name(self, channel_id: str | None) -> str:
        if channel_id == CALLER:
            return "caller"
        for n in range(1, 10):
            if channel_id == leg_channel_id(CALL_ID, n):
                return f"leg{n}"
            # ---- monitoring (issue 17): sup1 (supervisor leg), snoop1.2 (its 2nd snoop)
            if channel_id == supervisor_channel_id(CALL_ID, n):
                return f"sup{n}"
            for k in range(1, 10):
                if channel_id == snoop_channel_id(CALL_ID, n, k):
                    return f"snoop{n}.{k}"
            if channel_id == transfer_channel_id(CALL_ID, n):  # ---- transfer (issue 17)
                return f"xfer{n}"
        return str(channel_id)

    def chan(self, name: str) -> str:
        if name.startswith("phone"):  # an agent phone's own second call (#17): as is
            return name
        if name.startswith("sup"):
            return supervisor_channel_id(CALL_ID, int(name[3:]))
        if name.startswith("snoop"):
            n, k = name[5:].split(".")
            return snoop_channel_id(CALL_ID, int(n), int(k))
        if name.startswith("xfer"):  # ---- transfer (issue 17)
            return transfer_channel_id(CALL_ID, int(name[4:]))
        return CALLER if name == "caller" else leg_channel_id(CALL_ID, int(name[3:]))

    def send(self, event: e.Event) -> list[str]:
        self.state, self.last = step(self.state, event, self.now)
        self.history += self.last
        return [self.summary(x) for x in self.last]

    def latest(self, kind: type[c.Command]) -> c.Command:
        for cmd in reversed(self.history):
            if isinstance(cmd, kind):
                return cmd
        raise AssertionError(f"no {kind.__name__} so far")

    def run(self, script: str) -> list[str]:
        """Run events separated by ";"; returns the last one's commands."""
        out: list[str] = []
        for name, expanded in MACROS.items():
            script = script.replace(name, expanded)
        for word in [w.strip() for w in script.split(";") if w.strip()]:
            out = self.do(word)
        return out

    def do(self, cmd: str) -> list[str]:  # noqa: C901 - one line per word
        word, _, rest = cmd.partition(" ")
        args = rest.split()
        if word == "tick":
            self.now += timedelta(seconds=float(rest))
            return []
        if word == "move":  # move <action> [key=value ...]: a Control from agent a100
            pairs = dict(arg.split("=", 1) for arg in args[1:])
            return self.send(e.Control(f"r{len(self.history)}", args[0], pairs, "agent:a100"))
        # ---- monitoring (issue 17)
        if word == "smove":  # smove <action> [key=value ...]: a Control from supervisor sup
            pairs = dict(arg.split("=", 1) for arg in args[1:])
            return self.send(e.Control(f"r{len(self.history)}", args[0], pairs,
                                       "supervisor:sup"))
        if word == "mon":  # mon <channel> stasis|answered|hangup|gone [cause]
            return self.send(e.MonitorChannel(self.chan(args[0]), args[1],  # type: ignore[arg-type]
                                              int(args[2]) if len(args) > 2 else None))
        if word == "mbridged":  # the monitor bridge (of monitoring n) took its channels
            return self.send(e.Bridged(monitor_bridge_id(CALL_ID, int(rest or "1"))))
        # ---- hold: the phone's button, Asterisk's word on acd's hold / unhold
        if word in ("phone-hold", "phone-unhold"):
            return self.send(e.PhoneHold(self.chan(rest or "leg1"), word == "phone-hold"))
        if word == "hold-done":
            cmd = self.latest(c.HoldCaller if rest == "hold" else c.UnholdCaller)
            return self.send(e.HoldDone(cmd.request_id, rest == "hold"))  # type: ignore[attr-defined]
        if word == "move-as":  # move-as <by> <action>: a Control from someone else
            return self.send(e.Control(f"r{len(self.history)}", args[1], {}, args[0]))
        if word == "start":
            ctx = IvrContext(CALL_ID, "5551234", "100", "en", {})
            return self.send(e.Start(None if rest == "noflow" else self.flow, ctx))
        if word == "done":
            pid = rest or self.latest(c.Play).playback_id  # type: ignore[attr-defined]
            return self.send(e.PlaybackDone(pid))
        if word == "key":
            return self.send(e.Dtmf(rest))
        if word == "enqueued":
            return self.send(e.Enqueued(EnqueueResult(accepted=True, position=1)))
        if word == "refused":
            return self.send(e.Enqueued(EnqueueResult(accepted=False, reason=rest)))
        if word == "offer":
            return self.send(e.OfferArrived(offer(args[0], int(args[1]) if len(args) > 1
                                                  else 1), self.ring_all))
        if word in ("created", "stasis", "ringing", "answer"):
            kind = {"created": e.Created, "stasis": e.LegInStasis, "ringing": e.LegRinging,
                    "answer": e.LegAnswered}[word]
            return self.send(kind(self.chan(rest)))
        if word == "bridged":
            return self.send(e.Bridged(self.state.bridge_id or "none"))
        if word in ("fresh", "stale"):
            return self.send(e.AnswerRecorded(self.chan(rest), word == "fresh"))
        if word == "hangup-req":
            return self.send(e.LegHangupRequest(self.chan(args[0]),
                                                int(args[1]) if len(args) > 1 else 16,
                                                from_device="device" in args))
        if word == "destroyed":
            return self.send(e.LegDestroyed(self.chan(args[0]),
                                            int(args[1]) if len(args) > 1 else 16))
        if word == "caller-hangup":
            return self.send(e.CallerHangupRequest(int(rest) if rest else None))
        if word == "caller-destroyed":
            return self.send(e.CallerLeft(int(rest) if rest else 16))
        if word == "stasis-end":
            return self.send(e.CallerLeft(None, destroyed=False))
        if word == "fire":
            key = rest
            for n in range(1, 10):
                key = key.replace(f"leg{n}", leg_channel_id(CALL_ID, n))
                key = key.replace(f"sup{n}", supervisor_channel_id(CALL_ID, n))  # issue 17
                key = key.replace(f"xfer{n}", transfer_channel_id(CALL_ID, n))
            return self.send(e.TimerFired(key.replace("caller", CALLER)))
        if word == "fail":
            kind = getattr(c, args[0])
            return self.send(e.Failed(self.latest(kind), args[1]))  # type: ignore[arg-type]
        if word == "standing":
            return self.send(e.Standing(int(args[0]), float(args[1]) if len(args) > 1
                                        else None))
        if word in ("cb-ok", "cb-no"):
            return self.send(e.CallbackAccepted(word == "cb-ok"))
        if word == "left":
            return self.send(e.LeftQueue(rest))
        if word == "requeue":
            return self.send(e.Requeue(lost=rest == "lost"))
        if word == "vanished":
            return self.send(e.Vanished(frozenset(self.chan(x) for x in rest.split(","))))
        if word == "reap":
            return self.send(e.Reap())
        if word == "crash":
            return self.send(e.Crashed())
        if word == "cb-start":
            return self.send(e.StartCallback(offer("a100", call_id="origin-call",
                                                   callback="5551234"),
                                             int(rest) if rest else 1))
        if word == "cb-created":
            return self.send(e.Created(CALLER))
        if word == "cb-stasis":
            return self.send(e.CustomerInStasis())
        if word == "cb-answer":
            return self.send(e.CustomerAnswered())
        if word == "cb-status":
            return self.send(e.CustomerDialStatus(rest))
        # ---- transfer (issue 17): routing's answer, the flow looked up
        if word == "reserved":
            return self.send(e.TransferReserved(offer(rest, call_id=f"{CALL_ID}-t1")))
        if word == "unreserved":
            return self.send(e.TransferReserved(None, rest))
        if word == "refer":  # refer <channel> <destination> [attended] [replaces=<channel>]
            replaces = [a.partition("=")[2] for a in args if a.startswith("replaces=")]
            return self.send(e.PhoneRefer(self.chan(args[0]), args[1], "attended" in args,
                                          replaces[0] if replaces else None))
        if word == "phone-call":  # phone-call <its channel> <number>: the phone's 2nd call
            return self.send(e.PhoneConsult(self.chan(args[0]), args[1]))
        if word == "phone-gone":  # the phone's 2nd call hung up
            return self.send(e.PhoneLegGone(self.chan(rest)))
        if word == "flow-loaded":
            return self.send(e.FlowLoaded(rest, self.flow if rest == "t" else None))
        # ---- recording and payment (#17)
        if word == "move-sup":  # move-sup <action> [key=value ...]: from a supervisor
            pairs = dict(arg.split("=", 1) for arg in args[1:])
            return self.send(e.Control(f"r{len(self.history)}", args[0], pairs, "user:super"))
        if word == "rec-on":
            return self.send(e.RecordingOn(self.latest(c.StartBridgeRecording).name))  # type: ignore[attr-defined]
        if word == "rec-off":
            return self.send(e.RecordingOff(self.latest(c.StartBridgeRecording).name,  # type: ignore[attr-defined]
                                            rest != "failed"))
        if word == "pay-flow":  # pay-flow <none|yaml>: the answer to FindPaymentFlow
            name = self.latest(c.FindPaymentFlow).name  # type: ignore[attr-defined]
            return self.send(e.PaymentFlowFound(name, None if rest == "none"
                                                else flow_of(PAY_FLOW)))
        if word == "http":  # http <status> [id]: the payment service's answer
            lookup = self.latest(c.IvrLookup).action  # type: ignore[attr-defined]
            body = {"id": args[1]} if len(args) > 1 else {"status": "declined"}
            return self.send(e.IvrResult(HttpResult(lookup.request_id, int(args[0]), body)))
        raise AssertionError(f"unknown word {cmd!r}")

    # ------------------------------------------------------------- summary

    def summary(self, cmd: c.Command) -> str:
        return words.summary(cmd, self.name)

    # ------------------------------------------------------------- shortcuts

    @property
    def phase(self) -> Phase:
        return self.state.phase

    @property
    def rows(self) -> list[CallRow | LegRow | QueueEventRow | RecordingRow]:
        """Every row the call has asked to write so far, in order."""
        return [x.row for x in self.history if isinstance(x, c.WriteRow)]



# Scripts that bring a call to each phase (words in scripts too).
MACROS = {
    # ---- monitoring (issue 17): a supervisor listening (expanded before CONNECTED)
    "LISTENING": "CONNECTED; smove listen endpoint=PJSIP/super1; mon sup1 stasis; "
                 "mon sup1 answered; mon snoop1.1 stasis; mbridged",
    "QUEUED": "start; done; enqueued",
    "RINGING": "start; done; enqueued; offer a100; stasis leg1",
    "CONNECTED": "start; done; enqueued; offer a100; stasis leg1; answer leg1; bridged; "
                 "fresh leg1",
}


# A connected call ending, the agent's side: its bridge, a100's wrap-up, the record;
# when the agent hangs up, the caller is hung up; when the caller does, the agent's leg.
WRAPUP = ["bridge destroy", "wrapup a100", "event complete", "remember ending"]
AGENT_ENDS = ["timer reap 60", "hangup caller", *WRAPUP]
CALLER_ENDS = ["timer reap 60", "cancel announce:1", "hangup leg1", *WRAPUP]


def ended(outcome: str, by: str, cause: int = 16) -> list[str]:
    """A call's last commands: its caller's row, its own row, forgotten, finished."""
    return [f"row caller {outcome} {cause}", f"row call {outcome} {by} {cause}", "forget",
            "finished"]


def check(flow: str, setup: str, script: str, commands: list[str], phase: str, *,
          settings: CallSettings | None = None) -> CallDriver:
    """One row of a phase table: after `setup`, `script`'s last event gives
    `commands` and leaves the call in `phase`."""
    d = CallDriver(ANNOUNCING if flow == "ann" else FLOW, ring_all=flow == "ringall",
                   callback=flow == "cb", settings=settings)
    d.run(setup)
    assert d.run(script) == commands
    assert d.phase.name == phase
    return d
