"""What each node does in conversation with the caller: prompts, keys, timers.

Each node type has an `enter` handler and, if it waits, handlers for the events
it waits for. Handlers change `run.st` and append to `run.out`; they move on
with `run.goto()` (the engine drives the jump) and never recurse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from acd.ivr import expr
from acd.ivr.actions import SetLanguage
from acd.ivr.interp import interpolate
from acd.ivr.model import (
    WEEKDAYS,
    CollectNode,
    GotoNode,
    HangupNode,
    LanguageNode,
    MenuNode,
    PlayNode,
    ReturnNode,
    SayNode,
    SetNode,
    SubflowNode,
    SwitchNode,
)
from acd.ivr.pattern import full_match
from acd.ivr.runtime import MAX_SUBFLOW_DEPTH, Frame, Run
from acd.ivr.say import say_prompts
from acd.ivr.secret import Secret, mask

Handler = Callable[[Run, Any], None]

# --------------------------------------------------------------------- play / say


def enter_play(run: Run, node: PlayNode) -> None:
    run.st.phase = "play"
    run.play(run.texts(node.prompt), interruptible=node.interruptible, after="next",
             target=node.next, language=node.language)


def enter_say(run: Run, node: SayNode) -> None:
    run.st.phase = "play"
    spoken = say_prompts(run.text(node.value), node.say_as, run.now)
    prompts = [*run.texts(node.before), *spoken, *run.texts(node.after)]
    run.play(prompts, interruptible=node.interruptible, after="next", target=node.next,
             language=node.language)


def digit_play(run: Run, node: PlayNode | SayNode, digit: str) -> None:
    """A key during an interruptible prompt stops it; the key is kept for the next node."""
    st = run.st
    if st.phase == "play" and st.play_id is not None and st.interruptible:
        run.stop_prompts()
        st.typeahead = st.typeahead.plus(digit)
        run.goto(node.next)


# --------------------------------------------------------------------------- menu


def enter_menu(run: Run, node: MenuNode) -> None:
    st = run.st
    if st.typeahead:
        digit, rest = st.typeahead.reveal()[0], st.typeahead.reveal()[1:]
        st.typeahead = Secret(rest)
        _menu_choice(run, node, digit)
        return
    st.phase = "prompt"
    run.play(run.texts(node.prompt), interruptible=True, after="wait", language=node.language)


def prompts_menu(run: Run, node: MenuNode) -> None:
    run.st.phase = "wait"
    run.start_timer(node.timeout)


def digit_menu(run: Run, node: MenuNode, digit: str) -> None:
    if run.st.phase not in ("prompt", "wait"):
        return
    run.stop_prompts()
    run.cancel_timer()
    _menu_choice(run, node, digit)


def timer_menu(run: Run, node: MenuNode) -> None:
    _retry(run, node, "timeout")


def _menu_choice(run: Run, node: MenuNode, digit: str) -> None:
    target = node.options.get(digit)
    if target is not None:
        run.st.variables["menu_choice"] = digit
        run.goto(target)
    else:
        _retry(run, node, "invalid")


def _retry(run: Run, node: MenuNode | CollectNode, kind: str) -> None:
    """Another try after a wrong key or silence, or the way out when tries run out."""
    st = run.st
    st.failures += 1
    st.buffer = st.typeahead = Secret()
    if st.failures > node.retries:
        target = node.on_invalid if kind == "invalid" else node.on_timeout
        if target is not None:
            run.goto(target)
        else:
            run.polite_hangup()
        return
    notice = node.invalid_prompt if kind == "invalid" else node.timeout_prompt
    st.phase = "prompt"
    run.play(run.texts([*notice, *node.prompt]), interruptible=True, after="wait",
             language=node.language)


# ------------------------------------------------------------------------ collect


def enter_collect(run: Run, node: CollectNode) -> None:
    st = run.st
    st.phase = "prompt"
    if st.typeahead:
        keys, st.typeahead = st.typeahead.reveal(), Secret()
        for i, key in enumerate(keys):
            if _collect_key(run, node, key, arm=False):
                if run.jump is not None:  # the rest is for the next node
                    st.typeahead = Secret(keys[i + 1:])
                return
        st.phase = "wait"
        run.start_timer(node.inter_digit_timeout)
        return
    run.play(run.texts(node.prompt), interruptible=True, after="wait", language=node.language)


def prompts_collect(run: Run, node: CollectNode) -> None:
    run.st.phase = "wait"
    run.start_timer(node.inter_digit_timeout if run.st.buffer else node.timeout)


def digit_collect(run: Run, node: CollectNode, digit: str) -> None:
    if run.st.phase not in ("prompt", "wait"):
        return
    run.stop_prompts()
    run.cancel_timer()
    if not _collect_key(run, node, digit, arm=True):
        run.st.phase = "wait"


def timer_collect(run: Run, node: CollectNode) -> None:
    if not run.st.buffer and node.min_digits > 0:
        _retry(run, node, "timeout")
    else:
        _collect_done(run, node)


def _collect_key(run: Run, node: CollectNode, key: str, *, arm: bool) -> bool:
    """Take one key; True when the entry is over (validated, one way or the other)."""
    st = run.st
    if node.terminator is not None and key == node.terminator:
        _collect_done(run, node)
        return True
    st.buffer = st.buffer.plus(key)
    if len(st.buffer) >= node.max_digits:
        _collect_done(run, node)
        return True
    if arm:
        run.start_timer(node.inter_digit_timeout)
    return False


def luhn_ok(number: str) -> bool:
    """The Luhn check digit test used by payment card numbers."""
    if not number.isdigit() or len(number) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _collect_done(run: Run, node: CollectNode) -> None:
    st = run.st
    value, st.buffer = st.buffer.reveal(), Secret()
    ok = len(value) >= node.min_digits
    if ok and node.pattern is not None:
        ok = full_match(node.pattern, value)
    if ok and node.luhn:
        ok = luhn_ok(value)
    if not ok:
        _retry(run, node, "invalid")
        return
    if node.masked:
        st.secrets[node.variable] = Secret(value)
        st.variables[node.variable] = mask(value)
    else:
        st.secrets.pop(node.variable, None)
        st.variables[node.variable] = value
    run.goto(node.next)


# ---------------------------------------------------------------- instant nodes


def enter_goto(run: Run, node: GotoNode) -> None:
    run.goto(node.target)


def enter_set(run: Run, node: SetNode) -> None:
    for name, value in node.variables.items():
        run.st.variables[name] = interpolate(value, run.env())
        run.st.secrets.pop(name, None)
    run.goto(node.next)


def time_env(now: datetime, zone: str) -> dict[str, str]:
    local = now.astimezone(ZoneInfo(zone))
    return {
        "time": local.strftime("%H:%M"),
        "hour": str(local.hour),
        "minute": str(local.minute),
        "weekday": WEEKDAYS[local.weekday()],
        "date": local.strftime("%Y-%m-%d"),
        "day": str(local.day),
        "month": str(local.month),
        "year": str(local.year),
    }


def enter_switch(run: Run, node: SwitchNode) -> None:
    env = {**time_env(run.now, node.timezone), **run.env()}
    for case in node.cases:
        try:
            if expr.truth(case.when, env):
                run.goto(case.goto)
                return
        except expr.ExprError:
            continue
    run.goto(node.default)


def enter_language(run: Run, node: LanguageNode) -> None:
    run.st.language = node.language
    run.out.append(SetLanguage(node.language))
    run.goto(node.next)


def enter_subflow(run: Run, node: SubflowNode) -> None:
    st = run.st
    flow = st.ctx.flows.get(node.flow)
    if flow is None:
        run.fail(f"subflow '{node.flow}' is not loaded")
        return
    if len(st.stack) >= MAX_SUBFLOW_DEPTH:
        run.fail(f"subflows nested deeper than {MAX_SUBFLOW_DEPTH}")
        return
    st.stack.append(Frame(st.flow, node.next))
    st.flow = flow
    run.goto(flow.start)


def enter_return(run: Run, node: ReturnNode) -> None:
    st = run.st
    if not st.stack:
        run.polite_hangup()
        return
    frame = st.stack.pop()
    st.flow = frame.flow
    run.goto(frame.resume)


def enter_hangup(run: Run, node: HangupNode) -> None:
    prompts = run.texts(node.prompt)
    if prompts:
        run.leave()
        run.st.phase = "bye"
        run.play(prompts, interruptible=False, after="hangup", target=node.reason)
    else:
        run.hangup(node.reason)


ENTER: dict[str, Handler] = {
    "play": enter_play,
    "say": enter_say,
    "menu": enter_menu,
    "collect": enter_collect,
    "goto": enter_goto,
    "set": enter_set,
    "switch": enter_switch,
    "language": enter_language,
    "subflow": enter_subflow,
    "return": enter_return,
    "hangup": enter_hangup,
}
DIGIT: dict[str, Callable[[Run, Any, str], None]] = {
    "play": digit_play,
    "say": digit_play,
    "menu": digit_menu,
    "collect": digit_collect,
}
PROMPTS: dict[str, Handler] = {"menu": prompts_menu, "collect": prompts_collect}
TIMER: dict[str, Handler] = {"menu": timer_menu, "collect": timer_collect}
