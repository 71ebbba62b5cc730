"""Table tests for every other node type: say, collect, set, switch, schedule, list,
http, transfer, voicemail, language, subflow and return."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acd.ivr.actions import Enqueue, HttpRequest, QueueExit, Transfer
from tests.ivr.driver import Call, flow_of, trace

COLLECT = """
name: c
start: ask
nodes:
  ask:
    type: collect
    prompt: acd-enter
    variable: order
    min_digits: 3
    max_digits: 5
    timeout: 6
    inter_digit_timeout: 2
    retries: 1
    pattern: "^[1-9][0-9]*$"
    timeout_prompt: acd-no-input
    next: ok
    on_invalid: bad
  ok: {type: hangup, prompt: "acd-ok-${order}"}
  bad: {type: hangup, prompt: acd-bad}
"""

COLLECT_CASES = [
    ("terminator ends", ["done", "1", "2", "3", "#", "done"],
     ["play acd-enter", "timer 6", "cancel", "timer 2", "cancel", "timer 2", "cancel", "timer 2",
      "cancel", "play acd-ok-123 !", "hangup normal"], "123"),
    ("max digits ends", ["1", "2", "3", "4", "5"],
     ["play acd-enter", "stop", "timer 2", "cancel", "timer 2", "cancel", "timer 2", "cancel",
      "timer 2", "cancel", "play acd-ok-12345 !"], "12345"),
    ("inter-digit timeout ends", ["done", "4", "5", "6", "fire"],
     ["play acd-enter", "timer 6", "cancel", "timer 2", "cancel", "timer 2", "cancel", "timer 2",
      "play acd-ok-456 !"], "456"),
    ("too short -> retry -> ok", ["1", "2", "#", "done", "7", "8", "9", "#"],
     ["play acd-enter", "stop", "timer 2", "cancel", "timer 2", "cancel",
      "play acd-invalid acd-enter", "timer 6", "cancel", "timer 2", "cancel", "timer 2",
      "cancel", "timer 2", "cancel", "play acd-ok-789 !"], "789"),
    ("pattern refuses leading 0, twice -> on_invalid", ["0", "1", "2", "#", "0", "0", "0", "#"],
     ["play acd-enter", "stop", "timer 2", "cancel", "timer 2", "cancel", "timer 2", "cancel",
      "play acd-invalid acd-enter", "stop", "timer 2", "cancel", "timer 2", "cancel", "timer 2",
      "cancel", "play acd-bad !"], None),
    ("silence twice -> no on_timeout -> goodbye", ["done", "fire", "done", "fire", "done"],
     ["play acd-enter", "timer 6", "play acd-no-input acd-enter", "timer 6",
      "play acd-goodbye !", "hangup normal"], None),
    ("partial entry then silence is validated", ["done", "1", "fire"],
     ["play acd-enter", "timer 6", "cancel", "timer 2", "play acd-invalid acd-enter"], None),
]


@pytest.mark.parametrize(("name", "script", "actions", "value"), COLLECT_CASES,
                         ids=[c[0] for c in COLLECT_CASES])
def test_collect(name: str, script: list[str], actions: list[str], value: str | None) -> None:
    got, state = trace(flow_of(COLLECT), script)
    assert got == actions
    assert state.variables.get("order") == value


def test_typeahead_feeds_collect() -> None:
    flow = flow_of("""
        name: t
        start: hello
        nodes:
          hello: {type: play, prompt: acd-hello, next: ask}
          ask: {type: collect, prompt: acd-enter, variable: n, max_digits: 2, next: menu}
          menu: {type: menu, prompt: acd-menu, options: {"3": q}}
          q: {type: queue, queue: sales}
    """)
    got, state = trace(flow, ["4"])
    assert got == ["play acd-hello", "stop", "timer 3"]
    got, state = trace(flow, ["4", "2", "3"])
    assert got[-1] == "enqueue sales 0" and state.variables["n"] == "42"


SWITCH = """
name: s
start: sw
nodes:
  sw:
    type: switch
    timezone: Europe/Paris
    cases:
      - when: startswith(caller, "+33") and not (tier == "gold")
        goto: france
      - when: caller in ["555", "556"] or dialled == "999"
        goto: known
      - when: weekday in ["sat", "sun"] or hour >= 18
        goto: late
    default: other
  france: {type: hangup, reason: busy}
  known: {type: hangup, reason: congestion}
  late: {type: hangup, reason: no_answer}
  other: {type: hangup}
