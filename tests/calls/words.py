"""The call driver's words for commands (tests/calls/driver.py): each command the
machine emits as a short string ("moh on", "create leg1 PJSIP/a100",
"row call abandoned caller 16")."""

from __future__ import annotations

from collections.abc import Callable

from acd.calls import commands as c
from acd.store.rows import CallRow, LegRow, RecordingRow

Name = Callable[[str | None], str]


def summary(cmd: c.Command, n: Name) -> str:  # noqa: C901 - one line per command
    """`cmd` in words; `n` names a channel ("caller", "leg1", ...)."""
    match cmd:
        case c.Reply(ok=True, data=data) if "moves" in data:
            # A status: what is set besides the phase (each kind of move adds its
            # fields; queue, agent and moves are tests/calls/test_phase_control.py's).
            return "status" + "".join(
                f" {k}={v}" for k, v in sorted(data.items())
                if k not in ("moves", "queue", "agent_id") and v not in (None, False, 0, ""))
        case c.Reply(ok=True, data=data):
            return "reply ok" + "".join(f" {k}={v}" for k, v in sorted(data.items()))
        case c.Reply(error_id=error_id):
            return f"reply no {error_id}"
        case c.Answer():
            return "answer"
        case c.Play(prompts=p):
            return "play " + " ".join(x.removeprefix("sound:") for x in p)
        case c.SetVar(name=name):
            return f"var {name}"
        case c.StopPlayback():
            return "stop-play"
        case c.MusicOn():
            return "moh on"
        case c.MusicOff():
            return "moh off"
        case c.Hangup(channel_id=ch, reason=r):
            return f"hangup {n(ch)}" + ("" if r == "normal" else f" {r}")
        case c.ToDialplan(context=ctx, extension=ext):
            return "dialplan" + (f" {ctx},{ext}" if ctx or ext else "")
        case c.Redirect(endpoint=ep):
            return f"redirect {ep}"
        case c.Record():
            return "record"
        case c.CreateChannel(channel_id=ch, endpoint=ep):
            return f"create {n(ch)} {ep}"
        case c.Dial(channel_id=ch):
            return f"dial {n(ch)}"
        case c.CreateBridge(bridge_id=bid) if "-mon" in bid:
            return f"bridge create {bridge_name(bid)}"
        case c.CreateBridge(bridge_id=bid):
            return "bridge create" + (" consult" if "-c" in bid[-4:] else "")
        case c.AddToBridge(bridge_id=bid, channel_ids=chs) if "-mon" in bid:
            return f"bridge add {bridge_name(bid)} " + ",".join(n(x) for x in chs)
        case c.AddToBridge(channel_ids=chs):
            return "bridge add " + ",".join(n(x) for x in chs)
        case c.DestroyBridge(bridge_id=bid) if "-mon" in bid:
            return f"bridge destroy {bridge_name(bid)}"
        case c.DestroyBridge():
            return "bridge destroy"
        case c.CheckChannels(channel_ids=chs):
            return "check " + ",".join(n(x) for x in chs)
        case c.Resync(attempt=attempt):
            return f"resync {attempt}"
        case c.Enqueue(request=r, adopt=adopt):
            return ("adopt " if adopt else "enqueue ") + r.queue
        case c.Dequeue():
            return "dequeue"
        case c.OfferRinging(offer=o):
            return f"ringing {o.agent_id}"
        case c.RecordAnswer(offer=o):
            return f"answered {o.agent_id}"
        case c.OfferFailed(offer=o, reason=r):
            return f"offer-failed {o.agent_id} {r}"
        case c.CallEnded(offer=o):
            return f"wrapup {o.agent_id}"
        case c.CallbackFailed(retry_in=r):
            return f"callback-failed {r}"
        case c.AskCallback(number=num):
            return f"ask-callback {num}"
        case c.AskStanding():
            return "standing"
        case c.AgentBreak(agent_id=a, reason=r):
            return f"break {a} {r}"
        case c.IvrLookup():
            return "lookup"
        case c.WriteRow(row=row):
            return row_words(row, n)
        case c.Remember(fields=f):
            return f"remember {f['phase']}"
        case c.Forget():
            return "forget"
        case c.RememberCallback():
            return "remember-callback"
        case c.ForgetCallback():
            return "forget-callback"
        case c.StartTimer(key=k, seconds=s):
            return f"timer {key_name(k, n)} {s:g}"
        case c.CancelTimer(key=k):
            return f"cancel {key_name(k, n)}"
        case c.Finished():
            return "finished"
        # ---- monitoring (issue 17)
        case c.StartSnoop(channel_id=ch, target=t, spy=spy, whisper=w):
            return f"snoop {n(ch)} on {n(t)} spy={spy} whisper={w}"
        case c.MoveSupervisor(channel_id=ch, source=src, bridge_id=bid, also=also):
            return (f"move {n(ch)}" + "".join(f"+{n(x)}" for x in also)
                    + f" {bridge_name(src)}>{bridge_name(bid)}")
        case c.ReserveAgent(agent_id=a):  # ---- transfer (issue 17)
            return f"reserve {a}"
        case c.LoadFlow(name=name):
            return f"load-flow {name}"
        case c.RemoveFromBridge(channel_ids=chs):
            return "bridge remove " + ",".join(n(x) for x in chs)
        case c.ReportTransfer(channel_id=ch, state=state):
            return f"report {n(ch)} {state.removeprefix('channel_')}"
        case c.Ringback(channel_id=ch):
            return f"ringback {n(ch)}"
        # ---- hold
        case c.HoldCaller(channel_id=ch):
            return f"hold {n(ch)}"
        case c.UnholdCaller(channel_id=ch, music=music, unmute=unmute):
            return f"unhold {n(ch)}" + (" music" if music else "") + (
                " unmute" if unmute else "")
        # ---- recording and payment (#17)
        case c.StartBridgeRecording(name=name, fmt=fmt):
            later = name.removeprefix("acd-rec-").partition("-")[2]  # the call's 2nd...
            return f"rec start {'-' + later if later else '1'} {fmt}"
        case c.PauseRecording():
            return "rec pause"
        case c.ResumeRecording():
            return "rec resume"
        case c.StopRecording():
            return "rec stop"
        case c.FindPaymentFlow(name=name):
            return f"find-flow {name}"
        case c.BridgeMusicOn():
            return "bridge moh on"
        case c.BridgeMusicOff():
            return "bridge moh off"
    raise AssertionError(cmd)


