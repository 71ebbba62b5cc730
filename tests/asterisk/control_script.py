"""What the call-control scenarios (issue 17, control_scenarios.py) run on, and how
their runs on the real Asterisk and on the simulator are compared role by role.

A scenario drives raw ARI through a `Driver`: `Real` (tests/asterisk/
test_call_control.py: AriProbe and SIPp phones) or the simulator's (tests/sim/
test_call_control_traces.py). The phone's own moves (hold, unhold, REFER) are the
SIPp scenarios sip_test/agent_hold.xml and agent_refer.xml on the real side, and
acd/sim's phone methods on the other; the scenario only waits for them
(`phone_event`). Each channel and bridge gets a role as the scenario makes it
("caller", "agent", "target", "consult", "snoop1", "supervisor", "bridge", ...);
`sequences` turns the events into role -> event keys.

Kept real runs: tests/asterisk/traces/control_<scenario>.jsonl, one {"role", "key"}
line per event and one {"answer", "status", "body"} line per probed request
(written by the real tier with ACD_RECORD_TRACES=1).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

TRACES = Path(__file__).resolve().parent / "traces"
Event = dict[str, Any]
Predicate = Callable[[Event], bool]

# Asterisk's noise around every call (dialplan steps, connected line, variables other
# than Stasis's status), left out of the comparison.
NOISE_TYPES = {"ChannelDialplan", "ChannelConnectedLine", "ChannelCallerId"}


class Driver(Protocol):
    events: list[Event]

    async def request(self, method: str, path: str, **params: str) -> tuple[int, Any]: ...

    async def wait_event(self, predicate: Predicate, timeout: float = 10.0,
                         start: int = 0) -> Event: ...

    async def caller(self, hangs_up_after: float | None = None) -> str:
        """A new caller in Stasis (not answered yet); its channel id. With
        `hangs_up_after`, the caller hangs up that many seconds into the call."""
        ...

    async def phone_event(self, what: str) -> None:
        """Wait for (real) or make (simulator) the scripted phone's move `what`:
        "held", "unheld", "refer-accepted", "refer-done", "hung-up"."""
        ...


def of(kind: str, channel: str | None = None) -> Predicate:
    def match(e: Event) -> bool:
        if e.get("type") != kind:
            return False
        if channel is None:
            return True
        chan = e.get("channel") or e.get("peer") or {}
        return chan.get("id") == channel
    return match


def key(e: Event) -> str | None:
    """What is compared of one event; None for noise."""
    t = str(e["type"])
    if t in NOISE_TYPES:
        return None
    if t == "ChannelVarset":
        return None if e.get("variable") != "STASISSTATUS" else f"{t}:{e.get('value')}"
    if t == "Dial":
        return f"Dial:{e.get('dialstatus')}"
    if t == "ChannelStateChange":
        return f"{t}:{e['channel']['state']}"
    if t in ("ChannelHangupRequest", "ChannelDestroyed"):
        return f"{t}:{e.get('cause', '-')}"
    if t.startswith(("Playback", "Recording")):
        obj = e.get("playback") or e.get("recording") or {}
        return f"{t}:{obj.get('state')}"
    if t == "ChannelTransfer":
        # One when the REFER arrives (no state), then one echoing each
        # transfer_progress the app sends (state = what it sent).
        dest = e["refer_to"]["requested_destination"]
        kind = "attended" if dest.get("protocol_id") else "blind"
        return f"{t}:{kind}:{e.get('state', '-')}"
    return t


def about(e: Event) -> list[str]:
    """The ids (channels, bridges, recordings' targets) an event is about."""
    out = []
    for k in ("channel", "peer", "bridge"):
        if isinstance(e.get(k), dict):
            out.append(str(e[k]["id"]))
    rec = e.get("recording") or e.get("playback")
    if isinstance(rec, dict):
        out.append(str(rec.get("target_uri", "")).partition(":")[2])
    if e.get("type") == "ChannelTransfer":
        out.append(str(e["referred_by"]["source_channel"]["id"]))
    return out


RACING = ("Dial:", "ChannelStateChange:Ringing", "Dial:RINGING")


def canonical(keys: list[str]) -> list[str]:
    """chan_pjsip raises Ringing and Dial RINGING in its own thread while the dialling
    thread raises Dial() (tests/asterisk/sequences.py): any run of the three is put
    in one order."""
    out: list[str] = []
    i = 0
    while i < len(keys):
        j = i
        while j < len(keys) and keys[j] in RACING:
            j += 1
        if j > i:
            out += sorted(keys[i:j], key=RACING.index)
            i = j
        else:
            out.append(keys[i])
            i += 1
    return out


def sequences(events: Iterable[Event], roles: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in events:
        k = key(e)
        if k is None:
            continue
        for ident in about(e):
            if ident in roles:
                out.setdefault(roles[ident], []).append(k)
                break
    return {r: canonical(v) for r, v in out.items()}


def save(seqs: dict[str, list[str]], answers: dict[str, tuple[int, Any]], path: Path) -> None:
    """Role sequences as {"role", "key"} lines, then probed answers as {"answer",
    "status", "body"} lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"role": r, "key": k} for r, ks in sorted(seqs.items()) for k in ks]
    rows += [{"answer": a, "status": s, "body": b} for a, (s, b) in sorted(answers.items())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def load(path: Path) -> tuple[dict[str, list[str]], dict[str, tuple[int, Any]]]:
    seqs: dict[str, list[str]] = {}
    answers: dict[str, tuple[int, Any]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "answer" in row:
            answers[str(row["answer"])] = (int(row["status"]), row["body"])
        else:
            seqs.setdefault(str(row["role"]), []).append(str(row["key"]))
    return seqs, answers


def differences(real: dict[str, list[str]], sim: dict[str, list[str]]) -> str:
    lines = []
    for role in sorted(set(real) | set(sim)):
        a, b = canonical(real.get(role, [])), canonical(sim.get(role, []))
        if a != b:
            lines.append(f"--- {role}")
            for i in range(max(len(a), len(b))):
                x = a[i] if i < len(a) else ""
                y = b[i] if i < len(b) else ""
                lines.append(f"{'  ' if x == y else '!='} {x:40} | {y}")
    return "\n".join(lines)


@dataclass
class Script:
    """One scenario's run: the driver and the roles it gave."""

    d: Driver
    roles: dict[str, str] = field(default_factory=dict)
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def name(self, ident: str, role: str) -> str:
        self.roles[ident] = role
        return ident

    async def ok(self, method: str, path: str, want: int = 204, **params: str) -> Any:
        status, body = await self.d.request(method, path, **params)
        assert status == want, f"{method} {path} {params}: {status} {body}"
        return body

    async def probe(self, label: str, method: str, path: str, **params: str) -> None:
        """A request whose answer is the finding: kept under `label`."""
        status, body = await self.d.request(method, path, **params)
        self.answers[label] = (status, body)

    async def probe_gone(self, label: str, path: str, within: float = 2.0) -> None:
        """GET `path` until it answers 404 (for at most `within` s), kept under `label`:
        a real Asterisk may still answer 200 for a moment after a DELETE it accepted
        (CI saw a bridge deleted with a member still there a few ms later)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            status, body = await self.d.request("GET", path)
            if status == 404 or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.05)
        self.answers[label] = (status, body)

    async def answered_caller(self, hangs_up_after: float | None = None) -> str:
        cid = self.name(await self.d.caller(hangs_up_after), "caller")
        await self.ok("POST", f"/channels/{cid}/answer")
        await self.d.wait_event(of("ChannelStateChange", cid))
        return cid

    async def leg(self, endpoint: str, role: str, originator: str | None = None) -> str:
        """An agent-style leg: /channels/create + /dial, answered."""
        extra = {"originator": originator} if originator else {}
        chan = await self.ok("POST", "/channels/create", 200, endpoint=endpoint, app="acd",
                             appArgs=role, **extra)
        cid = self.name(str(chan["id"]), role)
        await self.d.wait_event(of("StasisStart", cid))
        # Dialled as acd dials its agents: on behalf of the caller (`caller=`), which
        # changes the caller's own hang-up (no cause on its BYE afterwards).
        await self.ok("POST", f"/channels/{cid}/dial", timeout="10", **(
            {"caller": originator} if originator else {}))
        await self.d.wait_event(lambda e: of("Dial", cid)(e) and e.get("dialstatus") == "ANSWER")
        return cid

    async def bridge(self, role: str, *members: str) -> str:
        b = await self.ok("POST", "/bridges", 200, type="mixing")
        bid = self.name(str(b["id"]), role)
        if members:
            await self.ok("POST", f"/bridges/{bid}/addChannel", channel=",".join(members))
            for m in members:
                await self.d.wait_event(of("ChannelEnteredBridge", m))
        return bid

    async def hangup(self, *channels: str) -> None:
        for c in channels:
            status, _ = await self.d.request("DELETE", f"/channels/{c}")
            assert status in (204, 404), status
        for c in channels:
            await self.d.wait_event(of("StasisEnd", c))

    async def drop_bridge(self, bid: str) -> None:
        await self.ok("DELETE", f"/bridges/{bid}")
        await self.d.wait_event(lambda e: e.get("type") == "BridgeDestroyed"
                                and e["bridge"]["id"] == bid)

    async def var(self, channel: str, name: str) -> str:
        body = await self.ok("GET", f"/channels/{channel}/variable", 200, variable=name)
        return str(body["value"])

    def sequences(self) -> dict[str, list[str]]:
        return sequences(self.d.events, self.roles)
