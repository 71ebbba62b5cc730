"""Supervisor monitoring on the real Asterisk 22 (issue 17): acd in-process, a SIPp
caller, the agent's SIPp phone and the supervisor's own SIPp phone; the moves asked
through acd's move path (tests/asterisk/monitor_twin.py has the scenarios).

Each test asserts the moves' answers and what Asterisk holds after each (the snoops
made and bridged with the supervisor's leg, the switch that keeps it, the barge),
the rows, then hygiene: no channel (no snoop), no bridge, no SIPp call left. Then the
same scenario runs on the simulator and the ARI event types acd handled, per role,
must be the same as the real Asterisk's, kept in traces/monitor_<scenario>.jsonl
(re-record with ACD_RECORD_TRACES=1 flock /tmp/acd-asterisk.lock ...).
"""

from __future__ import annotations

import array
import asyncio
import json
import os
import time
import uuid
import wave
from pathlib import Path

import pytest

from tests.asterisk.ari_probe import AriProbe, of_type
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.monitor_twin import (
    CALLER_HOLD,
    SCENARIOS,
    SUPERVISOR,
    per_role,
    play,
    run_on_simulator,
    trace_path,
    with_roles,
)
from tests.asterisk.sequences import differences, load_trace, save_trace, sequences
from tests.asterisk.test_acd_scenarios import PRESS_SALES, Starter, acd, assert_hygiene

pytestmark = pytest.mark.asterisk
__all__ = ["acd"]  # the fixture, shared with test_acd_scenarios.py


