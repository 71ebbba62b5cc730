"""Nobody is left in silence: whatever the caller presses and whatever the runner
answers, the engine is either done or waiting for prompts, a timer, a request or
a queue, on every example flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.ivr.actions import (
    CheckList,
    CheckOverride,
    Digit,
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
    StartTimer,
    TimerFired,
)
from acd.ivr.engine import IvrContext, IvrState, start, step
from acd.ivr.loader import load_folder

FLOWS = load_folder(Path(__file__).parents[2] / "ivr_flows")[0]
KEYS = "0123456789*#"
REASONS = ("max_wait", "callback", "no_agents", "full")
OVERRIDES = (None, "open", "closed", "emergency")
HTTP = (
    (200, {"status": "shipped", "delivery": {"days": 3}, "id": "A1",
           "account": {"manager": "alice"}}),
    (200, {"status": "paid"}),
    (200, None),
    (404, None),
    (500, {"error": "x"}),
    (None, "timeout"),
    (None, "connection refused"),
)


def _event(state: IvrState, kind: str, n: int, pending: dict[str, object]) -> IvrEvent:
    if kind == "key":
        return Digit(KEYS[n % len(KEYS)])
    if kind == "done":
        return PromptsDone(state.play_id if state.play_id is not None and n % 7 else n)
    if kind == "timer":
        return TimerFired(state.timer_id if state.timer_id is not None and n % 7 else n)
    if kind == "exit":
        return QueueExit(REASONS[n % 4])  # type: ignore[arg-type]
    request = pending.get("request")
    rid = state.request_id if state.request_id is not None and n % 7 else n
    if isinstance(request, HttpRequest):
        status, body = HTTP[n % len(HTTP)]
        if status is None:
            return HttpResult(rid, None, None, str(body))
        return HttpResult(rid, status, body)
    if isinstance(request, CheckList):
        return ListResult(rid, n % 2 == 0)
    if isinstance(request, CheckOverride):
        return OverrideResult(rid, OVERRIDES[n % 4])  # type: ignore[arg-type]
    if isinstance(request, Record):
        return RecordingDone(rid, None if n % 3 == 0 else f"rec-{n}")
    return Digit(KEYS[n % len(KEYS)])


def _check(state: IvrState, actions: list[object]) -> None:
    assert state.error is None, state.error
    assert state.done or state.waiting_for is not None
    if state.play_id is not None:
        assert any(isinstance(a, Play) and a.play_id == state.play_id for a in actions)
    if state.timer_id is not None:
        assert any(isinstance(a, StartTimer) and a.timer_id == state.timer_id for a in actions)


EVENTS = st.lists(
    st.tuples(st.sampled_from(["key", "key", "done", "done", "timer", "result", "exit"]),
              st.integers(0, 1000)),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flow=st.sampled_from(sorted(FLOWS)),
    caller=st.sampled_from(["555", "+33612345678", "0612"]),
    minutes=st.integers(0, 60 * 24 * 14),
    events=EVENTS,
)
def test_nobody_in_silence(flow: str, caller: str, minutes: int,
                           events: list[tuple[str, int]]) -> None:
    now = datetime(2026, 12, 20, tzinfo=UTC) + timedelta(minutes=minutes)
    state, actions = start(FLOWS[flow], IvrContext("c", caller, "100", "en", FLOWS), now)
    history: list[object] = list(actions)
    pending: dict[str, object] = {}
    _check(state, history)
    for kind, n in events:
        for a in actions:
            if isinstance(a, HttpRequest | CheckList | CheckOverride | Record):
                pending["request"] = a
        state, actions = step(state, _event(state, kind, n, pending), now)
        history += actions
        _check(state, history)
        if state.done:
            break
