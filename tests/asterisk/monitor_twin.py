"""The monitoring scenarios of test_control_monitor.py (issue 17), written once for
the real Asterisk (SIPp phones) and the simulator (tests/sim/test_monitor_traces.py).

acd runs in-process (acd_runner.running_acd); a supervisor asks for moves on the
call through acd's own move path (`app.control.ask`, as the API does), and after each
move what Asterisk holds is read over ARI (the same REST on both): its bridges'
members and its channels, named by role. The ARI events acd handled are kept per
role as in tests/asterisk/sequences.py, with roles for monitoring's channels:
"supervisor" (the supervisor's phone leg) and "snoop1", "snoop2"... (in the order
acd made them); the kept real ones are tests/asterisk/traces/monitor_<scenario>.jsonl.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.asterisk import sequences as seq
from tests.asterisk.acd_runner import AcdRun, acd_settings, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import TRACES
from tests.asterisk.sim_twin import fresh_simulator, settled

SUPERVISOR = "PJSIP/agent102"  # the supervisor's own phone: a SIPp phone that answers
BUSY_SUPERVISOR = "PJSIP/agent290"  # one that answers 486 Busy
CALLER_HOLD = 12.0  # s the SIPp caller talks after its key, then hangs up


def trace_path(scenario: str) -> Path:
    return TRACES / f"monitor_{scenario}.jsonl"


def role(kind: str, channel: str) -> str:
    if re.search(r"-sv\d+$", channel):
        return "supervisor"
    m = re.search(r"-sn\d+-(\d+)$", channel)
    if m:
        return f"snoop{m.group(1)}"
    return kind


def with_roles(events: Iterable[seq.Event]) -> list[seq.Event]:
    return [(role(kind, ch), typ, ch) for kind, typ, ch in events]


def per_role(run: AcdRun) -> seq.Sequences:
    return seq.sequences(with_roles(run.events))


async def holding(ari: AriProbe) -> list[list[str]]:
    """The non-empty bridges Asterisk holds, each as the sorted roles of its members."""
    names: dict[str, str] = {}
    for ch in await ari.channels():
        cid = str(ch["id"])
        names[cid] = role("agent" if cid.startswith("acd-") else "caller", cid)
    out = []
    for b in await ari.bridges():
        members = sorted(names.get(str(c), "?") for c in b["channels"])
        if members:
            out.append(members)
    return sorted(out)


@dataclass(frozen=True)
class Step:
    move: str
    endpoint: str
    ok: bool
    bridges: tuple[tuple[str, ...], ...]  # what Asterisk holds after the move


SCENARIOS: dict[str, tuple[Step, ...]] = {
    # listen, whisper (a new snoop swapped in), barge (into the call's bridge), listen
    # again (out of it); the caller then hangs up while the supervisor listens.
    "listen_whisper_barge_then_the_call_ends": (
        Step("listen", SUPERVISOR, True, (("agent", "caller"), ("snoop1", "supervisor"))),
        Step("whisper", SUPERVISOR, True, (("agent", "caller"), ("snoop2", "supervisor"))),
        Step("barge", SUPERVISOR, True, (("agent", "caller", "supervisor"),)),
        Step("listen", SUPERVISOR, True, (("agent", "caller"), ("snoop3", "supervisor"))),
    ),
    # The supervisor's phone is busy: the move is refused, the call goes on.
    "a_busy_supervisor_phone": (
        Step("listen", BUSY_SUPERVISOR, False, (("agent", "caller"),)),
    ),
}


async def play(run: AcdRun, ari: AriProbe, steps: tuple[Step, ...]) -> list[Any]:
    """The supervisor's moves on a1's call; what each answered."""
    assert run.app.agents is not None and run.app.control is not None
    await run.wait_agent("a1", "on_call", timeout=20)
    call_id = (await run.app.agents.get("a1")).current_call
    assert call_id
    replies = []
    for step in steps:
        reply = await run.app.control.ask(call_id, step.move, {"endpoint": step.endpoint},
                                          by="supervisor:super", timeout=10)
        assert reply.ok is step.ok, (step, reply)
        replies.append(reply)
        assert tuple(tuple(b) for b in await holding(ari)) == tuple(sorted(step.bridges)), step
    return replies


async def run_on_simulator(scenario: str, redis_prefix: str, pg_dsn: str, tmp: Path,
                           monkeypatch: pytest.MonkeyPatch) -> AcdRun:
    """The scenario on a fresh simulator: the same phones, the same moves."""
    async with fresh_simulator() as (clock, sim, url):
        sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.5)
        sim.set_endpoint("PJSIP", "agent102", "answer", answer_after=0.5)
        settings = acd_settings(url, "acd", "acd", redis_prefix, pg_dsn, tmp)
        async with running_acd(settings, monkeypatch, clock=clock, simulator=sim) as run, \
                AriProbe(url, "acd", "acd") as ari:
            assert run.app.agents is not None
            await run.app.agents.set_break("a2", "meeting")
            ch = sim.place_call("+15551", "100", caller_name="Caller", dtmf=[(2.0, "2")])
            await play(run, ari, SCENARIOS[scenario])
            sim.remote_hangup(ch)
            await run.finished()
            await settled(run, sim)
        return run
