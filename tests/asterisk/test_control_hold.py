"""Hold and unhold by acd on the real Asterisk (issue 17), SIPp caller and agent phones,
real Redis and PostgreSQL.

- From acd's control (the API's path): the caller hears music while held and the
  agent's voice again after; the agent hears nothing of the caller while held (acd
  mutes the caller toward the bridge) and the caller's voice again after. What each
  party hears is measured as docs/call-control.md does: a snoop `spy=out` on the
  channel (what Asterisk sends to the phone), recorded, RMS per slice. The snoops
  live in an app of their own, so acd never sees them.
- From the phone's own hold button (sip_test/agent_hold.xml, re-INVITE a=sendonly then
  a=sendrecv): recorded as a hold by the phone.

Each checks the rows (calls.hold_ms within 300 ms of the time held, talk time without
it; queue events hold / unhold), the agent's state, and hygiene (no channel, bridge
or snoop left). The ARI events acd handled, per channel role, are kept
(traces/acd_<scenario>.jsonl, ACD_RECORD_TRACES=1) and must be what the same
scenario gives on the simulator (tests/sim/test_hold_traces.py replays them too).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from acd.ari.client import AriClient
from tests.asterisk import sipp
from tests.asterisk.acd_runner import AcdRun
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import SOFTPHONE_IP, AsteriskInstance, free_port, free_udp_pair
from tests.asterisk.hold_twins import HOLD_TWINS, run_hold_twin
from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.sim_twin import trace_path
from tests.asterisk.sipp import SIP_TEST, Sipp, _set_timeout
from tests.asterisk.test_acd_scenarios import (  # noqa: F401 - fixtures
    PRESS_SALES,
    Starter,
    acd,
    assert_hygiene,
)
from tests.asterisk.test_call_control import _rms_per_slice

pytestmark = pytest.mark.asterisk

SNOOP_APP = "acd-hold-probe"
SPEAKS = "acd:caller-speaks"
TOLERANCE_MS = 300


@pytest.fixture
async def ears(asterisk: AsteriskInstance) -> AsyncIterator[AriProbe]:
    """An ARI app of the test's own for the snoops (acd's app never sees them)."""
    async with AriProbe(asterisk.ari_url, asterisk.user, asterisk.password,
                        app=SNOOP_APP) as probe:
        await probe.connect()
        yield probe


async def listen(ears: AriProbe, channel: str) -> tuple[str, str]:
    """Record what Asterisk sends to `channel`'s phone: (snoop channel, recording name)."""
    status, snoop = await ears.request("POST", f"/channels/{channel}/snoop", spy="out",
                                       app=SNOOP_APP, appArgs="ears")
    assert status == 200, snoop
    sid = str(snoop["id"])
    await ears.wait_event(lambda ev: ev.get("type") == "StasisStart"
                          and ev["channel"]["id"] == sid)
    name = f"hold-ears-{uuid.uuid4()}"
    status, body = await ears.request("POST", f"/channels/{sid}/record", name=name,
                                      format="wav")
    assert status == 201, body
    await ears.wait_event(lambda ev: ev.get("type") == "RecordingStarted"
                          and ev["recording"]["name"] == name)
    return sid, name


async def stop_listening(ears: AriProbe, sid: str, name: str) -> None:
    status, _ = await ears.request("POST", f"/recordings/live/{name}/stop")
    assert status == 204
    await ears.wait_event(lambda ev: ev.get("type") == "RecordingFinished"
                          and ev["recording"]["name"] == name)
    await ears.request("DELETE", f"/channels/{sid}")


