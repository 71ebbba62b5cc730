"""Matching policy, pure: ranks, requirements over time, each strategy's choice."""

from __future__ import annotations

import pytest

from acd.errors import ConfigError
from acd.routing import policy
from acd.routing.model import ChainDef, QueueDef, QueueRequest, RoutingSettings, StepDef
from acd.routing.policy import Alternative, Candidate, Step

T0 = 1_700_000_000_000


@pytest.mark.parametrize(("a", "b", "aging", "a_first"), [
    ((0, T0), (0, T0 + 1), 0.0, True),          # same priority: oldest first
    ((1, T0 + 60_000), (0, T0), 0.0, True),     # priority beats a minute's wait
    ((1, T0 + 10**9), (0, T0), 0.0, True),      # ... and beats any wait without aging
    ((0, T0), (1, T0 + 30_000), 1.0, False),    # aging 1/min: 30 s < 1 priority level
    ((0, T0), (1, T0 + 90_000), 1.0, True),     # 90 s waited > 1 priority level
    ((-5, T0), (0, T0), 0.0, False),
])
def test_rank_score(a: tuple[int, int], b: tuple[int, int], aging: float, a_first: bool) -> None:
    sa = policy.rank_score(a[0], a[1], aging)
    sb = policy.rank_score(b[0], b[1], aging)
    assert (sa < sb) == a_first


def cand(id: str, since: int, **kw: int) -> Candidate:
    skills = {"en": kw.pop("en", 5), "fr": kw.pop("fr", 0)}
    return Candidate(id=id, skills={k: v for k, v in skills.items() if v}, since_ms=since, **kw)


AGENTS = [
    cand("a", 300, calls=5, talk_ms=100, last_offer_ms=50, order=3, en=9),
    cand("b", 100, calls=7, talk_ms=900, last_offer_ms=90, order=2, en=4),
    cand("c", 200, calls=2, talk_ms=500, last_offer_ms=10, order=1, en=6),
    cand("d", 50, calls=1, talk_ms=50, last_offer_ms=5, order=0, en=2, fr=5),
]
EN4 = Step(0, (Alternative({"en": 4}),))


@pytest.mark.parametrize(("strategy", "step", "expected"), [
    ("longest_idle", EN4, ["b"]),            # d idles longest but has en 2 < 4
    ("fewest_calls", EN4, ["c"]),
    ("least_talk_time", EN4, ["a"]),
    ("round_robin", EN4, ["c"]),             # least recently offered
    ("best_skill", EN4, ["a"]),              # en 9
    ("top_down", EN4, ["c"]),                # lowest order among a, b, c
    ("ring_all", EN4, ["b", "c", "a"]),      # every fit, longest idle first
    ("longest_idle", Step(0, (Alternative({}),)), ["d"]),
    ("longest_idle", Step(0, (Alternative({"fr": 1}),)), ["d"]),
    ("longest_idle", Step(0, (Alternative({"de": 1}),)), []),
    ("longest_idle", Step(0, (Alternative({"en": 4}, ("a", "d")),)), ["a"]),
    ("longest_idle", Step(0, (Alternative({"en": 10}), Alternative({"fr": 5}))), ["d"]),
    ("top_down", Step(0, (Alternative({}),)), ["d"]),
])
def test_strategy_choice(strategy: str, step: Step, expected: list[str]) -> None:
    assert policy.choose_agents(strategy, step, AGENTS) == expected


def test_excluded_agent_and_ring_all_cap() -> None:
    assert policy.choose_agents("longest_idle", EN4, AGENTS, excluded=["b"]) == ["c"]
    assert policy.choose_agents("ring_all", EN4, AGENTS, ring_all_max=2) == ["b", "c"]


@pytest.mark.parametrize(("strategy", "a", "b", "winner"), [
    ("fewest_calls", cand("x", 10, calls=1), cand("y", 5, calls=1), "y"),  # tie -> idle
    ("least_talk_time", cand("x", 10), cand("y", 20), "x"),
    ("round_robin", cand("x", 1, order=2), cand("y", 9, order=1), "y"),   # tie -> order
    ("best_skill", cand("x", 5, en=7), cand("y", 1, en=7), "y"),
    ("longest_idle", cand("y", 5), cand("x", 5), "x"),                     # tie -> id
])
def test_strategy_ties(strategy: str, a: Candidate, b: Candidate, winner: str) -> None:
    assert policy.choose_agents(strategy, EN4, [a, b]) == [winner]