"""

SWITCH_CASES = [
    ("+33612", "100", datetime(2026, 11, 23, 10, tzinfo=UTC), "hangup busy"),
    ("555", "100", datetime(2026, 11, 23, 10, tzinfo=UTC), "hangup congestion"),
    ("777", "999", datetime(2026, 11, 23, 10, tzinfo=UTC), "hangup congestion"),
    ("777", "100", datetime(2026, 11, 23, 17, 30, tzinfo=UTC), "hangup no_answer"),  # 18:30 Paris
    ("777", "100", datetime(2026, 11, 28, 9, tzinfo=UTC), "hangup no_answer"),  # Saturday
    ("777", "100", datetime(2026, 11, 23, 16, 59, tzinfo=UTC), "hangup normal"),
]


@pytest.mark.parametrize(("caller", "dialled", "now", "expected"), SWITCH_CASES)
def test_switch(caller: str, dialled: str, now: datetime, expected: str) -> None:
    got, _ = trace(flow_of(SWITCH), [], caller=caller, dialled=dialled, now=now)
    assert got == [expected]


def test_set_interpolates_and_switch_reads_variables() -> None:
    flow = flow_of("""
        name: s
        start: a
        nodes:
          a: {type: set, variables: {tier: gold, greeting: "hi-${caller}-${tier}"}, next: sw}
          sw:
            type: switch
            cases: [{when: 'tier == "gold" and greeting == "hi-+33612-gold"', goto: g}]
            default: o
          g: {type: hangup, reason: busy}
          o: {type: hangup}
    """)
    got, state = trace(flow, [], caller="+33612")
    assert got == ["hangup busy"]
    assert state.variables == {"tier": "gold", "greeting": "hi-+33612-gold"}


SCHEDULE = """
name: h
start: hours
nodes:
  hours:
    type: schedule
    name: office
    timezone: Europe/Paris
    hours:
      mon: ["08:00-12:00", "14:00-18:00"]
      sat: "09:00-12:00"
    holidays: ["12-25", "2026-11-24"]
    open: o
    closed: c
    holiday: hol
    emergency: em
  o: {type: hangup, reason: busy}
  c: {type: hangup}
  hol: {type: hangup, reason: congestion}
  em: {type: hangup, reason: no_answer}
"""

SCHEDULE_CASES = [
    (datetime(2026, 11, 23, 8, tzinfo=UTC), "none", "hangup busy"),  # Mon 09:00 Paris
    (datetime(2026, 11, 23, 11, 30, tzinfo=UTC), "none", "hangup normal"),  # 12:30 lunch
    (datetime(2026, 11, 23, 16, 59, tzinfo=UTC), "none", "hangup busy"),  # 17:59
    (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "none", "hangup normal"),  # 18:00 closed
    (datetime(2026, 11, 24, 9, tzinfo=UTC), "none", "hangup congestion"),  # dated holiday
    (datetime(2027, 12, 25, 9, tzinfo=UTC), "none", "hangup congestion"),  # yearly holiday
    (datetime(2026, 11, 28, 8, 30, tzinfo=UTC), "none", "hangup busy"),  # Sat 09:30
    (datetime(2026, 11, 29, 10, tzinfo=UTC), "none", "hangup normal"),  # Sunday: not listed
    (datetime(2026, 11, 29, 10, tzinfo=UTC), "open", "hangup busy"),
    (datetime(2026, 11, 23, 8, tzinfo=UTC), "closed", "hangup normal"),
    (datetime(2026, 11, 23, 8, tzinfo=UTC), "emergency", "hangup no_answer"),
]


@pytest.mark.parametrize(("now", "override", "expected"), SCHEDULE_CASES)
def test_schedule(now: datetime, override: str, expected: str) -> None:
    got, _ = trace(flow_of(SCHEDULE), [f"override {override}"], now=now)
    assert got == ["override office", "timer 5", "cancel", expected]


def test_list() -> None:
    flow = flow_of("""
        name: l
        start: l
        nodes:
          l: {type: list, list: blocked, member: m, not_member: n}
          m: {type: hangup, reason: busy}
          n: {type: hangup}
    """)
    assert trace(flow, ["list yes"], caller="0612")[0] == [
        "list blocked 0612", "timer 5", "cancel", "hangup busy"]
    assert trace(flow, ["list no"], caller="0612")[0] == [
        "list blocked 0612", "timer 5", "cancel", "hangup normal"]
    # the answer never comes: the guard timer stands in for "not a member"
    assert trace(flow, ["fire", "list yes"])[0] == ["list blocked 555", "timer 5", "hangup normal"]


HTTP = """
name: h
start: get
nodes:
  get:
    type: http
    url: "https://crm.example/c/${caller}/orders"
    params: {q: "${caller}"}
    timeout: 2
    response: {state: order.status, first: items.0.name, n: count, missing: nope.nope}
    next: ok
    on_failure: fail
    on_timeout: slow
  ok: {type: hangup}
  fail: {type: hangup, reason: busy}
  slow: {type: hangup, reason: congestion}
