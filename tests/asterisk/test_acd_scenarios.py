"""acd itself against the real Asterisk: SIPp callers and agent phones, real Redis and
PostgreSQL. The same scenarios as tests/e2e/test_call_path.py, at real time.

Each test asserts SIPp's verdict, the agents' states in Redis, the leg and
queue-event rows in PostgreSQL, then hygiene: no channel or bridge left in
Asterisk, no task processor overloaded during the scenario, no SIPp call still
open. Then the same scenario runs on the simulator (tests/asterisk/sim_twin.py)
and the ARI event types acd handled, per channel role, must be the same as the
real Asterisk's; the real ones are kept in tests/asterisk/traces/acd_<scenario>.jsonl.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from tests.asterisk.acd_runner import SETTLED, AcdRun, acd_settings, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.sim_twin import TWINS, run_twin, trace_path
from tests.asterisk.sipp import Sipp

pytestmark = pytest.mark.asterisk

PRESS_SALES = [(2.0, "2")]  # see acd_runner.FLOW
Starter = Callable[..., AbstractAsyncContextManager[AcdRun]]
SameOnSim = Callable[[AcdRun], Awaitable[None]]


@pytest.fixture
def acd(asterisk: AsteriskInstance, rest: AriProbe, redis_prefix: str, redis_client: object,
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Starter:
    """acd(endpoints=(a1, a2)) -> async context manager giving an AcdRun.

    On leaving, it waits until Asterisk holds no channel and no bridge, so every
    event of the scenario reached acd before it stops listening."""
    # Each scenario is judged on its own log lines and task processor depths. Start-up
    # is not: loading the 200 agent endpoints publishes ~1500 device states at once,
    # and the core's two devicestate:all subscribers (main/devicestate.c, main/pbx.c)
    # queue 200-460 of them against a high water mark of 500, depending on CPU load;
    # under contention that is the "devicestate:all ... task processor queue reached
    # 500" warning. A scenario's own peak is a handful.
    asterisk.mark_log()
    asterisk.reset_taskprocessors()

    @asynccontextmanager
    async def start(**over: object) -> AsyncIterator[AcdRun]:
        settings = acd_settings(asterisk.ari_url, asterisk.user, asterisk.password,
                                redis_prefix, pg_dsn, tmp_path / "real", **over)  # type: ignore[arg-type]
        async with running_acd(settings, monkeypatch) as run:
            yield run
            await settled(rest, run)
    return start


async def settled(rest: AriProbe, run: AcdRun, timeout: float = 5.0) -> None:
    """Wait until Asterisk has no channel and no bridge (a failing assertion if it keeps
    one), then until acd has every event Asterisk sent it about them."""
    assert await rest.wait_no_channels(timeout) == []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await rest.bridges() and loop.time() < deadline:
        await asyncio.sleep(0.1)
    assert await rest.bridges() == []
    seen = len(run.settled_marks)
    status, _ = await rest.request("POST", f"/events/user/{SETTLED}", application="acd")
    assert status == 204
    await run.wait_for(lambda: len(run.settled_marks) > seen, "the settled marker", timeout)


@pytest.fixture
def same_on_simulator(request: pytest.FixtureRequest, redis_prefix: str, pg_dsn: str,
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SameOnSim:
    """check(real): keep the real trace, play the scenario's twin on the simulator,
    and fail with both sequences side by side where a role's sequence differs
    (tests/sim/test_acd_traces.py compares the kept traces the same way)."""
    scenario = request.node.name.removeprefix("test_")

    async def check(real: AcdRun) -> None:
        # The kept trace (replayed on the simulator by tests/sim/test_acd_traces.py)
        # is rewritten only on request, and only when its sequences changed (ids
        # alone do not count); a real Asterisk that now behaves otherwise fails.
        path = trace_path(scenario)
        stale = differences(sequences(load_trace(path)), real.per_role()) if (
            path.exists()) else ""
        missing = not path.exists()
        if (stale or missing) and os.environ.get("ACD_RECORD_TRACES") == "1":
            real.save_trace(path)
        elif stale or missing:
            pytest.fail(f"{scenario}: the real Asterisk's sequences differ from the kept "
                        f"{path.name}; check them and record again with "
                        f"ACD_RECORD_TRACES=1:\n{stale or 'no kept trace'}",
                        pytrace=False)
        sim = await run_twin(TWINS[scenario], f"{redis_prefix}-sim", pg_dsn, tmp_path / "sim",
                             monkeypatch)
        diff = differences(real.per_role(), sim.per_role())
        if diff:
            pytest.fail(f"{scenario}: ARI event sequences differ (real Asterisk | simulator):\n"
                        + diff, pytrace=False)
    return check


def open_calls(phone: Sipp) -> int:
    """SIPp's CurrentCall after it was stopped (its final statistics line)."""
    phone.stop()
    stat = phone.workdir / f"{phone.name}_stat.csv"
    rows = list(csv.reader(stat.read_text(errors="replace").splitlines(), delimiter=";"))
    return int(rows[-1][rows[0].index("CurrentCall")])


