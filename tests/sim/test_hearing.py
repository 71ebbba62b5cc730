"""Who hears whom in the simulator (acd/sim/hearing.py): the model the end-to-end
tests of monitoring and hold ask, as a table over bridges and snoops."""

from __future__ import annotations

import pytest

from acd.sim.hearing import hears
from acd.sim.model import Bridge, Channel


def chan(cid: str, kind: str = "outbound") -> Channel:
    return Channel(cid, f"PJSIP/{cid}", "PJSIP", cid, kind, "t")  # type: ignore[arg-type]


def bridge(bid: str, *members: Channel) -> Bridge:
    b = Bridge(bid, "mixing", bid, "t", channels=list(members))
    for m in members:
        m.bridge = b
    return b


def snoop(sid: str, target: Channel, spy: str, whisper: str = "none") -> Channel:
    s = chan(sid, "snoop")
    s.snoop_of, s.spy, s.whisper = target, spy, whisper
    target.snoops.append(s)
    return s


def world(setup: str) -> dict[str, Channel]:
    """caller and agent bridged, a supervisor's leg `sup` set up as `setup` says."""
    caller, agent, sup = chan("caller", "inbound"), chan("agent"), chan("sup")
    bridge("call", caller, agent)
    out = {"caller": caller, "agent": agent, "sup": sup}
    if setup == "listen":
        bridge("mon", sup, snoop("s1", agent, "both"))
    elif setup == "whisper":
        bridge("mon", sup, snoop("s1", agent, "both", "out"))
    elif setup == "barge":
        bridge("call", caller, agent, sup)
    elif setup == "spy_in":
        bridge("mon", sup, snoop("s1", agent, "in"))
    elif setup == "spy_out":
        bridge("mon", sup, snoop("s1", agent, "out"))
    elif setup == "whisper_in":  # fed into what the agent says: the caller hears it
        bridge("mon", sup, snoop("s1", agent, "both", "in"))
    elif setup == "caller_on_moh":
        caller.moh = "default"
    return out


@pytest.mark.parametrize(("setup", "caller", "agent", "sup"), [
    ("alone", {"agent"}, {"caller"}, set()),
    ("listen", {"agent"}, {"caller"}, {"caller", "agent"}),
    ("whisper", {"agent"}, {"caller", "sup"}, {"caller", "agent"}),
    ("barge", {"agent", "sup"}, {"caller", "sup"}, {"caller", "agent"}),
    ("spy_in", {"agent"}, {"caller"}, {"agent"}),
    ("spy_out", {"agent"}, {"caller"}, {"caller"}),
    ("whisper_in", {"agent", "sup"}, {"caller"}, {"caller", "agent"}),
    # music on the caller is a generator: they hear it alone; their voice still goes
    # out (tests/asterisk/test_control_hold.py measured both)
    ("caller_on_moh", {"moh"}, {"caller"}, set()),
])
def test_who_hears_whom(setup: str, caller: set[str], agent: set[str], sup: set[str]) -> None:
    w = world(setup)
    assert set(hears(w["caller"])) == caller
    assert set(hears(w["agent"])) == agent
    assert set(hears(w["sup"])) == sup


def test_a_snoop_whose_target_is_gone_carries_nothing() -> None:
    w = world("listen")
    w["agent"].phase = "gone"
    assert hears(w["sup"]) == []
