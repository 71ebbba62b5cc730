"""Each scenario of test_acd_scenarios.py again, on the ARI simulator.

A `Twin` says what the SIPp phones and caller of a real scenario do, in the
simulator's terms: the agents' phones (acd/sim `set_endpoint` behaviours), the
caller's keys (seconds after the call enters Stasis, as `place_call` takes them)
and when the caller hangs up. `run_twin` plays it with acd attached to a fresh
simulator (real Redis and PostgreSQL) and returns the run, whose event sequences
per role are compared with the real Asterisk's (tests/asterisk/sequences.py).

The same twins replay the kept real traces in tests/sim/test_acd_traces.py, so
the simulator is held to them without an Asterisk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from acd.clock import Clock
from acd.sim.server import Simulator
from tests.asterisk.acd_runner import DEFAULT_ENDPOINTS, AcdRun, acd_settings, running_acd
from tests.asterisk.conftest import TRACES

SPEED = 5.0     # fast, yet timer jitter stays far below the gaps between events


@asynccontextmanager
async def fresh_simulator() -> AsyncIterator[tuple[Clock, Simulator, str]]:
    """A simulator on its own clock (SPEED), on a free port: (clock, simulator, its URL)."""
    clock = Clock(SPEED)
    sim = Simulator(clock, user="acd", password="acd")
    port = await sim.start("127.0.0.1", 0)
    try:
        yield clock, sim, f"http://127.0.0.1:{port}"
    finally:
        await sim.stop()


async def settled(run: AcdRun, sim: Simulator) -> None:
    """The twin is over: the simulator holds no channel and no bridge, acd has read every
    event it sent (the calls' app and the phones' app, device states) and handled them."""
    await run.wait_for(lambda: sim.channels == 0 and sim.bridges == 0,
                       "the simulator to have no channels and no bridges")
    stream, phones = run.app.stream, run.app.phone_stream
    assert stream is not None and phones is not None
    await run.wait_for(
        lambda: stream.events_received + phones.events_received >= sim.hub.events_sent,
        "acd to read every event the simulator sent")
    await stream.drain()


def trace_path(scenario: str) -> Path:
    """Where the real Asterisk's sequences of `scenario` are kept."""
    return TRACES / f"acd_{scenario}.jsonl"


@dataclass(frozen=True)
class Phone:
    """The SIPp phone behind one agent endpoint (harness.agent_behaviour)."""

    endpoint: str                       # "PJSIP/agent100"
    behaviour: str                      # answer, noanswer, busy
    answer_after: float = 0.5           # the SIPp phone's ring time (-d)
    hangup_after: float | None = None   # its talk time, when it hangs up first


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up `after` seconds once agent `agent` is in `state`."""

    agent: str
    state: str
    after: float


@dataclass(frozen=True)
class Twin:
    phones: tuple[Phone, ...] = ()
    endpoints: tuple[str, str] = DEFAULT_ENDPOINTS
    ring_timeout: int = 3
    breaks: tuple[tuple[str, str], ...] = ()          # (agent, reason) before the call
    dtmf: tuple[tuple[float, str], ...] = ((2.0, "2"),)
    hang_up: HangUp | None = None                     # the caller's BYE, tied to an agent
    hangup_after: float | None = None                 # or at a time after entering Stasis
    available: tuple[str, ...] = ()                   # agents to see available at the end


ANSWER = Phone("PJSIP/agent100", "answer")

TWINS: dict[str, Twin] = {
    # SIPp caller: "2" 2 s after the answer, BYE 4 s later (agent on call by then).
    "answered_call": Twin(phones=(ANSWER,), hang_up=HangUp("a1", "on_call", 2.0),
                          available=("a1",)),
    "agent_does_not_answer_then_another_does": Twin(
        phones=(Phone("PJSIP/agent280", "noanswer"), Phone("PJSIP/agent101", "answer")),
        endpoints=("PJSIP/agent280", "PJSIP/agent101"),
        hang_up=HangUp("a2", "on_call", 2.0), available=("a1", "a2")),
    "busy_agent": Twin(
        phones=(Phone("PJSIP/agent290", "busy"), Phone("PJSIP/agent101", "answer")),
        endpoints=("PJSIP/agent290", "PJSIP/agent101"),
        hang_up=HangUp("a2", "on_call", 2.0), available=("a1", "a2")),
    # Both agents on break; the caller hangs up 2 s after pressing "2".
    "caller_abandons_in_queue": Twin(
        breaks=(("a1", "lunch"), ("a2", "training")), hangup_after=4.0),
    # The caller hangs up 1.5 s after "2", while a1's phone rings (timeout 10 s).
    "caller_hangs_up_while_agent_rings": Twin(
        phones=(Phone("PJSIP/agent280", "noanswer"),),
        endpoints=("PJSIP/agent280", "PJSIP/agent101"), ring_timeout=10,
        breaks=(("a2", "meeting"),), hang_up=HangUp("a1", "ringing", 1.0),
        available=("a1",)),
    # The agent's phone hangs up after 2 s of talk; the caller would hold 20 s.
    "agent_hangs_up_first": Twin(
        phones=(Phone("PJSIP/agent100", "answer", hangup_after=2.0),), available=("a1",)),
    # "1" 2 s after the answer, "2" 3 s after that, BYE 3 s later.
    "invalid_key_then_valid_key": Twin(
        phones=(ANSWER,), dtmf=((2.0, "1"), (5.0, "2")),
        hang_up=HangUp("a1", "on_call", 2.0), available=("a1",)),
}


async def run_twin(twin: Twin, redis_prefix: str, pg_dsn: str, tmp: Path,
                   monkeypatch: pytest.MonkeyPatch) -> AcdRun:
    """Play `twin` on a fresh simulator with acd attached; the run once all is over."""
    async with fresh_simulator() as (clock, sim, url):
        for phone in twin.phones:
            tech, _, resource = phone.endpoint.partition("/")
            sim.set_endpoint(tech, resource, phone.behaviour, answer_after=phone.answer_after,
                             hangup_after=phone.hangup_after)
        settings = acd_settings(url, "acd", "acd", redis_prefix, pg_dsn, tmp,
                                endpoints=twin.endpoints, ring_timeout=twin.ring_timeout)
        async with running_acd(settings, monkeypatch, clock=clock, simulator=sim) as run:
            assert run.app.agents is not None
            for agent, reason in twin.breaks:
                await run.app.agents.set_break(agent, reason)
            ch = sim.place_call("+15551", "100", caller_name="Caller", dtmf=list(twin.dtmf),
                                hangup_after=twin.hangup_after)
            if twin.hang_up is not None:
                await run.wait_agent(twin.hang_up.agent, twin.hang_up.state)
                await clock.sleep(twin.hang_up.after)
                sim.remote_hangup(ch)
            await run.finished()
            for agent in twin.available:
                await run.wait_agent(agent, "available")
            await run.assert_acd_clean()
            await settled(run, sim)
        return run
