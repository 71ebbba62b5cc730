"""Erlang C against published values; Erlang A against Erlang C and common sense."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.reports.erlang import agents_needed, erlang_a, erlang_b, erlang_c, staffing_c


def test_published_100_calls_per_30_minutes() -> None:
    # 100 calls in 30 min, 3 min handle time, 14 agents (10 erlangs).
    s = staffing_c(200, 180, 14, 20)
    assert s.load_erlangs == pytest.approx(10.0)
    assert round(s.p_wait, 4) == 0.1741
    assert round(s.service_level, 3) == 0.888
    assert round(s.occupancy, 3) == 0.714
    assert s.asa_s == pytest.approx(7.84, abs=0.01)


def test_published_360_calls_per_hour_80_20() -> None:
    s = agents_needed(360, 240, 0.8, 20)
    assert s.agents == 29
    assert round(s.service_level, 3) == 0.840
    assert round(s.asa_s, 1) == 11.6
    assert staffing_c(360, 240, 28, 20).service_level < 0.8


@pytest.mark.parametrize("agents", [0, 1, 10, 23, 24])
def test_agents_at_or_below_the_load(agents: int) -> None:
    s = staffing_c(360, 240, agents, 20)  # 24 erlangs
    assert s.service_level == 0.0 and s.p_wait == 1.0 and math.isinf(s.asa_s)
    assert s.occupancy == 1.0
    assert erlang_c(agents, 24.0) == 1.0


@pytest.mark.parametrize(("agents", "load", "b"), [
    (1, 1.0, 0.5), (2, 1.0, 0.2), (10, 5.0, 0.018384), (0, 3.0, 1.0),
])
def test_erlang_b(agents: int, load: float, b: float) -> None:
    assert erlang_b(agents, load) == pytest.approx(b, abs=1e-6)


def test_no_traffic_needs_nobody() -> None:
    assert agents_needed(0, 180, 0.8, 20).agents == 0
    assert staffing_c(0, 180, 5, 20).service_level == 1.0


@pytest.mark.parametrize("bad", [
    lambda: staffing_c(-1, 180, 5, 20), lambda: staffing_c(100, 0, 5, 20),
    lambda: agents_needed(100, 180, 1.0, 20), lambda: erlang_c(-1, 2.0),
    lambda: erlang_a(100, 180, 5, 20, 0), lambda: erlang_b(3, float("nan")),
])
def test_bad_input_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


@given(agents=st.integers(0, 400), load=st.floats(0, 500, allow_nan=False))
def test_probabilities_stay_in_range(agents: int, load: float) -> None:
    b, c = erlang_b(agents, load), erlang_c(agents, load)
    assert 0 <= b <= 1 and 0 <= c <= 1
    assert c >= b - 1e-12 or load == 0


def test_erlang_a_tends_to_erlang_c_with_endless_patience() -> None:
    a, c = erlang_a(360, 240, 29, 20, 86_400), staffing_c(360, 240, 29, 20)
    assert a.p_wait == pytest.approx(c.p_wait, abs=0.002)
    assert a.service_level == pytest.approx(c.service_level, abs=0.002)
    assert a.asa_s == pytest.approx(c.asa_s, rel=0.02)


@pytest.mark.parametrize("agents", [1, 10, 20, 24, 26, 30])
def test_erlang_a_is_stable_at_any_load(agents: int) -> None:
    s = erlang_a(360, 240, agents, 20, 60)
    assert 0 <= s.p_wait <= 1 and 0 <= s.service_level <= 1 and 0 <= s.p_abandon <= 1
    assert math.isfinite(s.asa_s) and s.occupancy <= 1


def test_erlang_a_patience_needs_fewer_agents() -> None:
    c = agents_needed(360, 240, 0.8, 20)
    a = agents_needed(360, 240, 0.8, 20, patience_s=120)
    assert a.agents < c.agents and a.service_level >= 0.8 and a.p_abandon > 0
    below = erlang_a(360, 240, a.agents - 1, 20, 120)
    assert below.service_level < 0.8


def test_erlang_a_service_level_grows_with_agents() -> None:
    sls = [erlang_a(200, 180, n, 20, 90).service_level for n in range(1, 25)]
    assert sls == sorted(sls) and sls[-1] > 0.99


def test_asa_target_can_require_more_agents() -> None:
    base = agents_needed(360, 240, 0.8, 20)
    strict = agents_needed(360, 240, 0.8, 20, target_asa_s=3)
    assert strict.agents > base.agents and strict.asa_s <= 3
