"""The hold scenarios of tests/asterisk/test_control_hold.py again, on the simulator.

A `HoldTwin` says what the SIPp phones, the caller and the test do, in the
simulator's terms: agent a1's phone answers (and hangs up after `hangup_after`),
a2 is on break, the caller keys "2"; once a1 is on call, `moves` run in order:
("wait", seconds), ("hold" | "unhold", None) asked of acd's control as the agent,
("phone_hold" | "phone_unhold", None) pressed on a1's phone. `run_hold_twin`
returns the run, whose ARI event sequences per role are compared with the real
Asterisk's kept ones (tests/asterisk/sequences.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.asterisk.acd_runner import AcdRun, acd_settings, running_acd
from tests.asterisk.sim_twin import fresh_simulator, settled

Move = tuple[str, float | None]


@dataclass(frozen=True)
class HoldTwin:
    endpoint: str
    hangup_after: float           # a1's phone hangs up this long after its answer
    moves: tuple[Move, ...]


def hold_moves(*pairs: tuple[str, float] | str) -> tuple[Move, ...]:
    return tuple((p, None) if isinstance(p, str) else p for p in pairs)


HOLD_TWINS: dict[str, HoldTwin] = {
    # acd holds and resumes twice while a1's phone talks 16 s.
    "hold_and_unhold_from_the_api": HoldTwin(
        "PJSIP/agent100", 16.0,
        hold_moves(("wait", 0.5), "hold", ("wait", 1.8), "unhold", ("wait", 5.0), "hold",
                   ("wait", 2.0), "unhold")),
    # agent_hold.xml: held 2 s after the answer, resumed 3 s later, hangs up 1.5 s after.
    "hold_and_unhold_from_the_phone": HoldTwin(
        "PJSIP/agent285", 6.5,
        hold_moves(("wait", 2.0), "phone_hold", ("wait", 3.0), "phone_unhold")),
}


async def run_hold_twin(twin: HoldTwin, redis_prefix: str, pg_dsn: str, tmp: Path,
                        monkeypatch: pytest.MonkeyPatch) -> AcdRun:
    async with fresh_simulator() as (clock, sim, url):
        tech, _, resource = twin.endpoint.partition("/")
        sim.set_endpoint(tech, resource, "answer", answer_after=0.3,
                         hangup_after=twin.hangup_after)
        settings = acd_settings(url, "acd", "acd", redis_prefix, pg_dsn, tmp,
                                endpoints=(twin.endpoint, "PJSIP/agent101"))
        async with running_acd(settings, monkeypatch, clock=clock, simulator=sim) as run:
            app = run.app
            assert app.agents is not None and app.calls is not None
            await app.agents.set_break("a2", "meeting")
            ch = sim.place_call("+15551", "100", caller_name="Caller", dtmf=[(2.0, "2")])
            await run.wait_agent("a1", "on_call")
            state = app.calls.find(app.calls._by_channel[ch])
            assert state is not None and state.connected is not None and app.control
            for what, seconds in twin.moves:
                if what == "wait":
                    await clock.sleep(seconds or 0.0)
                elif what in ("hold", "unhold"):
                    reply = await app.control.ask(state.call_id, what, {}, by="agent:a1")
                    assert reply.ok, reply
                elif what == "phone_hold":
                    sim.phone_hold(state.connected)
                else:
                    sim.phone_unhold(state.connected)
            await run.finished(timeout=30)
            await run.wait_agent("a1", "available")
            await run.assert_acd_clean()
            await settled(run, sim)
        return run
