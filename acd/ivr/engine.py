"""The IVR engine: pure functions from (state, event) to (new state, actions).

    state, actions = start(flow, ctx, now)
    state, actions = step(state, Digit("1"), now)

No I/O, no clock, no randomness: the runner carries the actions out (see
`acd.ivr.actions`) and feeds back what happened. Events that no longer matter
(a `PromptsDone` for prompts already stopped, a timer already cancelled, a
result for a request the call has moved past) are ignored by their ids.

The engine never leaves the caller in silence: after every step it is either
done (hung up, transferred) or waiting for prompts, a timer, a request or a
queue. Should a bug break that promise, or a flow loop without waiting, the
caller hears an apology and is hung up (`state.error` says why).
"""

from __future__ import annotations

from datetime import UTC, datetime

from acd.ivr import handlers, services
from acd.ivr.actions import (
    Action,
    Digit,
    IvrEvent,
    PromptsDone,
    QueueExit,
    SetLanguage,
    TimerFired,
)
from acd.ivr.model import Flow
from acd.ivr.runtime import MAX_STEPS, IvrContext, IvrState, Run, reveal

__all__ = ["MAX_STEPS", "IvrContext", "IvrState", "reveal", "start", "step"]

_ENTER = {**handlers.ENTER, **services.ENTER}
_PROMPTS = {**handlers.PROMPTS, **services.PROMPTS}
_TIMER = {**handlers.TIMER, **services.TIMER}


def start(flow: Flow, ctx: IvrContext, now: datetime) -> tuple[IvrState, list[Action]]:
    """Begin `flow` for a call; returns the first actions (usually a `Play`)."""
    state = IvrState(flow=flow, ctx=ctx, node=flow.start, language=flow.language)
    run = Run(state, _aware(now))
    if flow.language != ctx.language:
        run.out.append(SetLanguage(flow.language))
    run.goto(flow.start)
    _drive(run)
    return run.st, run.out


def step(state: IvrState, event: IvrEvent, now: datetime) -> tuple[IvrState, list[Action]]:
    """Apply one event; `state` itself is not changed."""
    if state.done:
        return state, []
    run = Run(state.copy(), _aware(now))
    _dispatch(run, event)
    _drive(run)
    return run.st, run.out


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _dispatch(run: Run, event: IvrEvent) -> None:
    st = run.st
    node = st.flow.nodes[st.node]
    if isinstance(event, Digit):
        handler = handlers.DIGIT.get(node.type)
        if handler is not None and st.phase not in ("bye", "done"):
            handler(run, node, event.digit)
    elif isinstance(event, PromptsDone):
        if event.play_id != st.play_id:
            return
        st.play_id = None
        if st.after in ("next", "hangup"):
            run.continue_after()
        elif node.type in _PROMPTS:
            _PROMPTS[node.type](run, node)
    elif isinstance(event, TimerFired):
        if event.timer_id != st.timer_id:
            return
        st.timer_id = None
        timer = _TIMER.get(node.type)
        if timer is not None:
            timer(run, node)
    elif isinstance(event, QueueExit):
        if st.in_queue and node.type == "queue":
            st.in_queue = False
            services.queue_exit(run, node, event.reason)
    else:
        expected = services.RESULT.get(node.type)
        if expected is None or event.request_id != st.request_id:
            return
        kind, handler_ = expected
        if isinstance(event, kind):
            st.request_id = None
            handler_(run, node, event)


def _drive(run: Run) -> None:
    """Follow jumps between nodes until the call waits for something or ends."""
    st = run.st
    while run.jump is not None and not st.done:
        target, run.jump = run.jump, None
        run.steps += 1
        if run.steps > MAX_STEPS:
            run.fail(f"more than {MAX_STEPS} nodes in one step: a loop that never waits")
            break
        node = st.flow.nodes.get(target)
        if node is None:
            run.fail(f"node '{target}' does not exist in flow '{st.flow.name}'")
            break
        run.leave()
        st.node = target
        st.path.append(run.label(target))
        _ENTER[node.type](run, node)
    if st.waiting_for is None:
        run.fail(f"the engine stalled at node '{st.node}'")
