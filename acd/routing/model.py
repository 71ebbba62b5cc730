"""Routing's vocabulary: queue and chain definitions, requests, offers, results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal[
    "longest_idle", "fewest_calls", "least_talk_time", "round_robin", "best_skill",
    "top_down", "ring_all",
]
STRATEGIES: tuple[Strategy, ...] = (
    "longest_idle", "fewest_calls", "least_talk_time", "round_robin", "best_skill",
    "top_down", "ring_all",
)
FailReason = Literal["noanswer", "busy", "unreachable", "error", "rejected"]
# Failures that are the agent's doing count towards auto-pause;
# "error" (ours) and "rejected" (the call side refused the offer) do not.
# "unreachable" (the phone could not be reached: unregistered, Allocation failed,
# 404/480/503) is the phone's doing, not the agent's: the call goes on at once.
COUNTED_FAILURES: frozenset[str] = frozenset({"noanswer", "busy"})


def fail_mode(reason: FailReason) -> str:
    """How offer_failed.lua treats a failure: "1" counted against the agent, "acd"
    acd's own (no agent kept from the call; the call waits a growing moment), "0"
    neither."""
    if reason in COUNTED_FAILURES:
        return "1"
    return "acd" if reason == "error" else "0"


ExitReason = Literal["full", "max_wait", "no_agents"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueueDef(_Frozen):
    """One queue: what an agent needs to take its calls, and how agents are chosen."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    skills: dict[str, int] = Field(default_factory=dict)
    strategy: Strategy = "longest_idle"
    ring_timeout: float = Field(default=15.0, gt=0)
    wrapup: float = Field(default=5.0, ge=0)
    max_waiting: int | None = Field(default=None, ge=0)
    max_wait: float | None = Field(default=None, gt=0)
    priority: int = Field(default=0, ge=-1000, le=1000)
    moh_class: str = "default"
    # When no agent able to take the queue's calls is logged in (any state but
    # logged_out): join_empty=False refuses new callers (exit reason "no_agents");
    # leave_empty=True sends waiting callers on (same reason) once the last one
    # logs out. Callback tasks stay: nobody is on the line to send anywhere.
    join_empty: bool = True
    leave_empty: bool = False
    # Ring an agent whose phone is in use on a call acd did not place (app_queue's
    # ringinuse); an unregistered or unreachable phone is never rung.
    ring_in_use: bool = False
    # What the state of an agent serving this queue does when their phone comes and
    # goes (acd/agents/phone.py Policy: keep | available | login | pause); an agent's
    # own phone_policy wins, None: phones.policy.
    phone_policy: Literal["keep", "available", "login", "pause"] | None = None
    # A caller transferred into this queue by an agent (issue 17): the priority is
    # raised by transfer_priority; with transfer_keep_place the caller keeps the
    # original enqueue time (their place), else they queue from the transfer on.
    transfer_priority: int = Field(default=0, ge=0, le=1000)
    transfer_keep_place: bool = True
    # Call control (#17): recording of the call's bridge (always: from the connect;
    # on_demand: by the move record_start; never), its file format, and the flow the
    # move `payment` sends the caller to.
    recording: Literal["always", "never", "on_demand"] = "never"
    recording_format: str = Field(default="wav", pattern=r"^[a-z0-9]{1,10}$")
    payment_flow: str = Field(default="payment", min_length=1)


class StepDef(_Frozen):
    """One step of an escalation chain, TaskRouter-style.

    The step lasts `timeout` seconds (None: for good). Its requirement is the
    queue's own (queue skills + the call's skills), changed by the step:
    `skills` replaces the skills outright, `drop_skills` relaxes, `add_skills`
    adds or overrides levels, `queues` also accepts agents able to serve those
    queues, `agents` restricts to the named agents.
    """

    timeout: float | None = Field(default=None, gt=0)
    agents: list[str] | None = None
    skills: dict[str, int] | None = None
    drop_skills: list[str] = Field(default_factory=list)
    add_skills: dict[str, int] = Field(default_factory=dict)
    queues: list[str] = Field(default_factory=list)


class ChainDef(_Frozen):
    name: str = Field(min_length=1)
    steps: list[StepDef] = Field(min_length=1)


class RoutingSettings(_Frozen):
    max_missed: int = Field(default=3, ge=0)  # 0: never auto-pause
    missed_retry_delay: float = Field(default=30.0, ge=0)
    reservation_ttl: float = Field(default=30.0, gt=0)
    # Each minute waited adds this much priority (0: strict priority, then oldest).
    aging_per_minute: float = Field(default=0.0, ge=0)
    preferred_timeout: float = Field(default=20.0, ge=0)
    tick: float = Field(default=1.0, gt=0)  # seconds of clock time between reaper passes
    scan_limit: int = Field(default=100, ge=1)  # waiting calls examined per queue per match
    ring_all_max: int = Field(default=10, ge=1)
    # Seconds an answered agent stays on_call without its owner node renewing it
    # (every tick); past it the reaper frees the agent (the owner died).
    on_call_ttl: float = Field(default=120.0, gt=0)
    chains: list[ChainDef] = Field(default_factory=list)

    @model_validator(mode="after")
    def _renewed_in_time(self) -> RoutingSettings:
        # The owner renews on_call deadlines once a tick: a shorter TTL would free
        # agents in the middle of live calls.
        if self.on_call_ttl <= 2 * self.tick:
            raise ValueError(f"on_call_ttl ({self.on_call_ttl} s) must be more than twice "
                             f"the tick ({self.tick} s): agents would be freed mid-call")
        return self


class QueueRequest(_Frozen):
    call_id: str = Field(min_length=1)
    queue: str
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=-1000, le=1000)
    enqueued_at_ms: int
    caller: str = ""
    chain: str | None = None
    preferred_agent: str | None = None
    max_wait: float | None = Field(default=None, gt=0)  # overrides the queue's


class EnqueueResult(_Frozen):
    accepted: bool
    position: int | None = None
    reason: str | None = None


class Offer(_Frozen):
    """A reserved agent for a waiting call: ring `endpoint`, then report back.

    For a callback task (`callback` set) there is no caller on the line: call the
    customer at `callback`, then report through offer_answered / call_ended, or
    Router.callback_failed when the customer cannot be reached."""

    call_id: str
    agent_id: str
    endpoint: str
    queue: str
    reservation_id: str
    enqueued_at_ms: int
    ring_timeout: float
    attempt: int
    owner: str = ""
    callback: str | None = None  # a callback task: the number to call back


class DequeueResult(_Frozen):
    was: Literal["waiting", "offered", "connected", "none"]
    agents_released: list[str] = Field(default_factory=list)