async def assert_hygiene(asterisk: AsteriskInstance, rest: AriProbe,
                         phones: dict[str, Sipp]) -> None:
    assert await rest.wait_no_channels() == []
    assert await rest.bridges() == []
    assert asterisk.taskprocessor_warnings(asterisk.log_since_mark()) == []
    # The same overload, measured: no queue reached the depth Asterisk warns at.
    full = {name: depth for name, depth in asterisk.taskprocessor_depths().items()
            if depth[0] >= depth[1]}
    assert full == {}, f"task processors that reached their high water mark: {full}"
    for name, phone in phones.items():
        assert open_calls(phone) == 0, f"SIPp phone {name} still has a call open"


async def test_answered_call(asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
                             sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
                             same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        call = sipp_caller(dtmf=PRESS_SALES, hold=4.0)
        await h.wait_agent("a1", "on_call")
        result = await call.wait(timeout=20)
        assert result.ok and "acd:local-bye" in result.markers, result
        call_id = await h.finished()
        await phones["answer"].wait_marker("acd:agent-remote-bye")

        assert await h.queue_events(call_id) == [
            ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
        row = await h.call(call_id)
        assert row["outcome"] == "answered" and row["agent_id"] == "a1"
        assert row["queue"] == "sales" and row["answered_at"] is not None
        assert row["talk_ms"] >= 500
        legs = await h.legs(call_id)
        assert [(leg["kind"], leg["agent_id"]) for leg in legs] == [
            ("caller", "a1"), ("agent", "a1")]
        caller, agent = legs
        assert caller["hangup_cause"] == 16
        assert agent["answered_at"] is not None and agent["ended_at"] is not None
        assert agent["endpoint"] == "PJSIP/agent100"
        assert await h.agent_state("a1") in ("wrap_up", "available")
        await h.wait_agent("a1", "available")
        assert await h.agent_state("a2") == "available"
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


async def test_agent_does_not_answer_then_another_does(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer", "noanswer"))
    async with acd(endpoints=("PJSIP/agent280", "PJSIP/agent101")) as h:
        call = sipp_caller(dtmf=PRESS_SALES, hold=7.0)
        await h.wait_agent("a2", "on_call", timeout=20)
        result = await call.wait(timeout=20)
        assert result.ok, result
        call_id = await h.finished()
        assert await h.queue_events(call_id) == [
            ("enter", None), ("offer", "a1"), ("no_answer", "a1"), ("offer", "a2"),
            ("connect", "a2"), ("complete", "a2")]
        agent_legs = [leg for leg in await h.legs(call_id) if leg["kind"] == "agent"]
        assert [(leg["agent_id"], leg["hangup_cause"], leg["answered_at"] is None)
                for leg in agent_legs] == [("a1", 19, True), ("a2", 16, False)]
        assert h.app.agents is not None
        view = await h.app.agents.get("a1")
        assert view.state == "available" and view.missed_in_row == 1
        await phones["noanswer"].wait_marker("acd:agent-cancelled")
        await h.wait_agent("a2", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


async def test_busy_agent(asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
                          sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
                          same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer", "busy"))
    async with acd(endpoints=("PJSIP/agent290", "PJSIP/agent101")) as h:
        call = sipp_caller(dtmf=PRESS_SALES, hold=4.0)
        await h.wait_agent("a2", "on_call")
        result = await call.wait(timeout=20)
        assert result.ok, result
        call_id = await h.finished()
        events = await h.queue_events(call_id)
        # "enter" and the first "offer" can share a millisecond (then their order in
        # the table is the random event_id's): compare the order without "enter".
        assert events.count(("enter", None)) == 1
        assert [e for e in events if e[0] != "enter"][:3] == [
            ("offer", "a1"), ("busy", "a1"), ("offer", "a2")]
        assert ("connect", "a2") in events
        agent_legs = [leg for leg in await h.legs(call_id) if leg["kind"] == "agent"]
        assert agent_legs[0]["hangup_cause"] == 17 and agent_legs[0]["outcome"] == "busy"
        await phones["busy"].wait_marker("acd:agent-busy")
        await h.wait_agent("a2", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


async def test_caller_abandons_in_queue(asterisk: AsteriskInstance, rest: AriProbe,
                                        acd: Starter, sipp_caller: CallerFactory,
                                        same_on_simulator: SameOnSim) -> None:
    async with acd() as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a1", "lunch")
        await h.app.agents.set_break("a2", "training")
        call = sipp_caller(dtmf=PRESS_SALES, hold=2.0, scenario="caller_abandon.xml")
        result = await call.wait(timeout=20)
        assert result.ok and "acd:local-bye" in result.markers, result
        call_id = await h.finished()
        assert await h.queue_events(call_id) == [("enter", None), ("abandon", None)]
        row = await h.call(call_id)
        assert row["outcome"] == "abandoned" and row["agent_id"] is None
        assert row["wait_ms"] > 0
        assert [leg["kind"] for leg in await h.legs(call_id)] == ["caller"]
        assert await h.agent_state("a1") == "break"
        assert (await h.app.agents.get("a1")).reason == "lunch"
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, {})
    await same_on_simulator(h)


async def test_caller_hangs_up_while_agent_rings(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(behaviours=("noanswer",))
    async with acd(endpoints=("PJSIP/agent280", "PJSIP/agent101"), ring_timeout=10) as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a2", "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=1.5)  # BYE while the agent rings
        await h.wait_agent("a1", "ringing")
        result = await call.wait(timeout=20)
        assert result.ok and "acd:local-bye" in result.markers, result
        call_id = await h.finished()
        assert await h.queue_events(call_id) == [
            ("enter", None), ("offer", "a1"), ("abandon", None)]
        agent_legs = [leg for leg in await h.legs(call_id) if leg["kind"] == "agent"]
        assert len(agent_legs) == 1 and agent_legs[0]["answered_at"] is None
        assert agent_legs[0]["outcome"] == "abandoned"
        await h.wait_agent("a1", "available")
        assert (await h.app.agents.get("a1")).missed_in_row == 0
        await phones["noanswer"].wait_marker("acd:agent-cancelled")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


async def test_agent_hangs_up_first(asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
                                    sipp_caller: CallerFactory,
                                    sipp_agents: AgentsFactory,
                                    same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, talk=2.0, behaviours=("answer",))
    async with acd() as h:
        call = sipp_caller(dtmf=PRESS_SALES, hold=20.0)
        result = await call.wait(timeout=25)
        assert result.ok and "acd:remote-bye" in result.markers, result
        call_id = await h.finished()
        assert await h.queue_events(call_id) == [
            ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
        legs = await h.legs(call_id)
        caller = next(leg for leg in legs if leg["kind"] == "caller")
        agent = next(leg for leg in legs if leg["kind"] == "agent")
        assert agent["hangup_cause"] == 16
        assert caller["ended_at"] >= agent["ended_at"]
        assert (await h.call(call_id))["outcome"] == "answered"
        await phones["answer"].wait_marker("acd:agent-local-bye")
        await h.wait_agent("a1", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


async def test_invalid_key_then_valid_key(asterisk: AsteriskInstance, rest: AriProbe,
                                          acd: Starter, sipp_caller: CallerFactory,
                                          sipp_agents: AgentsFactory,
                                          same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        call = sipp_caller(dtmf=[(2.0, "1"), (3.0, "2")], hold=3.0)
        await h.wait_agent("a1", "on_call", timeout=20)
        result = await call.wait(timeout=20)
        assert result.ok, result
        call_id = await h.finished()
        assert ("connect", "a1") in await h.queue_events(call_id)
        variables = (await h.call(call_id))["variables"]
        if isinstance(variables, str):
            variables = json.loads(variables)
        assert variables["menu_choice"] == "2"
        await h.wait_agent("a1", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)