"""

HTTP_CASES = [
    ("200", '{"order": {"status": "shipped"}, "items": [{"name": "tea"}], "count": 2}',
     "hangup normal", {"state": "shipped", "first": "tea", "n": "2", "missing": ""}),
    ("404", "", "hangup busy", {"http_status": "404"}),
    ("500", '{"error": "x"}', "hangup busy", {"http_status": "500"}),
    ("timeout", "", "hangup congestion", {"http_status": ""}),
    ("error", "", "hangup busy", {"http_status": ""}),
]


@pytest.mark.parametrize(("code", "body", "expected", "variables"), HTTP_CASES)
def test_http(code: str, body: str, expected: str, variables: dict[str, str]) -> None:
    call = Call(flow_of(HTTP), caller="+33 6/12")
    request = call.history[0]
    assert isinstance(request, HttpRequest)
    assert request.url == "https://crm.example/c/%2B33%206%2F12/orders"  # values are escaped
    assert request.params == {"q": "+33 6/12"} and request.timeout == 2
    got = call.run([f"http {code} {body}".strip()])
    assert got[1:] == ["timer 4", "cancel", expected]
    assert variables.items() <= call.state.variables.items()


def test_transfer_kinds() -> None:
    flow = flow_of("""
        name: t
        start: m
        nodes:
          m: {type: menu, prompt: p, options: {1: a, 2: b, 3: c}}
          a: {type: transfer, endpoint: PJSIP/200}
          b: {type: transfer, extension: 300, context: internal}
          c: {type: transfer, number: "${caller}", context: outbound}
    """)
    for key, expected in [("1", Transfer("endpoint", "PJSIP/200")),
                          ("2", Transfer("extension", "300", "internal")),
                          ("3", Transfer("external", "555", "outbound"))]:
        call = Call(flow)
        assert call.do(key) == [call.actions[0], expected]
        assert call.state.done


def test_voicemail() -> None:
    flow = flow_of("""
        name: v
        start: vm
        nodes:
          vm: {type: voicemail, max_seconds: 60}
    """)
    got, state = trace(flow, ["1", "done", "record rec-1", "done"])
    assert got == ["play acd-leave-message !", "record 60", "timer 75", "cancel",
                   "play acd-goodbye !", "hangup normal"]
    assert state.variables["voicemail"] == "rec-1"


GUARDS = [
    ("http", "https://x.example/a", "fire", "hangup congestion"),  # as a timeout
    ("schedule", None, "fire", "hangup busy"),  # no override: the hours decide (Mon 11:00)
    ("voicemail", None, "fire", "play acd-goodbye !"),
]


@pytest.mark.parametrize(("kind", "url", "cmd", "last"), GUARDS)
def test_lost_answers_do_not_strand_the_caller(kind: str, url: str | None, cmd: str,
                                               last: str) -> None:
    nodes = {
        "http": f"{{type: http, url: '{url}', next: a, on_failure: b, on_timeout: c}}",
        "schedule": "{type: schedule, timezone: UTC, hours: {mon: '08:00-18:00'}, open: a, "
                    "closed: b}",
        "voicemail": "{type: voicemail, prompt: []}",
    }[kind]
    flow = flow_of(f"""
        name: g
        start: n
        nodes:
          n: {nodes}
          a: {{type: hangup, reason: busy}}
          b: {{type: hangup}}
          c: {{type: hangup, reason: congestion}}
    """)
    call = Call(flow, now=datetime(2026, 11, 23, 11, tzinfo=UTC))
    got = call.run([cmd])
    assert got[-1] == last
    assert call.state.request_id is None


def test_say_and_language() -> None:
    flow = flow_of("""
        name: s
        language: fr
        start: n
        nodes:
          n: {type: set, variables: {pos: "342"}, next: lang}
          lang: {type: language, language: de, next: say}
          say: {type: say, before: acd-you-are, value: "${pos}", as: number, after: acd-in-line,
                next: d}
          d: {type: say, value: "2026-03-21", as: date, next: e}
          e: {type: say, value: "125", as: duration, next: f}
          f: {type: say, value: "12*", as: digits, interruptible: false, next: bye}
          bye: {type: hangup}
    """)
    got, state = trace(flow, ["done", "done", "done", "done"])
    assert got == [
        "language fr", "language de",
        "play acd-you-are digits/3 digits/hundred digits/40 digits/2 acd-in-line",
        "play digits/day-6 digits/mon-2 digits/20 digits/h-1",
        "play digits/2 minutes digits/5 seconds",
        "play digits/1 digits/2 digits/star !",
        "hangup normal",
    ]
    assert state.language == "de"


SUB_MAIN = """
name: main
start: first
nodes:
  first: {type: subflow, flow: sub, next: after}
  after: {type: queue, queue: sales}
