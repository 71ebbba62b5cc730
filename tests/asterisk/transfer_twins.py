"""The transfer scenarios of tests/asterisk/test_acd_transfers.py again, on the ARI
simulator (real Redis and PostgreSQL): the same moves and phone buttons at the same
points, so that the ARI event types acd handled per channel role can be compared
with the real Asterisk's (kept in tests/asterisk/traces/transfer_<scenario>.jsonl;
tests/sim/test_transfer_traces.py replays them without an Asterisk)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from acd.sim.server import Simulator
from tests.asterisk.acd_runner import DEFAULT_ENDPOINTS, AcdRun, acd_settings, running_acd
from tests.asterisk.conftest import TRACES
from tests.asterisk.sim_twin import fresh_simulator, settled

Drive = Callable[[AcdRun, Simulator, str, str], Awaitable[None]]


def trace_path(scenario: str) -> Path:
    return TRACES / f"transfer_{scenario}.jsonl"


async def ask(run: AcdRun, call_id: str, move: str, **args: Any) -> dict[str, Any]:
    assert run.app.control is not None
    reply = await run.app.control.ask(call_id, move, args, by="agent:a1")
    assert reply.ok, reply
    return dict(reply.data)


def leg_of(sim: Simulator, endpoint: str) -> str:
    (leg,) = [c["id"] for c in sim.state()["channels"] if c["endpoint"] == endpoint]
    return str(leg)


async def blind(run: AcdRun, sim: Simulator, caller: str, call_id: str) -> None:
    await ask(run, call_id, "transfer", to="agent:a2")
    await run.wait_agent("a2", "on_call")
    await run.wait_agent("a1", "wrap_up")
    await run.app.clock.sleep(1.0)
    sim.remote_hangup(caller)


def attended(end: str) -> Drive:
    async def drive(run: AcdRun, sim: Simulator, caller: str, call_id: str) -> None:
        await ask(run, call_id, "consult", to="agent:a2")
        await run.wait_agent("a2", "on_call")
        await run.app.clock.sleep(1.0)
        await ask(run, call_id, end)
        await run.wait_agent("a1" if end == "complete" else "a2", "wrap_up")
        await run.app.clock.sleep(1.0)
        sim.remote_hangup(caller)
    return drive


async def refer(run: AcdRun, sim: Simulator, caller: str, call_id: str) -> None:
    await run.app.clock.sleep(1.5)
    leg = leg_of(sim, "PJSIP/agent285")
    notifies = sim.phone_refer(leg, "101")
    await run.wait_agent("a2", "on_call")
    await run.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    await run.app.clock.sleep(0.5)
    sim.remote_hangup(leg)  # the phone hangs up once the subscription ended (SIPp)
    await run.wait_agent("a1", "wrap_up")
    await run.app.clock.sleep(1.0)
    sim.remote_hangup(caller)


async def phone_consult(run: AcdRun, sim: Simulator, caller: str, call_id: str) -> None:
    """a1's phone dials 101 itself ([agents] -> Stasis(acd,phone,101)); its second call
    is hung up (ARI) once a2 talks: the consult ends, the caller stays with a1."""
    await run.app.clock.sleep(1.0)
    second = sim.place_call("", "101", context="agents", endpoint="PJSIP/agent100",
                            args=("phone", "101"))
    await run.wait_agent("a2", "on_call")
    await run.app.clock.sleep(1.0)
    assert run.app.ari is not None
    await run.app.ari.hangup(second)
    await run.wait_agent("a2", "wrap_up")
    await run.app.clock.sleep(1.0)
    sim.remote_hangup(caller)


async def phone_attended_refer(run: AcdRun, sim: Simulator, caller: str, call_id: str) -> None:
    """a1's phone dials 101 (a consult through [agents]) and, once a2 talks, REFERs its
    first call replacing the second; it hangs the first up once told NOTIFY 200."""
    await run.app.clock.sleep(1.0)
    first = leg_of(sim, "PJSIP/agent285")
    second = sim.place_call("", "101", context="agents", endpoint="PJSIP/agent285",
                            args=("phone", "101"))
    await run.wait_agent("a2", "on_call")
    await run.app.clock.sleep(1.0)
    notifies = sim.phone_refer(first, "101", replaces=second)
    await run.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    sim.remote_hangup(first)
    await run.wait_agent("a1", "wrap_up")
    await run.wait_agent("a1", "available")
    sim.remote_hangup(caller)


async def phone_hangs_up_consult(run: AcdRun, sim: Simulator, caller: str,
                                 call_id: str) -> None:
    """a1's phone dials 101 and, once a2 talks, hangs that second call up itself."""
    await run.app.clock.sleep(1.0)
    second = sim.place_call("", "101", context="agents", endpoint="PJSIP/agent285",
                            args=("phone", "101"))
    await run.wait_agent("a2", "on_call")
    await run.app.clock.sleep(1.0)
    sim.remote_hangup(second)
    await run.wait_agent("a2", "wrap_up")
    await run.app.clock.sleep(1.0)
    sim.remote_hangup(caller)


SCENARIOS: dict[str, tuple[Drive, tuple[str, str]]] = {
    "a_consult_from_the_agent_phone_through_agents": (phone_consult, DEFAULT_ENDPOINTS),
    "blind_transfer_to_another_agent": (blind, DEFAULT_ENDPOINTS),
    "attended_transfer[complete]": (attended("complete"), DEFAULT_ENDPOINTS),
    "attended_transfer[cancel]": (attended("cancel"), DEFAULT_ENDPOINTS),
    "a_blind_refer_from_the_agent_phone": (refer, ("PJSIP/agent285", "PJSIP/agent101")),
    "an_attended_refer_from_the_agent_phone": (phone_attended_refer,
                                               ("PJSIP/agent285", "PJSIP/agent101")),
    "the_agent_phone_hangs_its_consult_call_up": (phone_hangs_up_consult,
                                                  ("PJSIP/agent285", "PJSIP/agent101")),
}


async def run_on_simulator(scenario: str, redis_prefix: str, pg_dsn: str, tmp: Path,
                           monkeypatch: pytest.MonkeyPatch) -> AcdRun:
    drive, endpoints = SCENARIOS[scenario]
    async with fresh_simulator() as (clock, sim, url):
        for endpoint in endpoints:
            tech, _, resource = endpoint.partition("/")
            sim.set_endpoint(tech, resource, "answer", answer_after=0.5)
        settings = acd_settings(url, "acd", "acd", redis_prefix, pg_dsn, tmp,
                                endpoints=endpoints)
        async with running_acd(settings, monkeypatch, clock=clock, simulator=sim) as run:
            assert run.app.agents is not None and run.app.calls is not None
            await run.app.agents.set_break("a2", "x")
            caller = sim.place_call("+15551", "100", caller_name="Caller", dtmf=[(2.0, "2")])
            await run.wait_agent("a1", "on_call")
            await run.app.agents.available("a2")
            (state,) = run.app.calls.calls.values()
            await drive(run, sim, caller, state.call_id)
            await run.finished()
            await run.wait_agent("a1", "available")
            await run.wait_agent("a2", "available")
            await settled(run, sim)
        return run
