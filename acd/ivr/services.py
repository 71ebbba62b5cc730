"""Nodes that hand the call to something outside the engine and wait for its answer:
queue, schedule, list, http, voicemail; and transfer, which leaves for good."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from acd.ivr.actions import (
    Action,
    CheckList,
    CheckOverride,
    Enqueue,
    HttpRequest,
    HttpResult,
    IvrEvent,
    ListResult,
    OverrideResult,
    Record,
    RecordingDone,
    Transfer,
)
from acd.ivr.interp import extract, interpolate, secret_ref
from acd.ivr.model import (
    WEEKDAYS,
    HttpNode,
    ListNode,
    QueueNode,
    ScheduleNode,
    TransferNode,
    VoicemailNode,
    parse_range,
)
from acd.ivr.runtime import Run
from acd.ivr.secret import Secret
from acd.ivr.strict import transfer_problem

Handler = Callable[[Run, Any], None]

# The runner answers every request, but should an answer ever be lost the caller
# must not wait forever: a guard timer stands in for it (as a failure).
LOOKUP_GUARD = 5.0
HTTP_GUARD = 2.0
RECORD_GUARD = 15.0


def _ask(run: Run, request: Action, guard: float) -> None:
    """Send a request and wait for its answer, `guard` seconds at most."""
    run.st.phase = "request"
    run.out.append(request)
    run.start_timer(guard)


def _request_id(run: Run) -> int:
    run.st.request_id = run.new_id()
    return run.st.request_id

# -------------------------------------------------------------------------- queue


def enter_queue(run: Run, node: QueueNode) -> None:
    agent = run.text(node.preferred_agent) if node.preferred_agent else ""
    run.out.append(
        Enqueue(
            queue=run.text(node.queue),
            skills=dict(node.skills),
            priority=node.priority,
            max_wait=node.max_wait,
            chain=node.chain,
            preferred_agent=agent or None,
            announce=node.announce.model_dump(),
            callback_key=node.callback.key if node.callback else None,
            callback_number=run.text(node.callback.number) if node.callback else None,
            callback_offer=run.texts(node.callback.offer) if node.callback else (),
        )
    )
    run.st.in_queue = True
    run.st.phase = "queue"


def queue_exit(run: Run, node: QueueNode, reason: str) -> None:
    run.st.variables["queue_exit"] = reason
    target = node.exit_target(reason)
    if target is not None:
        run.goto(target)
    else:
        run.polite_hangup()


# ----------------------------------------------------------------------- transfer


def enter_transfer(run: Run, node: TransferNode) -> None:
    kind: Literal["endpoint", "extension", "external"]
    if node.endpoint is not None:
        kind, rule, target = "endpoint", "endpoint", run.text(node.endpoint)
    elif node.extension is not None:
        kind, rule, target = "extension", "extension", run.text(node.extension)
    else:
        kind, rule, target = "external", "number", run.text(node.number or "")
    # A target built from variables is checked again as it will be dialled: a second
    # dial string ('&') or dial options (',') from a caller or a web service end the call.
    if transfer_problem(rule, target) is not None:
        run.st.variables["transfer_refused"] = rule
        run.polite_hangup()
        return
    run.terminal(Transfer(kind, target, node.context))


# ----------------------------------------------------------------------- schedule


def schedule_state(node: ScheduleNode, now: datetime) -> str:
    """"open", "closed" or "holiday" at `now`, in the schedule's own time zone."""
    local = now.astimezone(ZoneInfo(node.timezone))
    today = local.date()
    for h in node.holidays:
        if (len(h) == 10 and date.fromisoformat(h) == today) or h == today.strftime("%m-%d"):
            return "holiday"
    minute = local.hour * 60 + local.minute
    for spec in node.hours.get(WEEKDAYS[local.weekday()], []):  # type: ignore[call-overload]
        r = parse_range(spec)
        if r.start <= minute < r.end:
            return "open"
    return "closed"


def enter_schedule(run: Run, node: ScheduleNode) -> None:
    _ask(run, CheckOverride(_request_id(run), node.name or run.st.node), LOOKUP_GUARD)


def result_schedule(run: Run, node: ScheduleNode, event: IvrEvent) -> None:
    assert isinstance(event, OverrideResult)
    state = event.override or schedule_state(node, run.now)
    run.st.variables["schedule"] = state
    if state == "open":
        run.goto(node.open)
    elif state == "emergency":
        run.goto(node.emergency or node.closed)
    elif state == "holiday":
        run.goto(node.holiday or node.closed)
    else:
        run.goto(node.closed)