def speaking_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's digit "0" becomes 4.7 s of speech (the kit's g711a pcap) with a log
    marker: the caller talks when the test wants it to."""
    render = sipp.render_caller

    def with_speech(scenario: str, dtmf: Any, hold: float | None) -> str:
        text = render(scenario, dtmf, hold)
        return text.replace(
            f'<exec play_pcap_audio="{sipp.PCAPS}/dtmf_2833_0.pcap"/>',
            f'<log message="{SPEAKS}"/>'
            f'<exec play_pcap_audio="{sipp.PCAPS}/g711a.pcap"/>')
    monkeypatch.setattr(sipp, "render_caller", with_speech)


async def same_as_simulator(scenario: str, real: AcdRun, redis_prefix: str, pg_dsn: str,
                            tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep (ACD_RECORD_TRACES=1) or compare the real sequences, then play the
    scenario's twin on the simulator and compare."""
    path = trace_path(scenario)
    stale = differences(sequences(load_trace(path)), real.per_role()) if path.exists() else ""
    if (stale or not path.exists()) and os.environ.get("ACD_RECORD_TRACES") == "1":
        real.save_trace(path)
    elif stale or not path.exists():
        pytest.fail(f"{scenario}: the real sequences differ from {path.name}:\n"
                    f"{stale or 'no kept trace'}", pytrace=False)
    sim = await run_hold_twin(HOLD_TWINS[scenario], f"{redis_prefix}-sim", pg_dsn,
                              tmp / "sim", monkeypatch)
    diff = differences(real.per_role(), sim.per_role())
    assert diff == "", f"{scenario}: real Asterisk | simulator:\n{diff}"


