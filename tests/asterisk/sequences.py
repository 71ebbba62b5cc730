"""The ARI event sequences acd handled, per channel role, and their comparison.

A run's events are (kind, type, channel) with kind "caller", "agent" or "other"
(tests/asterisk/acd_runner.py records them). Roles name the channels the same way
on the real Asterisk and on the simulator: "caller"; "agent1", "agent2", ... for the
agent legs in the order acd first heard of them (the order it made them); "other"
for events about no channel (BridgeDestroyed).

Traces are kept as JSON lines {"role", "type", "channel"} under tests/asterisk/traces
(acd_<scenario>.jsonl), written by the real-Asterisk tier and read back by
tests/sim/test_acd_traces.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

Event = tuple[str, str, str]          # kind or role, described type, channel id
Sequences = dict[str, list[str]]      # role -> described event types, in order


def with_roles(events: Iterable[Event]) -> list[Event]:
    """(kind, type, channel) -> (role, type, channel): agent legs numbered by first sight."""
    agents: dict[str, str] = {}
    out: list[Event] = []
    for kind, typ, channel in events:
        role = agents.setdefault(channel, f"agent{len(agents) + 1}") if kind == "agent" else kind
        out.append((role, typ, channel))
    return out


def sequences(events: Iterable[Event]) -> Sequences:
    """Role -> event types, from events already carrying roles."""
    out: Sequences = {}
    for role, typ, _ in events:
        out.setdefault(role, []).append(typ)
    return out


def save_trace(events: Iterable[Event], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"role": r, "type": t, "channel": c}) + "\n"
                            for r, t, c in events))


def load_trace(path: Path) -> list[Event]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(str(r["role"]), str(r["type"]), str(r["channel"])) for r in rows]


# The one race seen in the real sequences: chan_pjsip raises ChannelStateChange(Ringing)
# on the phone's 180 in its own thread, while the dialling thread raises Dial() (the
# dial started) and Dial(RINGING); the state change lands before, between or after
# those two. In tests/asterisk/traces: before, acd_caller_hangs_up_while_agent_rings.jsonl
# lines 7-9; between, acd_agent_does_not_answer_then_another_does.jsonl lines 7-9;
# after, acd_answered_call.jsonl lines 7-9. Compared as if it came right after them.
FLOATING = "ChannelStateChange(Ringing)"
DIAL_START = ("Dial()", "Dial(RINGING)")


def normalise(seq: list[str]) -> list[str]:
    out = list(seq)
    i = 0
    while i < len(out):
        j = i + 1
        if out[i] == FLOATING:
            while j < len(out) and out[j] in DIAL_START:
                j += 1
            out[i:j] = [*out[i + 1:j], FLOATING]
        i = j
    # The 180 can also be published before the dial's start: on a loaded machine the
    # pjsip thread's Dial(RINGING) overtook the dialling thread's Dial() (seen with
    # both cores busy, in acd_invalid_key_then_valid_key and
    # acd_agent_does_not_answer_then_another_does). The two are compared in dial order.
    for k in range(len(out) - 1):
        if out[k] == "Dial(RINGING)" and out[k + 1] == "Dial()":
            out[k], out[k + 1] = "Dial()", "Dial(RINGING)"
    # A phone that refuses at once (SIPp's 486 in acd_busy_agent) races the dial's start
    # the same way: the pjsip thread's ChannelHangupRequest(17) came before the dialling
    # thread's Dial() in the kept trace and after it in a CI run on a loaded machine
    # (2026-12-02). Compared in dial order.
    for k in range(len(out) - 1):
        if out[k].startswith("ChannelHangupRequest(") and out[k + 1] == "Dial()":
            out[k], out[k + 1] = "Dial()", out[k]
    return out


def side_by_side(role: str, real: list[str], sim: list[str]) -> str:
    width = max([len(x) for x in real] + [len("real Asterisk")])
    lines = [f"--- {role}: {'real Asterisk'.ljust(width)} | simulator"]
    for i in range(max(len(real), len(sim))):
        x = real[i] if i < len(real) else ""
        y = sim[i] if i < len(sim) else ""
        mark = "  " if x == y else "!="
        lines.append(f"{mark} {x.ljust(width)} | {y}")
    return "\n".join(lines)


def differences(real: Sequences, sim: Sequences) -> str:
    """Every role whose normalised sequences differ, side by side; "" when none does."""
    out: list[str] = []
    for role in sorted(set(real) | set(sim)):
        a, b = normalise(real.get(role, [])), normalise(sim.get(role, []))
        if a != b:
            out.append(side_by_side(role, a, b))
    return "\n\n".join(out)