# --------------------------------------------------------------------------- list


def enter_list(run: Run, node: ListNode) -> None:
    request = CheckList(_request_id(run), node.list_name, run.text(node.number))
    _ask(run, request, LOOKUP_GUARD)


def result_list(run: Run, node: ListNode, event: IvrEvent) -> None:
    assert isinstance(event, ListResult)
    run.goto(node.member if event.member else node.not_member)


# --------------------------------------------------------------------------- http


def _body(run: Run, value: object) -> object:
    """Interpolate a JSON body; a whole-value `${secret.x}` becomes the `Secret` itself."""
    if isinstance(value, str):
        name = secret_ref(value)
        if name is not None:
            return run.st.secrets.get(name, Secret())
        return run.text(value)
    if isinstance(value, dict):
        return {str(k): _body(run, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_body(run, v) for v in value]
    return value


def enter_http(run: Run, node: HttpNode) -> None:
    env = run.env()
    body = _body(run, node.body) if node.body is not None else None
    _ask(
        run,
        HttpRequest(
            request_id=_request_id(run),
            method=node.method,
            url=interpolate(node.url, env, lambda v: quote(v, safe="")),
            timeout=node.timeout,
            params={k: interpolate(v, env) for k, v in node.params.items()},
            json_body=body if isinstance(body, dict) else None,
            headers={k: interpolate(v, env) for k, v in node.headers.items()},
        ),
        node.timeout + HTTP_GUARD,
    )


def result_http(run: Run, node: HttpNode, event: IvrEvent) -> None:
    assert isinstance(event, HttpResult)
    variables = run.st.variables
    variables["http_status"] = "" if event.status is None else str(event.status)
    if event.status is not None and 200 <= event.status < 300:
        for name, path in node.response.items():
            variables[name] = extract(event.body, path)
            run.st.secrets.pop(name, None)
        run.goto(node.next)
    elif event.status is None and (event.error or "").lower().startswith("timeout"):
        run.goto(node.on_timeout or node.on_failure)
    else:
        run.goto(node.on_failure)


# ---------------------------------------------------------------------- voicemail


def enter_voicemail(run: Run, node: VoicemailNode) -> None:
    run.st.phase = "greeting"
    run.play(run.texts(node.prompt), interruptible=False, after="record")
    if run.st.play_id is None:
        prompts_voicemail(run, node)


def prompts_voicemail(run: Run, node: VoicemailNode) -> None:
    request = Record(_request_id(run), node.max_seconds, node.beep)
    _ask(run, request, node.max_seconds + RECORD_GUARD)


def result_voicemail(run: Run, node: VoicemailNode, event: IvrEvent) -> None:
    assert isinstance(event, RecordingDone)
    run.st.variables[node.variable] = event.name or ""
    if node.next is not None:
        run.goto(node.next)
    elif node.goodbye:
        run.polite_hangup(run.texts(node.goodbye))
    else:
        run.hangup()


ENTER: dict[str, Handler] = {
    "queue": enter_queue,
    "transfer": enter_transfer,
    "schedule": enter_schedule,
    "list": enter_list,
    "http": enter_http,
    "voicemail": enter_voicemail,
}
PROMPTS: dict[str, Handler] = {"voicemail": prompts_voicemail}


def timer_request(run: Run, node: Any) -> None:
    """The guard timer fired before the answer came: carry on as if it failed."""
    rid = run.st.request_id
    if rid is None:
        return
    run.st.request_id = None
    lost: dict[str, IvrEvent] = {
        "schedule": OverrideResult(rid, None),
        "list": ListResult(rid, False),
        "http": HttpResult(rid, None, None, "timeout"),
        "voicemail": RecordingDone(rid, None),
    }
    RESULT[node.type][1](run, node, lost[node.type])


TIMER: dict[str, Handler] = {t: timer_request for t in ("schedule", "list", "http", "voicemail")}
RESULT: dict[str, tuple[type, Callable[[Run, Any, IvrEvent], None]]] = {
    "schedule": (OverrideResult, result_schedule),
    "list": (ListResult, result_list),
    "http": (HttpResult, result_http),
    "voicemail": (RecordingDone, result_voicemail),
}