async def hold_rows(h: AcdRun, call_id: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    row = dict(await h.pg.fetchrow("SELECT * FROM calls WHERE call_id=$1", call_id))
    events = await h.pg.fetch(
        "SELECT event, detail->>'by' AS by FROM queue_events WHERE call_id=$1 "
        "AND event IN ('hold', 'unhold') ORDER BY at, event_id", call_id)
    return row, [(r["event"], r["by"]) for r in events]


@pytest.mark.parametrize("mutes", [True, False], ids=["acd", "without_the_mute"])
async def test_hold_and_unhold_from_the_api(
        asterisk: AsteriskInstance, rest: AriProbe, ears: AriProbe, acd: Starter,  # noqa: F811
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory, redis_prefix: str,
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutes: bool) -> None:
    """`without_the_mute`: what Asterisk itself gives the agent of a caller with music in
    the mixing bridge when acd does not mute the caller: the caller's voice (why acd
    mutes them)."""
    speaking_caller(monkeypatch)
    if not mutes:
        async def no_mute(self: AriClient, cid: str, direction: str = "both") -> None:
            return None
        monkeypatch.setattr(AriClient, "mute", no_mute)
        monkeypatch.setattr(AriClient, "unmute", no_mute)
    # a1's phone speaks 4.7 s from its answer and hangs up after 16 s; the caller
    # keys "2" and, 9 s later, speaks 4.7 s.
    phones = sipp_agents(ring=0.3, talk=16.0, behaviours=("answer",))
    async with acd() as h:
        call = sipp_caller(dtmf=[*PRESS_SALES, (9.0, "0")], hold=30.0)
        await h.wait_agent("a1", "on_call", timeout=20)
        t0 = time.monotonic()
        assert h.app.calls is not None and h.app.control is not None
        [state] = h.app.calls.calls.values()
        caller, agent = state.channel_id, state.connected
        assert agent is not None
        caller_ears = await listen(ears, caller)
        agent_ears = await listen(ears, agent)
        began = time.monotonic()        # both recordings run from here (± a few ms)

        async def ask(move: str) -> tuple[float, float]:
            a = time.monotonic()
            reply = await h.app.control.ask(state.call_id, move, {}, by="agent:a1")  # type: ignore[union-attr]
            assert reply.ok, reply
            return a - began, time.monotonic() - began

        # 1. The agent speaks (their phone's pcap): held, the caller hears music;
        # resumed, the agent again.
        await asyncio.sleep(max(0.0, t0 + 0.2 - time.monotonic()))
        h1 = await ask("hold")
        await asyncio.sleep(1.8)
        u1 = await ask("unhold")
        await asyncio.sleep(1.0)
        # 2. The caller speaks: held, the agent hears nothing of them; resumed, the
        # caller's voice again.
        await call.wait_marker(SPEAKS, timeout=20)
        h2 = await ask("hold")
        await asyncio.sleep(2.0)
        u2 = await ask("unhold")
        await asyncio.sleep(1.2)
        end = time.monotonic() - began
        await stop_listening(ears, *caller_ears)
        await stop_listening(ears, *agent_ears)

        result = await call.wait(timeout=30)        # the agent's phone hangs up
        assert result.ok and "acd:remote-bye" in result.markers, result
        call_id = await h.finished()
        await h.wait_agent("a1", "available", timeout=10)   # wrap-up 1 s
        row, events = await hold_rows(h, call_id)
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    assert [c for c in await rest.channels() if c["name"].startswith("Snoop/")] == []

    spool = asterisk.root / "spool" / "recording"
    hears_caller = _rms_per_slice(spool / f"{caller_ears[1]}.wav", [
        (h1[1] + 0.3, u1[0] - 0.1), (u1[1] + 0.2, min(u1[1] + 1.0, h2[0]))])
    hears_agent = _rms_per_slice(spool / f"{agent_ears[1]}.wav", [
        (h2[1] + 0.3, u2[0] - 0.1), (u2[1] + 0.2, min(end - 0.1, u2[1] + 1.2))])
    print(f"the caller hears: held {hears_caller[0]:.0f}, after {hears_caller[1]:.0f}; "
          f"the agent hears: held {hears_agent[0]:.0f}, after {hears_agent[1]:.0f}")
    music, agent_voice = hears_caller
    silence, caller_voice = hears_agent
    assert music > 3000                       # the shipped class's tone (~6950)
    assert agent_voice > 300                  # the agent is heard again after the hold
    # ... and it is speech, not the tone: the tone's level is steady, speech's is not.
    steady = _unsteadiness(spool / f"{caller_ears[1]}.wav",
                           [(h1[1] + 0.3, u1[0] - 0.1), (u1[1] + 0.2, u1[1] + 1.0)])
    print(f"unsteadiness: held {steady[0]:.2f}, after {steady[1]:.2f}")
    assert steady[0] < 0.2 < steady[1]
    assert caller_voice > 300                 # the caller is heard again after the hold
    if mutes:
        assert silence < caller_voice / 10    # ... and was not while held
    else:
        assert silence > 300                  # music on the caller does not silence them
        return

    held_ms = ((u1[0] + u1[1]) / 2 - (h1[0] + h1[1]) / 2
               + (u2[0] + u2[1]) / 2 - (h2[0] + h2[1]) / 2) * 1000
    print(f"hold_ms {row['hold_ms']} for {held_ms:.0f} ms held; talk_ms {row['talk_ms']}")
    assert abs(row["hold_ms"] - held_ms) <= TOLERANCE_MS, (row["hold_ms"], held_ms)
    talk = (row["ended_at"] - row["answered_at"]).total_seconds() * 1000 - row["hold_ms"]
    assert abs(row["talk_ms"] - talk) <= 50, (row["talk_ms"], talk)
    assert events == [("hold", "desktop"), ("unhold", "desktop")] * 2
    await same_as_simulator("hold_and_unhold_from_the_api", h, redis_prefix, pg_dsn,
                            tmp_path, monkeypatch)


def _unsteadiness(path: Path, slices: list[tuple[float, float]]) -> list[float]:
    """How much the level moves within each slice: the spread of 50 ms RMS windows
    over their mean (a tone ~0, speech well above)."""
    out = []
    for a, b in slices:
        steps = [a + i * 0.05 for i in range(int((b - a) / 0.05))]
        levels = _rms_per_slice(path, [(x, x + 0.05) for x in steps])
        mean = sum(levels) / max(1, len(levels))
        spread = (sum((x - mean) ** 2 for x in levels) / max(1, len(levels))) ** 0.5
        out.append(spread / mean if mean else 0.0)
    return out


def hold_phone(workdir: Path, port: int, **times: float) -> Sipp:
    """sip_test/agent_hold.xml at SOFTPHONE_IP:port, started."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = (SIP_TEST / "agent_hold.xml").read_text()
    for marker, seconds in times.items():
        text = _set_timeout(text, marker, seconds)
    xml = workdir / "phone_hold.xml"
    xml.write_text(text)
    args = ["-sf", str(xml), "-i", SOFTPHONE_IP, "-p", str(port), "-mi", SOFTPHONE_IP,
            "-mp", str(free_udp_pair(SOFTPHONE_IP)), "-d", "300", "-m", "1"]
    return Sipp(name=xml.stem, workdir=workdir, args=args).start()


async def register(asterisk: AsteriskInstance, workdir: Path, aor: str, port: int,
                   expires: int) -> None:
    """REGISTER `aor` from SOFTPHONE_IP:port (the shipped endpoints rewrite the contact
    to the REGISTER's source, so it is sent from where the phone will answer), or
    every contact removed (expires 0)."""
    reg = sipp.register(workdir, f"register-{expires}", asterisk.sip_host, asterisk.sip_port,
                        aor=aor, password=asterisk.agent_password(aor), ip=SOFTPHONE_IP,
                        expires=expires)
    if expires:
        reg.args[reg.args.index("-p") + 1] = str(port)
        reg.args[reg.args.index("contact") + 1] = f"<sip:{aor}@{SOFTPHONE_IP}:{port}>"
    assert (await reg.start().wait(20)).ok, reg.result


async def test_hold_and_unhold_from_the_phone(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,  # noqa: F811
        sipp_caller: CallerFactory, redis_prefix: str, pg_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "sipp"
    # Answers after 0.3 s, holds 2 s later for 3 s, hangs up 1.5 s after that.
    port = free_port(SOFTPHONE_IP, socket.SOCK_DGRAM)
    await register(asterisk, workdir, "agent285", port, 120)
    phone = hold_phone(workdir, port, hold_ms=2.0, unhold_ms=3.0, talk_ms=1.5)
    try:
        async with acd(endpoints=("PJSIP/agent285", "PJSIP/agent101")) as h:
            assert h.app.agents is not None
            await h.app.agents.set_break("a2", "meeting")
            await h.wait_for(_registered(h), "agent285 to be registered")
            call = sipp_caller(dtmf=PRESS_SALES, hold=30.0)
            await h.wait_agent("a1", "on_call", timeout=20)
            await phone.wait_marker("acd:phone-held", timeout=15)
            held_at = time.monotonic()
            await h.wait_for(lambda: _held_by(h) == "phone", "acd to see the phone's hold")
            await phone.wait_marker("acd:phone-unheld", timeout=15)
            unheld_at = time.monotonic()
            result = await call.wait(timeout=30)
            assert result.ok and "acd:remote-bye" in result.markers, result
            call_id = await h.finished()
            row, events = await hold_rows(h, call_id)
            await h.wait_agent("a1", "available", timeout=10)
            await h.assert_acd_clean()
        assert (await phone.wait(timeout=15)).ok
        await assert_hygiene(asterisk, rest, {})
    finally:
        phone.stop()
        await register(asterisk, workdir, "agent285", 0, 0)
    assert events == [("hold", "phone"), ("unhold", "phone")]
    print(f"hold_ms {row['hold_ms']} for {(unheld_at - held_at) * 1000:.0f} ms between "
          f"the phone's markers; talk_ms {row['talk_ms']}")
    # The SIPp markers are read by polling (50 ms): the phone's own times are the
    # reference, 3 s between its re-INVITEs.
    assert abs(row["hold_ms"] - (unheld_at - held_at) * 1000) <= TOLERANCE_MS, row["hold_ms"]
    assert abs(row["hold_ms"] - 3000) <= TOLERANCE_MS, row["hold_ms"]
    await same_as_simulator("hold_and_unhold_from_the_phone", h, redis_prefix, pg_dsn,
                            tmp_path, monkeypatch)


def _registered(h: AcdRun) -> Callable[[], Any]:
    async def check() -> bool:
        assert h.app.agents is not None
        return (await h.app.agents.get("a1")).phone == "registered"
    return check


def _held_by(h: AcdRun) -> str | None:
    assert h.app.calls is not None
    states = list(h.app.calls.calls.values())
    return states[0].held_by if states else None