async def kept_and_simulated(scenario: str, real_events: list[tuple[str, str, str]],
                             redis_prefix: str, pg_dsn: str, tmp_path: os.PathLike[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the real sequences (on request, or when none are kept), then the same
    scenario on the simulator must give them."""
    real = sequences(with_roles(real_events))
    path = trace_path(scenario)
    stale = differences(sequences(load_trace(path)), real) if path.exists() else ""
    if (stale or not path.exists()) and os.environ.get("ACD_RECORD_TRACES") == "1":
        save_trace(with_roles(real_events), path)
    elif stale or not path.exists():
        pytest.fail(f"{scenario}: the real Asterisk's sequences differ from the kept "
                    f"{path.name}; check them and record again with ACD_RECORD_TRACES=1:"
                    f"\n{stale or 'no kept trace'}", pytrace=False)
    sim = await run_on_simulator(scenario, f"{redis_prefix}-sim", pg_dsn,
                                 Path(tmp_path) / "sim", monkeypatch)
    diff = differences(real, per_role(sim))
    if diff:
        pytest.fail(f"{scenario}: ARI event sequences differ (real Asterisk | simulator):\n"
                    + diff, pytrace=False)


async def test_listen_whisper_barge_then_the_call_ends(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory, redis_prefix: str,
        pg_dsn: str, tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = "listen_whisper_barge_then_the_call_ends"
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a2", "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=CALLER_HOLD)
        replies = await play(h, rest, SCENARIOS[scenario])
        assert [r.data["mode"] for r in replies] == ["listen", "whisper", "barge", "listen"]
        async def one_snoop() -> bool:
            names = [c["name"] for c in await rest.channels()]
            return len([n for n in names if str(n).startswith("Snoop/")]) == 1
        # A snoop acd hung up is gone a little after its StasisEnd.
        await h.wait_for(one_snoop, "one snoop left", 5.0)
        result = await call.wait(timeout=30)  # the caller hangs up while listened to
        assert result.ok, result
        call_id = await h.finished()
        await h.wait_agent("a1", "available", timeout=10)
        events = await h.pg.fetch("SELECT event, detail FROM queue_events WHERE call_id=$1 "
                                  "AND event LIKE 'monitor%' ORDER BY at, event_id", call_id)
        assert [(r["event"], json.loads(r["detail"])["mode"]) for r in events] == [
            ("monitor", "listen"), ("monitor", "whisper"), ("monitor", "barge"),
            ("monitor", "listen"), ("monitor_end", "listen")]
        assert json.loads(events[-1]["detail"])["reason"] == "call_ended"
        legs = await h.pg.fetch("SELECT kind, endpoint, outcome, answered_at, detail FROM "
                                "legs WHERE call_id=$1 ORDER BY started_at", call_id)
        assert [json.loads(r["detail"])["mode"] for r in legs if r["kind"] == "snoop"] == [
            "listen", "whisper", "listen"]
        [sup] = [r for r in legs if r["kind"] == "supervisor"]
        assert (sup["endpoint"], sup["outcome"]) == (SUPERVISOR, "answered")
        assert sup["answered_at"] is not None
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)  # 0 channels (snoops too), 0 bridges
    await kept_and_simulated(scenario, h.events, redis_prefix, pg_dsn, tmp_path, monkeypatch)


async def test_a_busy_supervisor_phone(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory, redis_prefix: str,
        pg_dsn: str, tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = "a_busy_supervisor_phone"
    phones = sipp_agents(ring=0.5, behaviours=("answer", "busy"))
    async with acd() as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a2", "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=6.0)
        [reply] = await play(h, rest, SCENARIOS[scenario])
        assert reply.error_id == "supervisor_busy", reply
        assert await h.agent_state("a1") == "on_call"  # the call goes on untouched
        result = await call.wait(timeout=30)
        assert result.ok, result
        call_id = await h.finished()
        rows = await h.pg.fetch("SELECT outcome, hangup_cause FROM legs WHERE call_id=$1 "
                                "AND kind='supervisor'", call_id)
        assert [(r["outcome"], r["hangup_cause"]) for r in rows] == [("busy", 17)]
        await h.wait_agent("a1", "available", timeout=10)
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await kept_and_simulated(scenario, h.events, redis_prefix, pg_dsn, tmp_path, monkeypatch)


def rms(path: Path, a: float, b: float) -> float:
    """RMS of the 16-bit mono samples of a wav between a and b seconds."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    part = samples[int(a * rate):int(b * rate)]
    return float((sum(x * x for x in part) / max(1, len(part))) ** 0.5)


async def test_who_hears_the_supervisor(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    """What reaches the caller's and the agent's phones (a snoop spy=out on each, in an
    app of the test's own, recorded) while the supervisor's phone sends the only
    audio (SIPp's pcap from its answer; the caller's and the agent's are over):
    listen, nobody hears it; whisper, not the caller; barge, both. The simulator's
    model says the same (tests/sim/test_hearing.py, acd/sim/hearing.py).

    What a whisper gives the agent cannot be measured so: a spy sees the frames going
    to its channel before the whisper is mixed into them (measured: silence on the
    agent's spy while whispered to, the supervisor's voice once barged)."""
    phones = sipp_agents(ring=0.2, behaviours=("answer",))
    async with acd() as h, AriProbe(asterisk.ari_url, asterisk.user, asterisk.password,
                                    app="probe") as probe:
        await probe.connect()
        assert h.app.agents is not None and h.app.control is not None
        await h.app.agents.set_break("a2", "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=20.0)
        await h.wait_agent("a1", "on_call", timeout=20)
        call_id = (await h.app.agents.get("a1")).current_call
        chans = {str(c["id"]): str(c["name"]) for c in await rest.channels()}
        agent = next(c for c in chans if c.startswith("acd-"))
        caller = next(c for c in chans if not c.startswith("acd-"))
        await asyncio.sleep(8.0)  # the caller's and the agent's pcaps are over
        names: dict[str, str] = {}
        spies: list[str] = []
        for who, channel in (("caller", caller), ("agent", agent)):
            _, spy = await probe.request("POST", f"/channels/{channel}/snoop", spy="out",
                                         app="probe")
            spies.append(str(spy["id"]))
            await probe.wait_event(of_type("StasisStart", str(spy["id"])))
            names[who] = f"hears-{who}-{uuid.uuid4()}"
            status, _ = await probe.request("POST", f"/channels/{spy['id']}/record",
                                            name=names[who], format="wav")
            assert status == 201
        t0 = time.monotonic()
        marks: dict[str, tuple[float, float]] = {}
        for mode, seconds in (("listen", 1.2), ("whisper", 1.4), ("barge", 1.2)):
            reply = await h.app.control.ask(call_id, mode, {"endpoint": SUPERVISOR},
                                            by="supervisor:super", timeout=10)
            assert reply.ok, reply
            a = time.monotonic() - t0
            await asyncio.sleep(seconds)
            marks[mode] = (a + 0.2, time.monotonic() - t0 - 0.1)
        for who in names:
            await probe.request("POST", f"/recordings/live/{names[who]}/stop")
        for spy in spies:
            await probe.request("DELETE", f"/channels/{spy}")
        result = await call.wait(timeout=30)
        assert result.ok, result
        await h.finished()
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    folder = asterisk.root / "spool" / "recording"
    levels = {who: {mode: round(rms(folder / f"{name}.wav", *marks[mode])) for mode in marks}
              for who, name in names.items()}
    print("RMS heard:", levels, "marks:", marks)
    for who, name in names.items():  # the whole recording, 0.2 s a slice
        print(who, [round(rms(folder / f"{name}.wav", i / 5, (i + 1) / 5)) for i in range(25)])
    voice = levels["caller"]["barge"]
    assert voice > 500, levels  # barged: the supervisor's pcap reaches the caller
    assert levels["agent"]["barge"] > voice / 3, levels  # and the agent
    assert levels["caller"]["listen"] < voice / 10, levels  # listening: nobody hears it
    assert levels["agent"]["listen"] < voice / 10, levels
    assert levels["caller"]["whisper"] < voice / 10, levels  # whispering: not the caller
