"""Agents as configured and as seen: definitions, live views, state changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AgentState = Literal[
    "logged_out", "available", "reserved", "ringing", "on_call", "wrap_up", "break"
]
AGENT_STATES: tuple[AgentState, ...] = (
    "logged_out", "available", "reserved", "ringing", "on_call", "wrap_up", "break",
)
# States that end by themselves: a deadline guarantees none of them can stick.
TRANSIENT_STATES: frozenset[str] = frozenset({"reserved", "ringing", "wrap_up"})
# States with a deadline: the transient ones, and on_call, whose deadline the node
# owning the call keeps pushing while it lives (so a dead node cannot pin its agent).
TIMED_STATES: frozenset[str] = TRANSIENT_STATES | {"on_call"}
MISSED_OFFERS = "missed_offers"
ORPHANED = "orphaned"  # reason given to an agent whose call's node stopped renewing it


class AgentDef(BaseModel):
    """One agent as configured: who, which phone, which skills at which level (1-10)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str = ""
    endpoint: str = Field(min_length=1)
    skills: dict[str, int] = Field(default_factory=dict)
    order: int = 0

    def model_post_init(self, __context: object) -> None:
        for skill, level in self.skills.items():
            if not 1 <= level <= 10:
                raise ValueError(f"agent {self.id}: skill {skill!r} level {level} is not 1-10")


class AgentView(BaseModel):
    """An agent as the API and the call room see it."""

    id: str
    name: str
    endpoint: str
    state: AgentState
    reason: str | None = None
    since_ms: int
    missed_in_row: int = 0
    current_call: str | None = None
    skills: dict[str, int] = Field(default_factory=dict)
    calls_answered: int = 0
    talk_ms: int = 0
    # The phone as Asterisk reports it (acd/agents/phone.py): one word, and its parts.
    phone: str = "unknown"
    phone_registration: str = "unknown"
    phone_device: str = "unknown"


@dataclass(frozen=True, slots=True)
class AgentStateChange:
    """One agent state change, emitted to `on_change` (the lead logs it to PostgreSQL)."""

    agent_id: str
    previous: str
    state: str
    reason: str | None
    at_ms: int
