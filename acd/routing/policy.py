"""Matching policy, pure: a call's rank, its requirement over time, agent choice.

The Lua scripts apply these decisions atomically in Redis; this module decides
what goes into the call record (`call_record`) and mirrors the scripts' choice of
agent (`rank_key`, `choose_agents`) so it can be table-tested and compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.errors import ConfigError
from acd.routing.model import ChainDef, QueueDef, QueueRequest, RoutingSettings, StepDef

# Without aging, priority dominates any wait: one priority level = 1e12 ms (~31 years).
PRIORITY_WEIGHT_MS = 10**12


@dataclass(frozen=True, slots=True)
class Alternative:
    """Agents who may take the call: holding `skills` at least at these levels,
    and, when `agents` is given, one of them."""

    skills: Mapping[str, int] = field(default_factory=dict)
    agents: tuple[str, ...] | None = None

    def fits(self, agent_id: str, agent_skills: Mapping[str, int]) -> bool:
        if self.agents is not None and agent_id not in self.agents:
            return False
        return all(agent_skills.get(s, 0) >= lvl for s, lvl in self.skills.items())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"s": dict(self.skills)}
        if self.agents is not None:
            out["a"] = list(self.agents)
        return out


@dataclass(frozen=True, slots=True)
class Step:
    """A requirement holding until `until_ms` (0: for good)."""

    until_ms: int
    alternatives: tuple[Alternative, ...]

    def fits(self, agent_id: str, agent_skills: Mapping[str, int]) -> bool:
        return any(alt.fits(agent_id, agent_skills) for alt in self.alternatives)


def rank_score(priority: int, enqueued_at_ms: int, aging_per_minute: float) -> int:
    """Rank in a queue, lower first: priority, then oldest.

    With aging, a call gains `aging_per_minute` priority per minute waited; since
    every call ages alike, the order is fixed at enqueue: enqueued - priority / rate.
    """
    if aging_per_minute > 0:
        return int(enqueued_at_ms - priority * 60_000 / aging_per_minute)
    return enqueued_at_ms - priority * PRIORITY_WEIGHT_MS


def merge_skills(*parts: Mapping[str, int]) -> dict[str, int]:
    """Union of skill requirements; the higher level wins."""
    out: dict[str, int] = {}
    for part in parts:
        for skill, level in part.items():
            out[skill] = max(level, out.get(skill, 0))
    return out


def step_alternatives(step: StepDef, base: Mapping[str, int],
                      queues: Mapping[str, QueueDef]) -> tuple[Alternative, ...]:
    skills = dict(step.skills) if step.skills is not None else dict(base)
    for s in step.drop_skills:
        skills.pop(s, None)
    skills.update(step.add_skills)
    agents = tuple(step.agents) if step.agents is not None else None
    alts = [Alternative(skills, agents)]
    for name in step.queues:
        q = queues.get(name)
        if q is None:
            raise ConfigError(f"escalation step widens to unknown queue {name!r}", queue=name)
        alts.append(Alternative(dict(q.skills), agents))
    return tuple(alts)


def requirement_steps(queue: QueueDef, req: QueueRequest, *, chain: ChainDef | None,
                      queues: Mapping[str, QueueDef],
                      preferred_timeout: float) -> tuple[Step, ...]:
    """The call's requirement over time, from its enqueue time on.

    A preferred agent first (for `preferred_timeout` seconds), then the chain's
    steps, each for its timeout, else the queue's skills plus the call's own.
    The last step holds for good.
    """
    base = merge_skills(queue.skills, req.skills)
    t = req.enqueued_at_ms
    plan: list[tuple[float | None, tuple[Alternative, ...]]] = []
    if req.preferred_agent and preferred_timeout > 0:
        plan.append((preferred_timeout, (Alternative({}, (req.preferred_agent,)),)))
    if chain is None:
        plan.append((None, (Alternative(base),)))
    else:
        plan.extend((s.timeout, step_alternatives(s, base, queues)) for s in chain.steps)
    steps: list[Step] = []
    for i, (timeout, alts) in enumerate(plan):
        last = i == len(plan) - 1 or timeout is None
        if last:
            steps.append(Step(0, alts))
            break
        assert timeout is not None
        t += int(timeout * 1000)
        steps.append(Step(t, alts))
    return tuple(steps)


def current_step(steps: Sequence[Step], now_ms: int) -> Step:
    for s in steps:
        if s.until_ms == 0 or s.until_ms > now_ms:
            return s
    return steps[-1]


def call_record(req: QueueRequest, queue: QueueDef, settings: RoutingSettings, owner: str,
                queues: Mapping[str, QueueDef]) -> dict[str, Any]:
    """The call record enqueue.lua stores (state fields are set by the script)."""
    chain = None
    if req.chain:
        chain = next((c for c in settings.chains if c.name == req.chain), None)
        if chain is None:
            raise ConfigError(f"unknown escalation chain {req.chain!r}", chain=req.chain)
    steps = requirement_steps(queue, req, chain=chain, queues=queues,
                              preferred_timeout=settings.preferred_timeout)
    priority = queue.priority + req.priority
    return {
        "id": req.call_id, "q": req.queue, "owner": owner,
        "score": str(rank_score(priority, req.enqueued_at_ms, settings.aging_per_minute)),
        "enq": req.enqueued_at_ms, "prio": priority, "caller": req.caller,
        "strat": queue.strategy, "ring": queue.ring_timeout, "wrap": queue.wrapup,
        "riu": queue.ring_in_use,
        "steps": [{"u": s.until_ms, "alts": [a.to_json() for a in s.alternatives]}
                  for s in steps],
    }


# ------------------------------------------------------------- agent choice


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free agent as the matcher sees it."""

    id: str
    skills: Mapping[str, int]
    since_ms: int  # available since
    calls: int = 0
    talk_ms: int = 0
    last_offer_ms: int = 0
    order: int = 0


def rank_key(strategy: str, a: Candidate, required: Iterable[str]) -> tuple[int, int, str]:
    """Lower is better; the same keys as `rank_key` in lua/_lib.lua."""
    if strategy == "fewest_calls":
        return (a.calls, a.since_ms, a.id)
    if strategy == "least_talk_time":
        return (a.talk_ms, a.since_ms, a.id)
    if strategy == "round_robin":
        return (a.last_offer_ms, a.order, a.id)
    if strategy == "top_down":
        return (a.order, a.since_ms, a.id)
    if strategy == "best_skill":
        return (-sum(a.skills.get(s, 0) for s in set(required)), a.since_ms, a.id)
    return (a.since_ms, 0, a.id)


def choose_agents(strategy: str, step: Step, candidates: Iterable[Candidate], *,
                  excluded: Iterable[str] = (), ring_all_max: int = 10) -> list[str]:
    """The agents a call is offered to: one, or up to `ring_all_max` for ring-all
    (longest idle first)."""
    skip = set(excluded)
    fit = [c for c in candidates if c.id not in skip and step.fits(c.id, c.skills)]
    if strategy == "ring_all":
        return [c.id for c in sorted(fit, key=lambda c: (c.since_ms, c.id))][:ring_all_max]
    required = {s for alt in step.alternatives for s in alt.skills}
    if not fit:
        return []
    return [min(fit, key=lambda c: rank_key(strategy, c, required)).id]


def expected_wait(position: int, handle_ms: float | None, staffed: int) -> float | None:
    """Seconds until a call at `position` (1-based) is likely answered, or None
    when nobody staffs the queue or no handle time is known yet."""
    if position <= 0:
        return 0.0
    if staffed <= 0 or not handle_ms:
        return None
    return position * handle_ms / 1000.0 / staffed