QUEUES = {
    "sales": QueueDef(name="sales", skills={"en": 3, "sales": 5}),
    "support": QueueDef(name="support", skills={"en": 3, "tech": 4}),
}


def req(**kw: object) -> QueueRequest:
    base: dict[str, object] = {"call_id": "c1", "queue": "sales", "enqueued_at_ms": T0}
    base.update(kw)
    return QueueRequest.model_validate(base)


@pytest.mark.parametrize(("request_", "chain", "pref_timeout", "expected"), [
    (req(), None, 20.0, [(0, [({"en": 3, "sales": 5}, None)])]),
    (req(skills={"en": 6, "vip": 1}), None, 20.0,
     [(0, [({"en": 6, "sales": 5, "vip": 1}, None)])]),
    (req(preferred_agent="a7"), None, 20.0,
     [(T0 + 20_000, [({}, ("a7",))]), (0, [({"en": 3, "sales": 5}, None)])]),
    (req(preferred_agent="a7"), None, 0.0, [(0, [({"en": 3, "sales": 5}, None)])]),
    (req(chain="esc"), ChainDef(name="esc", steps=[
        StepDef(timeout=30, agents=["a1", "a2"]),
        StepDef(timeout=60, drop_skills=["sales"], add_skills={"en": 5}),
        StepDef(queues=["support"]),
    ]), 20.0, [
        (T0 + 30_000, [({"en": 3, "sales": 5}, ("a1", "a2"))]),
        (T0 + 90_000, [({"en": 5}, None)]),
        (0, [({"en": 3, "sales": 5}, None), ({"en": 3, "tech": 4}, None)]),
    ]),
    (req(chain="esc"), ChainDef(name="esc", steps=[
        StepDef(timeout=10, skills={"sales": 9}), StepDef(skills={}),
    ]), 20.0, [(T0 + 10_000, [({"sales": 9}, None)]), (0, [({}, None)])]),
    (req(chain="esc"), ChainDef(name="esc", steps=[
        StepDef(timeout=10, skills={"sales": 9}), StepDef(timeout=10, skills={"sales": 7}),
    ]), 20.0, [(T0 + 10_000, [({"sales": 9}, None)]), (0, [({"sales": 7}, None)])]),
])
def test_requirement_steps(request_: QueueRequest, chain: ChainDef | None,
                           pref_timeout: float,
                           expected: list[tuple[int, list[tuple[dict[str, int],
                                                                tuple[str, ...] | None]]]],
                           ) -> None:
    steps = policy.requirement_steps(QUEUES["sales"], request_, chain=chain, queues=QUEUES,
                                     preferred_timeout=pref_timeout)
    got = [(s.until_ms, [(dict(a.skills), a.agents) for a in s.alternatives]) for s in steps]
    assert got == expected


@pytest.mark.parametrize(("now", "expected_until"), [
    (T0, T0 + 30_000), (T0 + 29_999, T0 + 30_000), (T0 + 30_000, T0 + 90_000),
    (T0 + 10**7, 0),
])
def test_current_step(now: int, expected_until: int) -> None:
    steps = (Step(T0 + 30_000, ()), Step(T0 + 90_000, ()), Step(0, ()))
    assert policy.current_step(steps, now).until_ms == expected_until


def test_unknown_chain_and_queue_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        policy.call_record(req(chain="nope"), QUEUES["sales"], RoutingSettings(), "n1", QUEUES)
    bad = RoutingSettings(chains=[ChainDef(name="x", steps=[StepDef(queues=["nowhere"])])])
    with pytest.raises(ConfigError):
        policy.call_record(req(chain="x"), QUEUES["sales"], bad, "n1", QUEUES)


@pytest.mark.parametrize(("position", "aht", "staffed", "expected"), [
    (1, 60_000.0, 2, 30.0), (4, 60_000.0, 2, 120.0), (0, None, 0, 0.0),
    (3, None, 2, None), (3, 60_000.0, 0, None),
])
def test_expected_wait(position: int, aht: float | None, staffed: int,
                       expected: float | None) -> None:
    assert policy.expected_wait(position, aht, staffed) == expected
