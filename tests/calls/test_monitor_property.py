"""Monitoring against random worlds (issue 17): on a connected call, supervisors ask
for listen / whisper / barge / monitor_stop in any order while the supervisor's
phone rings, answers, is busy or hangs up, snoops start or end, Asterisk refuses
any monitoring request, events are lost, and the caller or the agent hangs up.

Afterwards: every move got exactly one answer; monitoring never ended the call nor
touched its two parties; once the call is over every channel monitoring made is hung
up (or gone), every monitor bridge destroyed, and each supervisor leg and each snoop
written at most once (the supervisor's exactly once).
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Phase
from acd.store.rows import LegRow
from tests.calls.driver import CALLER, CallDriver

ACTIONS = ("listen", "whisper", "barge", "stop", "other_supervisor", "agent_asks",
           "sup_stasis", "sup_answer", "sup_busy", "sup_noanswer", "sup_hangup",
           "snoop_stasis", "snoop_gone", "bridged", "fail", "vanish", "ring_timer",
           "caller_hangup", "agent_hangup")
MODES = ("listen", "whisper", "barge")
FAILS = ("CreateChannel", "Dial", "StartSnoop", "MoveSupervisor", "AddToBridge",
         "CreateBridge")


def act(d: CallDriver, action: str, pick: int,  # noqa: C901 - one line per action
        seen: set[str]) -> None:
    """Do `action`; the monitoring channels the world ends on its own go in `seen`,
    and so do the moves asked ("ask:<request id>")."""
    m = d.state.monitor
    by = f"supervisor:sup{pick % 2}" if action == "other_supervisor" else "supervisor:sup0"
    match action:
        case "listen" | "whisper" | "barge" | "other_supervisor" | "agent_asks":
            mode = MODES[pick % 3] if action in ("other_supervisor", "agent_asks") else action
            who = "agent:a100" if action == "agent_asks" else by
            seen.add(f"ask:r{len(d.history)}")
            d.send(e.Control(f"r{len(d.history)}", mode, {"endpoint": "PJSIP/s1"}, who))
        case "stop":
            seen.add(f"ask:r{len(d.history)}")
            d.send(e.Control(f"r{len(d.history)}", "monitor_stop", {}, by))
        case "sup_stasis" if m is not None:
            d.send(e.MonitorChannel(m.channel, "stasis"))
        case "sup_answer" if m is not None:
            d.send(e.MonitorChannel(m.channel, "answered"))
        case "sup_busy" if m is not None and m.answered_ms is None:
            seen.add(m.channel)
            d.send(e.MonitorChannel(m.channel, "hangup", 17))
            d.send(e.MonitorChannel(m.channel, "seen", 17))
        case "sup_noanswer" if m is not None and m.answered_ms is None:
            seen.add(m.channel)
            d.send(e.MonitorChannel(m.channel, "seen", 19))
        case "sup_hangup" if m is not None and m.answered_ms is not None:
            seen.add(m.channel)
            d.send(e.MonitorChannel(m.channel, "hangup", 16))
            d.send(e.MonitorChannel(m.channel, "seen", 16))
        case "snoop_stasis" if m is not None and m.next_snoop is not None:
            d.send(e.MonitorChannel(m.next_snoop, "stasis"))
        case "snoop_gone" if m is not None and (m.snoop or m.next_snoop):
            seen.add(str(m.snoop or m.next_snoop))
            d.send(e.MonitorChannel(str(m.snoop or m.next_snoop), "left"))
        case "bridged" if m is not None and m.asked is not None:
            target = d.state.bridge_id if m.asked == "barge" else m.bridge
            d.send(e.Bridged(str(target)))
        case "fail":
            kind = getattr(c, FAILS[pick % len(FAILS)])
            done = [x for x in d.last if isinstance(x, kind)]
            if done:
                d.send(e.Failed(done[-1], ("error", "refused", "unreachable", "seen")[pick % 4]))
        case "vanish" if m is not None:
            ch = (m.channel, m.snoop or m.channel)[pick % 2]
            seen.add(ch)
            d.send(e.Vanished(frozenset([ch])))
        case "ring_timer" if m is not None:
            d.send(e.TimerFired(f"monitor:{m.channel}"))
        case "caller_hangup":
            d.run("caller-hangup 16; destroyed leg1 16; caller-destroyed 16")
        case "agent_hangup":
            d.run("hangup-req leg1 16; destroyed leg1 16; caller-destroyed 16")


@settings(max_examples=int(os.environ.get("ACD_PROPERTY_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(hs.lists(hs.tuples(hs.sampled_from(ACTIONS), hs.integers(0, 11)), max_size=40))
def test_monitoring_never_strands_anything(script: list[tuple[str, int]]) -> None:
    d = CallDriver()
    d.run("CONNECTED")
    ended_by_a_party = False
    seen: set[str] = set()
    for action, pick in script:
        if d.phase is Phase.ENDED:
            break
        ended_by_a_party |= action in ("caller_hangup", "agent_hangup")
        act(d, action, pick, seen)
        if not ended_by_a_party:
            # Monitoring alone never ends the call nor touches its two parties.
            assert d.phase is Phase.CONNECTED, d.history
            touched = [x for x in d.last if isinstance(x, c.Hangup)
                       and x.channel_id in (CALLER, d.chan("leg1"))]
            assert not touched, d.last
    if d.phase is not Phase.ENDED:
        d.run("caller-hangup 16; destroyed leg1 16; caller-destroyed 16")
    assert d.phase is Phase.ENDED and d.state.monitor is None

    asked = [x for x in d.history if isinstance(x, c.Reply)]
    ids = Counter(x.request_id for x in asked)
    assert all(n == 1 for n in ids.values()), ids
    assert set(ids) == {x.removeprefix("ask:") for x in seen if x.startswith("ask:")}
    made = {x.channel_id for x in d.history
            if isinstance(x, c.CreateChannel | c.StartSnoop) and x.channel_id != d.chan("leg1")}
    hung = {x.channel_id for x in d.history if isinstance(x, c.Hangup)}
    bridges = {x.bridge_id for x in d.history
               if isinstance(x, c.CreateBridge) and "-mon" in x.bridge_id}
    destroyed = {x.bridge_id for x in d.history if isinstance(x, c.DestroyBridge)}
    # Hung up by acd, or seen on their own (an event said so): nothing left alive.
    assert made <= hung | seen, (made, hung, seen)
    assert bridges <= destroyed
    rows = Counter((r.kind, r.channel_id) for x in d.history if isinstance(x, c.WriteRow)
                   and isinstance(r := x.row, LegRow) and r.kind in ("snoop", "supervisor"))
    assert all(n == 1 for n in rows.values()), rows
    sups = {ch for ch in made if "-sv" in ch}
    assert {ch for kind, ch in rows if kind == "supervisor"} == sups

