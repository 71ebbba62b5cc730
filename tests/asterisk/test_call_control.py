"""Call control on the real Asterisk (issue 17), raw ARI, no acd: hold and unhold from a
phone and from ARI, a REFER from an agent's phone (blind, and attended with Replaces)
turned into ChannelTransfer by PJSIP_TRANSFER_HANDLING(ari-only) (config/asterisk/
pjsip_wizard.conf) and answered with transfer_progress, snoops (listen, whisper)
bridged to a supervisor, and a bridge recording paused and resumed.

The scenarios are tests/asterisk/control_script.py's; with ACD_RECORD_TRACES=1 each
test keeps the role sequences it saw (traces/control_<scenario>.jsonl), which
tests/sim/test_call_control_traces.py holds the simulator to; otherwise it compares
what it saw with the kept ones.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.asterisk import control_scenarios as sc
from tests.asterisk import control_script as cs
from tests.asterisk import sipp
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import SOFTPHONE_IP, AsteriskInstance, free_port, free_udp_pair
from tests.asterisk.sipp import SIP_TEST, Sipp, _set_timeout

pytestmark = pytest.mark.asterisk

# agent285-288 have no static contact (harness.REGISTERING): a scenario phone is
# dialled at its own address, PJSIP/<endpoint>/<uri>.
PHONE_AGENT = "agent285"
MARKERS = {"held": "acd:phone-held", "unheld": "acd:phone-unheld",
           "refer-accepted": "acd:refer-accepted", "refer-done": "acd:refer-done"}


class Real:
    """control_script.Driver on the real Asterisk: AriProbe, SIPp caller and phone."""

    def __init__(self, probe: AriProbe, sipp_caller: CallerFactory) -> None:
        self.probe, self.sipp_caller = probe, sipp_caller
        self.events = probe.events
        self.phone: Sipp | None = None

    async def request(self, method: str, path: str, **params: str) -> tuple[int, Any]:
        return await self.probe.request(method, path, **params)

    async def wait_event(self, predicate: cs.Predicate, timeout: float = 10.0,
                         start: int = 0) -> cs.Event:
        return await self.probe.wait_event(predicate, timeout=timeout, start=start)

    async def caller(self, hangs_up_after: float | None = None) -> str:
        start = len(self.events)
        call = self.sipp_caller(dtmf=[], hold=hangs_up_after or 60.0)
        ev = await self.probe.wait_event(cs.of("StasisStart"), start=start)
        self._caller = call
        return str(ev["channel"]["id"])

    async def phone_event(self, what: str) -> None:
        assert self.phone is not None
        if what == "hung-up":
            assert (await self.phone.wait(timeout=15)).ok, self.phone.markers()
            return
        await self.phone.wait_marker(MARKERS[what], timeout=15)

    def start_phone(self, workdir: Path, scenario: str, keys: dict[str, str] | None = None,
                    **times: float) -> str:
        """Start the one-call SIPp phone; the endpoint that dials it."""
        workdir.mkdir(parents=True, exist_ok=True)
        text = (SIP_TEST / scenario).read_text()
        for marker, seconds in times.items():
            text = _set_timeout(text, marker, seconds)
        xml = workdir / f"phone_{scenario}"
        xml.write_text(text)
        port = free_port(SOFTPHONE_IP, socket.SOCK_DGRAM)
        args = ["-sf", str(xml), "-i", SOFTPHONE_IP, "-p", str(port), "-mi", SOFTPHONE_IP,
                "-mp", str(free_udp_pair(SOFTPHONE_IP)), "-d", "300", "-m", "1"]
        for k, v in (keys or {}).items():
            args += ["-key", k, v]
        self.phone = Sipp(name=xml.stem, workdir=workdir, args=args).start()
        return f"PJSIP/{PHONE_AGENT}/sip:{PHONE_AGENT}@{SOFTPHONE_IP}:{port}"

    def notifies(self) -> list[str]:
        assert self.phone is not None
        return [m.removeprefix("acd:notify-") for m in self.phone.markers()
                if m.startswith("acd:notify-")]


def compare_or_keep(scenario: str, s: cs.Script) -> None:
    path = cs.TRACES / f"control_{scenario}.jsonl"
    seqs = s.sequences()
    if os.environ.get("ACD_RECORD_TRACES") == "1" or not path.exists():
        cs.save(seqs, s.answers, path)
        return
    kept_seqs, kept_answers = cs.load(path)
    assert cs.differences(kept_seqs, seqs) == ""
    assert {k: v[0] for k, v in s.answers.items()} == {k: v[0] for k, v in kept_answers.items()}
    if "phone_notifies" in kept_answers:
        assert s.answers["phone_notifies"] == kept_answers["phone_notifies"]


async def settled(probe: AriProbe) -> None:
    """Nothing left: no channel (snoops included) and no bridge."""
    assert await probe.wait_no_channels(timeout=10) == []
    assert await probe.bridges() == []


@pytest.fixture
async def real(ari_probe: AriProbe, sipp_caller: CallerFactory) -> AsyncIterator[Real]:
    r = Real(ari_probe, sipp_caller)
    yield r
    if r.phone is not None:
        r.phone.stop()
    # A failed test leaves no channel or bridge to the next one.
    for chan in await ari_probe.channels():
        await ari_probe.request("DELETE", f"/channels/{chan['id']}")
    for bridge in await ari_probe.bridges():
        await ari_probe.request("DELETE", f"/bridges/{bridge['id']}")


async def test_hold_and_unhold_from_the_phone(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real, tmp_path: Path) -> None:
    await ari_probe.connect()
    endpoint = real.start_phone(tmp_path / "sipp", "agent_hold.xml",
                                hold_ms=1.5, unhold_ms=1.5, talk_ms=1.0)
    s = cs.Script(real)
    await sc.hold_from_phone(s, endpoint)
    await settled(ari_probe)
    seqs = s.sequences()
    assert "ChannelHold" in seqs["agent"] and "ChannelUnhold" in seqs["agent"]
    compare_or_keep("hold_from_phone", s)


async def test_hold_and_unhold_from_ari(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    await sc.hold_from_ari(s, "PJSIP/agent101", asyncio.sleep)
    await settled(ari_probe)
    seqs = s.sequences()
    # ARI's hold raises no ChannelHold / ChannelUnhold: only a phone's re-INVITE does.
    assert not any(k.startswith(("ChannelHold", "ChannelUnhold"))
                   for ks in seqs.values() for k in ks)
    compare_or_keep("hold_from_ari", s)


async def test_blind_refer_from_the_agent_phone(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory, tmp_path: Path) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    endpoint = real.start_phone(
        tmp_path / "sipp", "agent_refer.xml", refer_ms=1.5, talk_ms=0.5,
        keys={"refer_to": f"<sip:102@{asterisk.sip_host}:{asterisk.sip_port}>"})
    s = cs.Script(real)
    event = await sc.blind_refer(s, endpoint, "PJSIP/agent102")
    await settled(ari_probe)
    dest = event["refer_to"]["requested_destination"]
    assert dest.get("destination") == "102"
    by = event["referred_by"]
    assert s.roles[by["source_channel"]["id"]] == "agent"
    assert s.roles[by["connected_channel"]["id"]] == "caller"
    assert s.roles[by["bridge"]["id"]] == "bridge"
    assert real.notifies()[0] == "100" and real.notifies()[-1] == "200"
    # What the phone was told (each NOTIFY's sipfrag status), compared like an answer.
    s.answers["phone_notifies"] = (0, real.notifies())
    compare_or_keep("blind_refer", s)


@pytest.mark.parametrize("drop_first", [False, True],
                         ids=["consult_bridge_dropped_last", "consult_bridge_dropped_first"])
async def test_attended_refer_with_replaces_from_the_agent_phone(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory, tmp_path: Path, drop_first: bool) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    consult = await sc.consult(s, "PJSIP/agent101", "PJSIP/agent102")
    call_id = await s.var(consult.leg, "CHANNEL(pjsip,call-id)")
    local_tag = await s.var(consult.leg, "CHANNEL(pjsip,local_tag)")
    remote_tag = await s.var(consult.leg, "CHANNEL(pjsip,remote_tag)")
    # Replaces names Asterisk's dialog: to-tag is Asterisk's own tag, from-tag the phone's.
    replaces = f"{call_id}%3Bto-tag%3D{local_tag}%3Bfrom-tag%3D{remote_tag}"
    endpoint = real.start_phone(
        tmp_path / "sipp", "agent_refer.xml", refer_ms=1.5, talk_ms=0.5,
        keys={"refer_to":
              f"<sip:101@{asterisk.sip_host}:{asterisk.sip_port}?Replaces={replaces}>"})
    event = await sc.attended_refer(s, endpoint, consult, drop_first)
    await settled(ari_probe)
    await asyncio.sleep(1.0)     # a late BridgeDestroyed, if any, has come by now
    refer_to = event["refer_to"]
    assert refer_to["requested_destination"].get("protocol_id") == call_id
    assert s.roles[refer_to["destination_channel"]["id"]] == "consult"
    assert s.roles[refer_to["connected_channel"]["id"]] == "party"
    assert s.roles[refer_to["bridge"]["id"]] == "consult_bridge"
    assert s.roles[event["referred_by"]["source_channel"]["id"]] == "agent"
    assert real.notifies()[-1] == "200"
    # What the phone was told (each NOTIFY's sipfrag status), compared like an answer.
    s.answers["phone_notifies"] = (0, real.notifies())
    compare_or_keep("attended_refer" + ("_consult_bridge_dropped_first" if drop_first else ""),
                    s)


async def test_snoops_and_a_paused_bridge_recording(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    name = f"control-{uuid.uuid4()}"
    t = await sc.monitor_and_record(s, "PJSIP/agent101", "PJSIP/agent102", name,
                                    time.monotonic, asyncio.sleep)
    await settled(ari_probe)
    wav = asterisk.root / "spool" / "recording" / f"{name}.wav"
    with wave.open(str(wav)) as w:
        length = w.getnframes() / w.getframerate()
    # The file holds the recorded time minus the paused interval.
    print(f"recording: file {length:.3f} s, recorded {t.recorded:.3f} s, "
          f"paused {t.paused:.3f} s")
    assert abs(length - (t.recorded - t.paused)) < 0.3, (length, t)
    compare_or_keep("monitor_and_record", s)


@pytest.mark.parametrize(("number", "exten"), [("8100", "100"), ("8555", "555")])
async def test_an_agent_phone_reaches_acds_numbers_with_8(
        asterisk: AsteriskInstance, ari_probe: AriProbe, tmp_path: Path, number: str,
        exten: str) -> None:
    """[agents]: 8 + a number acd answers enters Stasis(acd) as a caller would, with the
    number without its 8. (PJSIP_TRANSFER_HANDLING cannot be read back: ARI answers
    500 for it; the REFER tests above show ari-only on acd's legs.)"""
    await ari_probe.connect()
    phone = sipp.phone_call(tmp_path / "sipp", "dialler", asterisk.sip_host, asterisk.sip_port,
                            number=number, agent="agent286",
                            password=asterisk.agent_password("agent286"), ip=SOFTPHONE_IP,
                            hold=1.0).start()
    try:
        ev = await ari_probe.wait_event(cs.of("StasisStart"), timeout=15)
        cid = str(ev["channel"]["id"])
        assert ev["channel"]["name"].startswith("PJSIP/agent286-")
        assert ev["channel"]["dialplan"]["exten"] == exten
        assert ev["channel"]["dialplan"]["context"] == "from-pstn"
        assert (await ari_probe.request("POST", f"/channels/{cid}/answer"))[0] == 204
        await phone.wait_marker("acd:phone-answered", 10)
        assert (await ari_probe.request("DELETE", f"/channels/{cid}"))[0] == 204
        assert await ari_probe.wait_no_channels() == []
    finally:
        phone.stop()



async def test_a_bridge_deleted_with_a_member(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    await sc.bridge_deleted_with_a_member(s, "PJSIP/agent101", "PJSIP/agent102")
    await settled(ari_probe)
    await asyncio.sleep(1.0)     # a BridgeDestroyed, if any, has come by now
    compare_or_keep("bridge_deleted_with_a_member", s)


@pytest.mark.parametrize(("target", "timeout", "state"), [
    ("PJSIP/agent290", "10", "channel_declined"),     # busy (486)
    ("PJSIP/agent280", "2", "channel_unavailable"),   # rings, no answer
], ids=["busy", "no_answer"])
async def test_blind_refer_to_a_target_that_fails(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory, tmp_path: Path, target: str, timeout: str,
        state: str) -> None:
    sipp_agents(ring=0.3, behaviours=("answer", "noanswer", "busy"))
    await ari_probe.connect()
    endpoint = real.start_phone(
        tmp_path / "sipp", "agent_refer.xml", refer_ms=1.5, talk_ms=0.5,
        keys={"refer_to": f"<sip:{target[-3:]}@{asterisk.sip_host}:{asterisk.sip_port}>"})
    s = cs.Script(real)
    await sc.blind_refer_target_fails(s, endpoint, target, timeout, state)
    await settled(ari_probe)
    s.answers["phone_notifies"] = (0, real.notifies())
    compare_or_keep(f"blind_refer_{state}", s)


def _rms_per_slice(path: Path, slices: list[tuple[float, float]]) -> list[float]:
    """RMS of 16-bit mono samples in each (from, to) seconds slice of a wav."""
    import array
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    out = []
    for a, b in slices:
        part = samples[int(a * rate):int(b * rate)]
        out.append((sum(x * x for x in part) / max(1, len(part))) ** 0.5)
    return out


async def hear(s: cs.Script, caller: str, prefix: str) -> tuple[str, str]:
    """Record what reaches `caller`'s phone (a snoop spy=out, in the script's trace):
    (the snoop channel, the recording's name)."""
    spy = await s.ok("POST", f"/channels/{caller}/snoop", 200, spy="out", app="acd",
                     appArgs="snoop")
    snoop = s.name(str(spy["id"]), "snoop")
    await s.d.wait_event(cs.of("StasisStart", snoop))
    name = f"{prefix}-{uuid.uuid4()}"
    await s.ok("POST", f"/channels/{snoop}/record", 201, name=name, format="wav")
    await s.d.wait_event(cs.of("RecordingStarted"))
    return snoop, name


async def stop_hearing(s: cs.Script, name: str) -> None:
    await s.ok("POST", f"/recordings/live/{name}/stop")
    await s.d.wait_event(cs.of("RecordingFinished"))


async def test_what_the_caller_hears_on_hold(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory) -> None:
    """What reaches the caller (a snoop spy=out on the caller, recorded) while: nothing
    happens, ARI holds the agent's leg, ARI holds the caller's leg, the caller gets
    /moh in the call's bridge, and the caller sits in a holding bridge with /moh.
    The music is the shipped class (a tone); the phones' audio ended before."""
    sipp_agents(ring=0.2, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    caller = await s.answered_caller()
    agent = await s.leg("PJSIP/agent101", "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await asyncio.sleep(5.5)          # both SIPp pcaps (4.7 s of audio) are over
    snoop, name = await hear(s, caller, "hears")
    t0 = time.monotonic()
    marks: dict[str, tuple[float, float]] = {}

    async def segment(label: str, on: tuple[str, str], off: tuple[str, str]) -> None:
        await s.ok(on[0], on[1])
        a = time.monotonic() - t0
        await asyncio.sleep(2.0)
        marks[label] = (a + 0.3, time.monotonic() - t0 - 0.1)
        await s.ok(off[0], off[1])
        await asyncio.sleep(0.7)

    await asyncio.sleep(2.0)
    marks["nothing"] = (0.3, time.monotonic() - t0 - 0.1)
    await segment("ari_hold_agent", ("POST", f"/channels/{agent}/hold"),
                  ("DELETE", f"/channels/{agent}/hold"))
    await segment("ari_hold_caller", ("POST", f"/channels/{caller}/hold"),
                  ("DELETE", f"/channels/{caller}/hold"))
    await segment("moh_in_bridge", ("POST", f"/channels/{caller}/moh"),
                  ("DELETE", f"/channels/{caller}/moh"))
    holding = await s.ok("POST", "/bridges", 200, type="holding")
    hid = s.name(str(holding["id"]), "holding")
    await s.ok("POST", f"/bridges/{hid}/moh")
    await s.ok("POST", f"/bridges/{hid}/addChannel", channel=caller)
    a = time.monotonic() - t0
    await asyncio.sleep(2.0)
    marks["holding_bridge"] = (a + 0.3, time.monotonic() - t0 - 0.1)
    await s.ok("POST", f"/bridges/{bridge}/addChannel", channel=caller)
    await asyncio.sleep(0.5)
    await stop_hearing(s, name)
    await s.hangup(snoop, agent, caller)
    await s.drop_bridge(bridge)
    await s.ok("DELETE", f"/bridges/{hid}")
    await settled(ari_probe)
    wav = asterisk.root / "spool" / "recording" / f"{name}.wav"
    levels = dict(zip(marks, _rms_per_slice(wav, list(marks.values())), strict=True))
    print("caller hears (RMS):", {k: round(v) for k, v in levels.items()})
    music = levels["holding_bridge"]
    assert music > 3000                                # the tone
    # ARI's hold on the agent's leg silences the agent for the caller: no music.
    assert levels["ari_hold_agent"] < music / 20
    # ARI's hold on the caller's leg plays it music (chan_pjsip starts the class),
    # as does /moh on the caller inside the call's mixing bridge.
    assert levels["ari_hold_caller"] > music / 2
    assert levels["moh_in_bridge"] > music / 2


async def test_the_caller_hears_music_when_the_agent_phone_holds(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real, tmp_path: Path) -> None:
    """The phone's own hold button (re-INVITE sendonly): Asterisk plays the caller the
    music itself; acd has nothing to do but count the time."""
    await ari_probe.connect()
    endpoint = real.start_phone(tmp_path / "sipp", "agent_hold.xml",
                                hold_ms=7.0, unhold_ms=3.0, talk_ms=2.0)
    s = cs.Script(real)
    caller = await s.answered_caller()
    agent = await s.leg(endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    snoop, name = await hear(s, caller, "hears")
    t0 = time.monotonic()
    await s.d.wait_event(cs.of("ChannelHold", agent), timeout=15)
    held = time.monotonic() - t0
    await s.d.wait_event(cs.of("ChannelUnhold", agent), timeout=15)
    unheld = time.monotonic() - t0
    await stop_hearing(s, name)
    await s.d.phone_event("hung-up")
    await s.hangup(snoop, caller)
    await s.drop_bridge(bridge)
    await settled(ari_probe)
    wav = asterisk.root / "spool" / "recording" / f"{name}.wav"
    [level] = _rms_per_slice(wav, [(held + 0.3, unheld - 0.2)])
    print(f"caller hears while the phone holds: RMS {level:.0f}")
    assert level > 3000          # the music class's tone (RMS ~6950 in the test above)


async def test_the_caller_hangs_up_during_a_consult(
        asterisk: AsteriskInstance, ari_probe: AriProbe, real: Real,
        sipp_agents: AgentsFactory) -> None:
    sipp_agents(ring=0.3, behaviours=("answer",))
    await ari_probe.connect()
    s = cs.Script(real)
    await sc.caller_hangs_up_during_a_consult(s, "PJSIP/agent101", "PJSIP/agent102", 6.0)
    await settled(ari_probe)
    await asyncio.sleep(1.0)     # a late BridgeDestroyed, if any, has come by now
    compare_or_keep("caller_hangs_up_during_a_consult", s)
