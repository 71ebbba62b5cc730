"""The engine's state and the small toolkit node handlers use to change it.

Nothing here does I/O: a `Run` collects the actions one step of the engine
produces, and moves between nodes through a trampoline (`goto` + `drive`) so
that a long chain of instant nodes cannot blow the Python stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from acd.ivr.actions import (
    Action,
    CancelTimer,
    Hangup,
    Play,
    StartTimer,
    StopPrompts,
)
from acd.ivr.interp import interpolate
from acd.ivr.model import GOODBYE, Flow, Node
from acd.ivr.secret import Secret
from acd.ivr.strict import media_problem

ERROR_PROMPT = "sound:acd-error"
MAX_STEPS = 1000  # node entries in one call of start()/step()
MAX_SUBFLOW_DEPTH = 8


@dataclass(frozen=True, slots=True)
class IvrContext:
    """What the engine knows about the call, fixed at its start."""

    call_id: str
    caller_number: str
    dialled: str
    language: str = "en"
    flows: Mapping[str, Flow] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Frame:
    """Where to come back to when a subflow returns."""

    flow: Flow = field(repr=False)
    resume: str


@dataclass(slots=True)
class IvrState:
    """One call's IVR state. Treat as immutable: `step()` returns a new one.

    Masked values live only in `secrets` (and the digit buffers), as `Secret`s:
    neither `repr()` nor `str()` nor pickling can show them in clear.
    """

    flow: Flow
    ctx: IvrContext
    node: str
    path: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    language: str = "en"
    done: bool = False
    error: str | None = None
    phase: str = ""  # what the current node is doing: "play", "wait", "request", "queue", "bye"...
    after: str = ""  # what the end of the current prompts leads to
    after_target: str | None = None
    play_id: int | None = None
    interruptible: bool = False
    timer_id: int | None = None
    request_id: int | None = None
    in_queue: bool = False
    failures: int = 0
    buffer: Secret = field(default_factory=Secret)
    typeahead: Secret = field(default_factory=Secret)
    secrets: dict[str, Secret] = field(default_factory=dict, repr=False)
    stack: list[Frame] = field(default_factory=list)
    next_id: int = 1

    @property
    def waiting_for(self) -> str | None:
        """What the engine is waiting for; None only when it is done (or stalled: a bug)."""
        if self.done:
            return "nothing: done"
        if self.play_id is not None:
            return "prompts"
        if self.timer_id is not None:
            return "timer"
        if self.request_id is not None:
            return "request"
        if self.in_queue:
            return "queue"
        return None

    @property
    def collecting_masked(self) -> bool:
        """True while keys are secret: the runner must not log `Digit` events then.

        That is during a masked `collect`, and during the prompts just before one
        (keys pressed then are typed ahead into it).
        """
        if self.done:
            return False
        nodes = self.flow.nodes
        ahead = self.after_target if self.after == "next" and self.play_id is not None else None
        return any(
            getattr(nodes.get(n or ""), "masked", False) for n in (self.node, ahead)
        )

    def copy(self) -> IvrState:
        return dataclasses.replace(
            self,
            path=list(self.path),
            variables=dict(self.variables),
            secrets=dict(self.secrets),
            stack=list(self.stack),
        )


def reveal(state: IvrState, variable: str) -> str | None:
    """The clear value of a masked variable, for the one step that must send it on."""
    secret = state.secrets.get(variable)
    return secret.reveal() if secret is not None else None


class Run:
    """One engine step under way: the state being changed and the actions so far."""

    def __init__(self, state: IvrState, now: datetime) -> None:
        self.st = state
        self.now = now
        self.out: list[Action] = []
        self.jump: str | None = None
        self.steps = 0

    # ----------------------------------------------------------------- basics

    def new_id(self) -> int:
        self.st.next_id += 1
        return self.st.next_id - 1

    @property
    def node(self) -> Node:
        return self.st.flow.nodes[self.st.node]

    def env(self) -> dict[str, str]:
        ctx = self.st.ctx
        return {
            **self.st.variables,
            "caller": ctx.caller_number,
            "dialled": ctx.dialled,
            "language": self.st.language,
            "call_id": ctx.call_id,
        }

    def text(self, value: str) -> str:
        return interpolate(value, self.env())

    def texts(self, values: Sequence[str]) -> tuple[str, ...]:
        env = self.env()
        return tuple(interpolate(v, env) for v in values)

    # ----------------------------------------------------------------- media

    def play(
        self,
        prompts: Sequence[str],
        *,
        interruptible: bool,
        after: str,
        target: str | None = None,
        language: str | None = None,
    ) -> None:
        """Play prompts; when they end, `after` says what happens ("next", "hangup", ...).

        With nothing to play, the continuation runs at once.
        """
        st = self.st
        st.after, st.after_target, st.interruptible = after, target, interruptible
        # A prompt built from a variable is checked like a written one: a name that
        # climbs out of the sounds folder is skipped, never played.
        prompts = [p for p in prompts if media_problem(p) is None]
        if not prompts:
            self.continue_after()
            return
        st.play_id = self.new_id()
        self.out.append(Play(st.play_id, tuple(prompts), interruptible, language))

    def continue_after(self) -> None:
        """The generic continuations; node-specific ones are the node handlers' job."""
        st = self.st
        if st.after == "next" and st.after_target is not None:
            self.goto(st.after_target)
        elif st.after == "hangup":
            self.hangup(st.after_target or "normal")

    def stop_prompts(self) -> None:
        if self.st.play_id is not None:
            self.st.play_id = None
            self.out.append(StopPrompts())

    def start_timer(self, seconds: float) -> None:
        self.cancel_timer()
        self.st.timer_id = self.new_id()
        self.out.append(StartTimer(self.st.timer_id, seconds))

    def cancel_timer(self) -> None:
        if self.st.timer_id is not None:
            self.out.append(CancelTimer(self.st.timer_id))
            self.st.timer_id = None

    # ------------------------------------------------------------- moving on

    def goto(self, target: str) -> None:
        self.jump = target

    def leave(self) -> None:
        """Drop whatever the current node had under way."""
        self.stop_prompts()
        self.cancel_timer()
        st = self.st
        st.request_id = None
        st.in_queue = False
        st.phase = st.after = ""
        st.after_target = None
        st.failures = 0
        st.buffer = Secret()

    def hangup(self, reason: str = "normal") -> None:
        self.leave()
        self.out.append(Hangup(reason))
        self.st.done = True
        self.st.phase = "done"

    def polite_hangup(self, prompts: Sequence[str] = (GOODBYE,)) -> None:
        self.leave()
        self.st.phase = "bye"
        self.play(prompts, interruptible=False, after="hangup", target="normal")

    def fail(self, reason: str) -> None:
        """Something that validation should have stopped: apologise and hang up."""
        self.jump = None
        self.st.error = reason
        self.polite_hangup((ERROR_PROMPT, GOODBYE))

    def terminal(self, action: Action) -> None:
        self.leave()
        self.out.append(action)
        self.st.done = True
        self.st.phase = "done"

    def label(self, node_id: str) -> str:
        """How a node shows in `path`: `flow/node` inside a subflow."""
        return f"{self.st.flow.name}/{node_id}" if self.st.stack else node_id
