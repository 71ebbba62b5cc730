"""The call-path subset first: play, menu, queue, hangup, goto."""

from __future__ import annotations

import pytest

from acd.ivr.actions import Digit, Play, PromptsDone, TimerFired
from acd.ivr.engine import MAX_STEPS, start, step
from tests.ivr.driver import T0, Call, flow_of, trace

MENU = """
name: m
start: hello
nodes:
  hello:
    type: play
    prompt: [acd-welcome, acd-intro]
    next: menu
  menu:
    type: menu
    prompt: sound:acd-main-menu
    options: {1: sales, 2: support, "*": hello}
    timeout: 5
    retries: 2
    timeout_prompt: acd-no-input
    on_invalid: operator
  sales:
    type: queue
    queue: sales
    on_exit: {no_agents: closed, default: bye}
  support:
    type: queue
    queue: support
    priority: 5
  operator:
    type: goto
    target: support
  closed:
    type: hangup
    prompt: acd-closed
  bye:
    type: hangup
"""

CASES = [
    ("press 1 after the menu", ["done", "done", "1"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "timer 5", "cancel", "enqueue sales 0"],
     ["hello", "menu", "sales"]),
    ("press during the welcome: type-ahead", ["2"],
     ["play acd-welcome acd-intro", "stop", "enqueue support 5"],
     ["hello", "menu", "support"]),
    ("press during the menu prompt", ["done", "1"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "stop", "enqueue sales 0"],
     ["hello", "menu", "sales"]),
    ("timeouts then polite hangup",
     ["done", "done", "fire", "done", "fire", "done", "fire", "done"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "timer 5",
      "play acd-no-input acd-main-menu", "timer 5", "play acd-no-input acd-main-menu", "timer 5",
      "play acd-goodbye !", "hangup normal"],
     ["hello", "menu"]),
    ("invalid three times -> on_invalid -> goto -> queue", ["done", "done", "9", "8", "7"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "timer 5", "cancel",
      "play acd-invalid acd-main-menu", "stop", "play acd-invalid acd-main-menu", "stop",
      "enqueue support 5"],
     ["hello", "menu", "operator", "support"]),
    ("invalid then valid", ["done", "done", "9", "done", "1"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "timer 5", "cancel",
      "play acd-invalid acd-main-menu", "timer 5", "cancel", "enqueue sales 0"],
     ["hello", "menu", "sales"]),
    ("star goes back to the welcome", ["done", "*"],
     ["play acd-welcome acd-intro", "play acd-main-menu", "stop", "play acd-welcome acd-intro"],
     ["hello", "menu", "hello"]),
    ("queue gives the call back: per-reason exit", ["1", "exit no_agents", "done"],
     ["play acd-welcome acd-intro", "stop", "enqueue sales 0", "play acd-closed !",
      "hangup normal"],
     ["hello", "menu", "sales", "closed"]),
    ("queue gives the call back: default exit", ["1", "exit max_wait"],
     ["play acd-welcome acd-intro", "stop", "enqueue sales 0", "hangup normal"],
     ["hello", "menu", "sales", "bye"]),
    ("queue without on_exit hangs up politely", ["2", "exit full", "done"],
     ["play acd-welcome acd-intro", "stop", "enqueue support 5", "play acd-goodbye !",
      "hangup normal"],
     ["hello", "menu", "support"]),
    ("digits while queued are ignored", ["2", "5", "#"],
     ["play acd-welcome acd-intro", "stop", "enqueue support 5"],
     ["hello", "menu", "support"]),
    ("digits during the goodbye are ignored", ["1", "exit no_agents", "1", "done"],
     ["play acd-welcome acd-intro", "stop", "enqueue sales 0", "play acd-closed !",
      "hangup normal"],
     ["hello", "menu", "sales", "closed"]),
]


@pytest.mark.parametrize(("name", "script", "actions", "path"), CASES, ids=[c[0] for c in CASES])
def test_menu_table(name: str, script: list[str], actions: list[str], path: list[str]) -> None:
    got, state = trace(flow_of(MENU), script)
    assert got == actions
    assert state.path == path
    assert state.error is None


def test_stale_events_are_ignored() -> None:
    call = Call(flow_of(MENU))
    first_play = call.last(Play).play_id
    call.do("1")  # interrupts the welcome; menu takes the key
    assert call.state.in_queue
    before = call.state
    assert call.send(PromptsDone(first_play)) == []
    assert call.send(TimerFired(999)) == []
    assert call.state == before or call.state.path == before.path


def test_step_does_not_change_the_given_state() -> None:
    state, _ = start(flow_of(MENU), Call(flow_of(MENU)).state.ctx, T0)
    path, variables = list(state.path), dict(state.variables)
    new, _ = step(state, Digit("1"), T0)
    assert state.path == path and state.variables == variables
    assert new.path != state.path


def test_done_state_ignores_everything() -> None:
    call = Call(flow_of(MENU))
    call.run(["done", "done", "fire", "done", "fire", "done", "fire", "done"])
    assert call.state.done
    assert call.send(Digit("1")) == []


def test_hangup_without_prompt_is_immediate() -> None:
    flow = flow_of("""
        name: h
        start: h
        nodes:
          h: {type: hangup, reason: busy}
    """)
    got, state = trace(flow, [])
    assert got == ["hangup busy"] and state.done


def test_non_interruptible_play_ignores_keys() -> None:
    flow = flow_of("""
        name: p
        start: p
        nodes:
          p: {type: play, prompt: acd-legal, interruptible: false, next: q}
          q: {type: queue, queue: sales}
    """)
    got, _ = trace(flow, ["1", "2", "done"])
    assert got == ["play acd-legal !", "enqueue sales 0"]


def test_goto_chain_is_followed_in_one_step() -> None:
    nodes = "\n".join(f"  g{i}: {{type: goto, target: g{i + 1}}}" for i in range(200))
    flow = flow_of(f"name: g\nstart: g0\nnodes:\n{nodes}\n  g200: {{type: hangup}}\n")
    got, state = trace(flow, [])
    assert got == ["hangup normal"] and len(state.path) == 201


def test_runaway_loop_is_stopped_politely() -> None:
    # Validation refuses a loop of instant nodes; build one past the loader to be sure
    # the engine still ends the call if such a flow ever reaches it.
    import dataclasses

    from acd.ivr.model import GotoNode

    flow = flow_of("""
        name: r
        start: a
        nodes:
          a: {type: goto, target: b}
          b: {type: hangup}
    """)
    looped = dataclasses.replace(flow, nodes={
        "a": GotoNode(type="goto", target="b"), "b": GotoNode(type="goto", target="a")})
    got, state = trace(looped, ["done"])
    assert got == ["play acd-error acd-goodbye !", "hangup normal"]
    assert state.error is not None and str(MAX_STEPS) in state.error
    assert state.done
