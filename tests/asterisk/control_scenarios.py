"""The call-control scenarios (issue 17), each a script of raw ARI requests and the
phone's moves, run on the real Asterisk (tests/asterisk/test_call_control.py) and on
the simulator (tests/sim/test_call_control_traces.py) through a
`control_script.Driver`. What each one found is in docs/call-control.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.asterisk.control_script import Event, Script, of


async def hold_from_phone(s: Script, phone_endpoint: str) -> None:
    """The agent's phone holds (re-INVITE sendonly) and unholds (sendrecv), then hangs up."""
    caller = await s.answered_caller()
    agent = await s.leg(phone_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await s.d.phone_event("held")
    await s.d.wait_event(of("ChannelHold", agent))
    await s.d.phone_event("unheld")
    await s.d.wait_event(of("ChannelUnhold", agent))
    await s.d.phone_event("hung-up")
    await s.d.wait_event(of("ChannelDestroyed", agent))
    await s.hangup(caller)
    await s.drop_bridge(bridge)


async def hold_from_ari(s: Script, agent_endpoint: str,
                        sleep: Callable[[float], Any]) -> None:
    """acd holds and unholds each side of a bridged call over ARI."""
    caller = await s.answered_caller()
    agent = await s.leg(agent_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    # No ChannelHold / ChannelUnhold follows these (only a phone's re-INVITE raises
    # them): the requests' 204 is all acd hears.
    await s.probe("hold_unknown", "POST", "/channels/no-such-channel/hold")
    for who in (caller, agent):
        await s.ok("POST", f"/channels/{who}/hold")
        await sleep(0.5)
        await s.ok("DELETE", f"/channels/{who}/hold")
        await sleep(0.3)
    await s.hangup(agent, caller)
    await s.drop_bridge(bridge)


async def blind_refer(s: Script, phone_endpoint: str, target_endpoint: str) -> Event:
    """The agent's phone REFERs the call to a number; acd dials it, swaps it in for the
    agent, and reports success with transfer_progress."""
    caller = await s.answered_caller()
    agent = await s.leg(phone_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await s.d.phone_event("refer-accepted")
    event = await s.d.wait_event(of("ChannelTransfer"))
    await s.probe("progress_bad_state", "POST", f"/channels/{agent}/transfer_progress",
                  states="bogus")
    await s.probe("progress_no_refer", "POST", f"/channels/{caller}/transfer_progress",
                  states="channel_progress")
    await s.ok("POST", f"/channels/{agent}/transfer_progress", states="channel_progress")
    target = await s.leg(target_endpoint, "target", originator=caller)
    await s.ok("POST", f"/bridges/{bridge}/removeChannel", channel=agent)
    await s.d.wait_event(of("ChannelLeftBridge", agent))
    await s.ok("POST", f"/bridges/{bridge}/addChannel", channel=target)
    await s.d.wait_event(of("ChannelEnteredBridge", target))
    await s.ok("POST", f"/channels/{agent}/transfer_progress", states="channel_answered")
    await s.d.phone_event("refer-done")
    await s.d.phone_event("hung-up")
    await s.d.wait_event(of("ChannelDestroyed", agent))
    await s.hangup(target, caller)
    await s.drop_bridge(bridge)
    return event


@dataclass
class Consult:
    party: str      # the consulted target's channel (C)
    leg: str        # the agent's consult leg (D)
    bridge: str


async def consult(s: Script, leg_endpoint: str, party_endpoint: str) -> Consult:
    party = await s.leg(party_endpoint, "party")
    leg = await s.leg(leg_endpoint, "consult")
    return Consult(party, leg, await s.bridge("consult_bridge", party, leg))


async def attended_refer(s: Script, phone_endpoint: str, c: Consult,
                         drop_consult_bridge_first: bool = False) -> Event:
    """The agent's phone REFERs its call with Replaces naming the consult leg; acd moves
    the consulted party into the caller's bridge and drops both agent legs."""
    caller = await s.answered_caller()
    agent = await s.leg(phone_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await s.d.phone_event("refer-accepted")
    event = await s.d.wait_event(of("ChannelTransfer"))
    await s.ok("POST", f"/bridges/{c.bridge}/removeChannel", channel=c.party)
    await s.d.wait_event(of("ChannelLeftBridge", c.party))
    await s.ok("POST", f"/bridges/{bridge}/removeChannel", channel=agent)
    await s.d.wait_event(of("ChannelLeftBridge", agent))
    await s.ok("POST", f"/bridges/{bridge}/addChannel", channel=c.party)
    await s.d.wait_event(of("ChannelEnteredBridge", c.party))
    if drop_consult_bridge_first:
        # With the consult leg still in it: no BridgeDestroyed came (10 s) on the real
        # Asterisk, though the bridge is gone (GET 404).
        await s.ok("DELETE", f"/bridges/{c.bridge}")
        await s.d.wait_event(of("ChannelLeftBridge", c.leg))
        await s.probe_gone("consult_bridge_after_delete", f"/bridges/{c.bridge}")
    await s.ok("POST", f"/channels/{agent}/transfer_progress", states="channel_answered")
    await s.d.phone_event("refer-done")
    await s.hangup(c.leg)
    if not drop_consult_bridge_first:
        await s.drop_bridge(c.bridge)
    await s.d.phone_event("hung-up")
    await s.d.wait_event(of("ChannelDestroyed", agent))
    await s.hangup(c.party, caller)
    await s.drop_bridge(bridge)
    return event


@dataclass
class Timing:
    name: str
    recorded: float = 0.0
    paused: float = 0.0


async def monitor_and_record(s: Script, agent_endpoint: str, supervisor_endpoint: str,
                             name: str, clock: Callable[[], float],
                             sleep: Callable[[float], Any]) -> Timing:
    """A recorded call: the recording paused and resumed; a supervisor listens (snoop
    spy=both), then whispers (a new snoop, spy=both whisper=out, swapped in), then barges
    (into the call's bridge); the recording stops before the end."""
    caller = await s.answered_caller()
    agent = await s.leg(agent_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    t = Timing(name)
    await s.ok("POST", f"/bridges/{bridge}/record", 201, name=name, format="wav",
               ifExists="overwrite")
    await s.d.wait_event(of("RecordingStarted"))
    started = clock()
    await sleep(1.0)
    await s.ok("POST", f"/recordings/live/{name}/pause")
    paused_at = clock()
    await s.probe("live_while_paused", "GET", f"/recordings/live/{name}")
    await s.probe("pause_twice", "POST", f"/recordings/live/{name}/pause")
    await sleep(1.0)
    await s.ok("DELETE", f"/recordings/live/{name}/pause")
    await s.probe("unpause_twice", "DELETE", f"/recordings/live/{name}/pause")
    await s.probe("pause_unknown", "POST", "/recordings/live/no-such-recording/pause")
    t.paused = clock() - paused_at
    status, live = await s.d.request("GET", f"/recordings/live/{name}")
    assert status == 200 and live["state"] == "recording", live
    supervisor = await s.leg(supervisor_endpoint, "supervisor")
    await s.probe("snoop_bad_spy", "POST", f"/channels/{agent}/snoop", spy="sideways",
                  app="acd")
    await s.probe("snoop_nothing", "POST", f"/channels/{agent}/snoop", spy="none",
                  whisper="none", app="acd")
    listen = await s.ok("POST", f"/channels/{agent}/snoop", 200, spy="both", app="acd",
                        appArgs="snoop")
    snoop1 = s.name(str(listen["id"]), "snoop1")
    await s.d.wait_event(of("StasisStart", snoop1))
    monitor = await s.bridge("monitor_bridge", snoop1, supervisor)
    whisper = await s.ok("POST", f"/channels/{agent}/snoop", 200, spy="both", whisper="out",
                         app="acd", appArgs="snoop")
    snoop2 = s.name(str(whisper["id"]), "snoop2")
    await s.d.wait_event(of("StasisStart", snoop2))
    await s.ok("POST", f"/bridges/{monitor}/addChannel", channel=snoop2)
    await s.d.wait_event(of("ChannelEnteredBridge", snoop2))
    await s.hangup(snoop1)
    await s.ok("POST", f"/bridges/{monitor}/removeChannel", channel=supervisor)
    await s.d.wait_event(of("ChannelLeftBridge", supervisor))
    await s.ok("POST", f"/bridges/{bridge}/addChannel", channel=supervisor)
    await s.d.wait_event(of("ChannelEnteredBridge", supervisor))
    await s.hangup(snoop2)
    await s.drop_bridge(monitor)
    await s.ok("POST", f"/recordings/live/{name}/stop")
    t.recorded = clock() - started
    await s.d.wait_event(of("RecordingFinished"))
    await s.probe("stored", "GET", f"/recordings/stored/{name}")
    await s.probe("pause_after_stop", "POST", f"/recordings/live/{name}/pause")
    await s.hangup(supervisor, agent, caller)
    await s.drop_bridge(bridge)
    return t


async def bridge_deleted_with_a_member(s: Script, agent_endpoint: str,
                                       party_endpoint: str) -> None:
    """A bridge destroyed while a channel is still in it (the consult bridge of an
    attended transfer, the monitor bridge): the member leaves, the bridge goes."""
    caller = await s.answered_caller()
    agent = await s.leg(agent_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await s.hangup(agent)
    await s.ok("DELETE", f"/bridges/{bridge}")
    await s.d.wait_event(of("ChannelLeftBridge", caller))
    await s.probe_gone("bridge_after_delete", f"/bridges/{bridge}")
    # The consult's moves without a REFER: the party moves to the caller's bridge, the
    # consult bridge is deleted with the consult leg still in it.
    party = await s.leg(party_endpoint, "party")
    leg = await s.leg(agent_endpoint, "consult")
    second = await s.bridge("consult_bridge", party, leg)
    first = await s.bridge("call_bridge", caller)
    await s.ok("POST", f"/bridges/{second}/removeChannel", channel=party)
    await s.d.wait_event(of("ChannelLeftBridge", party))
    await s.ok("POST", f"/bridges/{first}/addChannel", channel=party)
    await s.d.wait_event(of("ChannelEnteredBridge", party), start=len(s.d.events) - 50)
    await s.ok("DELETE", f"/bridges/{second}")
    await s.d.wait_event(of("ChannelLeftBridge", leg), start=len(s.d.events) - 50)
    await s.probe_gone("consult_bridge_after_delete", f"/bridges/{second}")
    await s.hangup(leg, party, caller)
    await s.drop_bridge(first)


async def blind_refer_target_fails(s: Script, phone_endpoint: str, target_endpoint: str,
                                   timeout: str, state: str) -> None:
    """The phone's blind REFER to a target that is busy or does not answer: acd
    reports the failure with `state` and the caller stays with the agent."""
    caller = await s.answered_caller()
    agent = await s.leg(phone_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    await s.d.phone_event("refer-accepted")
    await s.d.wait_event(of("ChannelTransfer"))
    await s.ok("POST", f"/channels/{agent}/transfer_progress", states="channel_progress")
    chan = await s.ok("POST", "/channels/create", 200, endpoint=target_endpoint, app="acd",
                      appArgs="target", originator=caller)
    target = s.name(str(chan["id"]), "target")
    await s.d.wait_event(of("StasisStart", target))
    await s.ok("POST", f"/channels/{target}/dial", timeout=timeout)
    await s.d.wait_event(of("ChannelDestroyed", target), timeout=15)
    await s.ok("POST", f"/channels/{agent}/transfer_progress", states=state)
    await s.d.phone_event("refer-done")
    await s.d.phone_event("hung-up")
    await s.d.wait_event(of("ChannelDestroyed", agent))
    await s.hangup(caller)
    await s.drop_bridge(bridge)


async def caller_hangs_up_during_a_consult(s: Script, agent_endpoint: str,
                                           target_endpoint: str, after: float) -> None:
    """The caller held in the call's own holding bridge (music), the agent consulting a
    target in the call's bridge; the caller hangs up meanwhile."""
    caller = await s.answered_caller(hangs_up_after=after)
    agent = await s.leg(agent_endpoint, "agent", originator=caller)
    bridge = await s.bridge("bridge", caller, agent)
    holding = await s.ok("POST", "/bridges", 200, type="holding")
    hold = s.name(str(holding["id"]), "holding")
    await s.ok("POST", f"/bridges/{hold}/moh")
    await s.ok("POST", f"/bridges/{hold}/addChannel", channel=caller)
    await s.d.wait_event(lambda e: of("ChannelEnteredBridge", caller)(e)
                         and e["bridge"]["id"] == hold)
    target = await s.leg(target_endpoint, "target", originator=caller)
    await s.ok("POST", f"/bridges/{bridge}/addChannel", channel=target)
    await s.d.wait_event(of("ChannelEnteredBridge", target))
    await s.d.wait_event(of("ChannelDestroyed", caller), timeout=30)
    await s.hangup(target, agent)
    await s.drop_bridge(bridge)
    await s.drop_bridge(hold)