def key_name(key: str, n: Name) -> str:
    kind, _, arg = key.partition(":")
    named = ("ring", "hangup", "monitor", "xfer")
    return f"{kind}:{n(arg)}" if kind in named else key


def bridge_name(bid: str | None) -> str:
    """A bridge's short name: "call", "mon1" (the first monitoring's), "-" none."""
    if bid is None:
        return "-"
    return bid.rpartition("-")[2] if "-mon" in bid else "call"


def row_words(row: object, n: Name) -> str:
    if isinstance(row, CallRow):
        return f"row call {row.outcome} {row.ended_by} {row.hangup_cause}"
    if isinstance(row, LegRow):
        who = "caller" if row.kind == "caller" else n(row.channel_id)
        if row.kind in ("snoop", "supervisor"):  # monitoring (issue 17)
            return f"row {who} {row.outcome} {row.hangup_cause} {row.detail}"
        return f"row {who} {row.outcome} {row.hangup_cause}"
    if isinstance(row, RecordingRow):
        paused = " ".join(str(p["reason"]) for p in row.paused)
        return f"row recording {row.outcome} {row.duration_ms} [{paused}]"
    detail = getattr(row, "detail", None) or {}
    if "mode" in detail and str(getattr(row, "event", "")).startswith("monitor"):
        return f"event {row.event} {detail['mode']}"  # type: ignore[attr-defined]
    if row.event in ("hold", "unhold"):  # type: ignore[attr-defined]
        return f"event {row.event} {row.detail['by']}"  # type: ignore[attr-defined]
    return f"event {row.event}"  # type: ignore[attr-defined]
