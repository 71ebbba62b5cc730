"""A tiny test driver for the pure engine: build flows from YAML text, send
events by short names, and summarise actions as readable strings."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from acd.ivr.actions import (
    Action,
    CancelTimer,
    CheckList,
    CheckOverride,
    Digit,
    Enqueue,
    Hangup,
    HttpRequest,
    HttpResult,
    IvrEvent,
    ListResult,
    OverrideResult,
    Play,
    PromptsDone,
    QueueExit,
    Record,
    RecordingDone,
    SetLanguage,
    StartTimer,
    StopPrompts,
    TimerFired,
    Transfer,
)
from acd.ivr.engine import IvrContext, IvrState, start, step
from acd.ivr.loader import check_flow
from acd.ivr.model import Flow

A = TypeVar("A")

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


def flow_of(text: str, name: str = "t.yaml") -> Flow:
    flow, errors, _ = check_flow(name, text=textwrap.dedent(text))
    assert flow is not None, [str(e) for e in errors]
    return flow


def summary(action: Action) -> str:
    match action:
        case Play(prompts=p, interruptible=i):
            return "play " + " ".join(x.removeprefix("sound:") for x in p) + ("" if i else " !")
        case StopPrompts():
            return "stop"
        case StartTimer(seconds=s):
            return f"timer {s:g}"
        case CancelTimer():
            return "cancel"
        case Enqueue(queue=q, priority=p):
            return f"enqueue {q} {p}"
        case Hangup(reason=r):
            return f"hangup {r}"
        case Transfer(kind=k, target=t):
            return f"transfer {k} {t}"
        case HttpRequest(method=m, url=u):
            return f"http {m} {u}"
        case CheckList(list_name=n, number=num):
            return f"list {n} {num}"
        case CheckOverride(schedule=s):
            return f"override {s}"
        case Record(max_seconds=s):
            return f"record {s:g}"
        case SetLanguage(language=lang):
            return f"language {lang}"
    raise AssertionError(action)


class Call:
    """One call through the engine, with the whole action history kept."""

    def __init__(
        self,
        flow: Flow,
        *,
        caller: str = "555",
        dialled: str = "100",
        now: datetime = T0,
        flows: Mapping[str, Flow] | None = None,
    ) -> None:
        self.now = now
        ctx = IvrContext("call-1", caller, dialled, "en", dict(flows or {}))
        self.state, self.actions = start(flow, ctx, now)
        self.history: list[Action] = list(self.actions)

    def send(self, event: IvrEvent) -> list[Action]:
        self.state, self.actions = step(self.state, event, self.now)
        self.history += self.actions
        return self.actions

    def last(self, kind: type[A]) -> A:
        for a in reversed(self.history):
            if isinstance(a, kind):
                return a
        raise AssertionError(f"no {kind.__name__} so far")

    def do(self, cmd: str) -> list[Action]:
        """"done" ends the latest prompts, "fire" the latest timer, a key presses it,
        "http 200 {json}", "http timeout", "list yes", "override open|none",
        "record name", "exit reason"."""
        word, _, rest = cmd.partition(" ")
        if word == "done":
            return self.send(PromptsDone(self.last(Play).play_id))
        if word == "fire":
            return self.send(TimerFired(self.last(StartTimer).timer_id))
        if word == "http":
            import json

            rid = self.last(HttpRequest).request_id
            code, _, body = rest.partition(" ")
            if code in ("timeout", "error"):
                return self.send(HttpResult(rid, None, None, code))
            return self.send(HttpResult(rid, int(code), json.loads(body) if body else None))
        if word == "list":
            rid = self.last(CheckList).request_id
            return self.send(ListResult(rid, rest == "yes"))
        if word == "override":
            rid = self.last(CheckOverride).request_id
            return self.send(OverrideResult(rid, None if rest == "none" else rest))  # type: ignore[arg-type]
        if word == "record":
            rid = self.last(Record).request_id
            return self.send(RecordingDone(rid, rest or None))
        if word == "exit":
            return self.send(QueueExit(rest))  # type: ignore[arg-type]
        assert len(cmd) == 1, cmd
        return self.send(Digit(cmd))

    def run(self, script: Sequence[str]) -> list[str]:
        for cmd in script:
            self.do(cmd)
        return [summary(a) for a in self.history]


def trace(flow: Flow, script: Sequence[str], **kw: object) -> tuple[list[str], IvrState]:
    call = Call(flow, **kw)  # type: ignore[arg-type]
    return call.run(script), call.state