"""
SUB = """
name: sub
start: ask
nodes:
  ask: {type: menu, prompt: acd-sub, options: {1: back, 2: bye}}
  back: {type: return}
  bye: {type: hangup}
"""


def test_subflow_returns() -> None:
    sub = flow_of(SUB)
    call = Call(flow_of(SUB_MAIN), flows={"sub": sub})
    got = call.run(["done", "1"])
    assert got == ["play acd-sub", "timer 5", "cancel", "enqueue sales 0"]
    assert call.state.path == ["first", "sub/ask", "sub/back", "after"]
    assert call.state.flow.name == "main" and call.state.stack == []


def test_subflow_missing_at_runtime_apologises() -> None:
    got, state = trace(flow_of(SUB_MAIN), ["done"], flows={})
    assert got == ["play acd-error acd-goodbye !", "hangup normal"]
    assert state.error == "subflow 'sub' is not loaded"


def test_return_at_top_level_says_goodbye() -> None:
    got, _ = trace(flow_of(SUB), ["1", "done"])
    assert got == ["play acd-sub", "stop", "play acd-goodbye !", "hangup normal"]


def test_queue_fields() -> None:
    flow = flow_of("""
        name: q
        start: s
        nodes:
          s: {type: set, variables: {agent: alice}, next: q}
          q:
            type: queue
            queue: sales
            skills: {french: 3}
            priority: 100
            max_wait: 300
            chain: key_client
            preferred_agent: "${agent}"
            announce: {position: false, every: 20, prompt: acd-wait}
    """)
    call = Call(flow)
    (action,) = call.history
    assert action == Enqueue(
        queue="sales", skills={"french": 3}, priority=100, max_wait=300.0, chain="key_client",
        preferred_agent="alice",
        announce={"position": False, "wait_time": False, "every": 20.0, "first": None,
                  "prompt": ["sound:acd-wait"], "moh_class": None},
    )


def test_queue_callback_offer() -> None:
    flow = flow_of("""
        name: q
        start: q
        nodes:
          q:
            type: queue
            queue: sales
            callback: {key: "#", number: "0${caller}", offer: [acd-press-hash]}
            on_exit: {callback: bye}
          bye: {type: hangup}
    """)
    call = Call(flow, caller="15551234")
    (action,) = call.history
    assert isinstance(action, Enqueue)
    assert (action.callback_key, action.callback_number, action.callback_offer) == (
        "#", "015551234", ("sound:acd-press-hash",))
    call.send(QueueExit("callback"))
    assert call.state.path[-1] == "bye"


def test_queue_without_callback_offers_none() -> None:
    flow = flow_of("""
        name: q
        start: q
        nodes:
          q: {type: queue, queue: sales}
    """)
    (action,) = Call(flow).history
    assert isinstance(action, Enqueue)
    assert (action.callback_key, action.callback_number, action.callback_offer) == (
        None, None, ())
