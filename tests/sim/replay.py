"""Replay a real-Asterisk trace against the simulator with plain aiohttp.

The trace's REST requests are re-sent in order (trace ids swapped for the
simulator's), the phone side is re-enacted (calls in, DTMF, hang-ups, phone
behaviours), and what came back is kept for comparison: statuses, bodies, and
each channel role's events ("caller", "agent100", "snoop", "bridge1", ...).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from acd.clock import Clock
from acd.sim.server import Simulator

USER, PASSWORD = "acd", "trace-secret"
NOISE = re.compile(r"^(BRIDGEPEER|BRIDGEPVTCALLID|RTPAUDIOQOS\w*)$")
SLACK = 0.15          # simulated seconds a request may wait for the events before it
STIMULI = ("ChannelDtmfReceived",)
PROMPT_MARGIN = 0.25  # seconds added to every prompt (see Replay.run)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def event_channel(body: dict[str, Any]) -> str | None:
    """The channel (or bridge, as "bridge:<id>") an event is about."""
    if "peer" in body:
        return str(body["peer"]["id"])
    if "channel" in body:
        return str(body["channel"]["id"])
    for key in ("playback", "recording"):
        if key in body:
            kind, _, tid = str(body[key]["target_uri"]).partition(":")
            return tid if kind == "channel" else f"bridge:{tid}"
    if "bridge" in body:
        return f"bridge:{body['bridge']['id']}"
    return None


def event_key(body: dict[str, Any]) -> str | None:
    """What is compared for one event; None for Asterisk's variable noise."""
    t = str(body["type"])
    if t == "ChannelVarset":
        return None if NOISE.match(str(body["variable"])) else f"{t}:{body['variable']}"
    if t == "Dial":
        return f"Dial:{body['dialstatus']}"
    if t == "ChannelStateChange":
        return f"{t}:{body['channel']['state']}"
    if t in ("ChannelHangupRequest", "ChannelDestroyed"):
        return f"{t}:{body.get('cause', '-')}"
    if t.startswith("Playback"):
        return f"{t}:{body['playback']['state']}"
    return t


def canonical(keys: list[str]) -> list[str]:
    """Ringing and Dial RINGING come in either order on a real Asterisk: sort each pair."""
    out = list(keys)
    pair = {"ChannelStateChange:Ringing", "Dial:RINGING"}
    for i in range(len(out) - 1):
        if {out[i], out[i + 1]} == pair:
            out[i], out[i + 1] = sorted((out[i], out[i + 1]))
    return out


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


@dataclass
class Exchange:
    index: int                       # position in the trace
    entry: dict[str, Any]
    status: int = 0
    body: Any = None
    sent: float = 0.0
    answered: float = 0.0
    events_before_answer: int = 0


@dataclass
class Replay:
    """One trace, replayed; the results are in `exchanges` and `events`."""

    trace: list[dict[str, Any]]
    speed: float = 10.0
    roles: dict[str, str] = field(default_factory=dict)      # trace id -> role
    to_sim: dict[str, str] = field(default_factory=dict)     # trace id -> sim id
    sim_roles: dict[str, str] = field(default_factory=dict)  # sim id -> role
    exchanges: list[Exchange] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    # -- roles ---------------------------------------------------------------------
    def __post_init__(self) -> None:
        seen: dict[str, int] = {}

        def name(cid: str, chan: dict[str, Any]) -> None:
            if cid in self.roles:
                return
            raw = str(chan["name"])
            if "caller-trunk" in raw:
                base = "caller"
            elif raw.startswith("Snoop/"):
                base = "snoop"
            else:
                base = raw.split("/", 1)[1].rsplit("-", 1)[0]
            seen[base] = seen.get(base, 0) + 1
            self.roles[cid] = base if seen[base] == 1 else f"{base}#{seen[base]}"

        bridges = 0
        for e in self.trace:
            body: Any = e.get("body")
            if e["kind"] == "event":
                for key in ("channel", "peer"):
                    if key in body:
                        name(str(body[key]["id"]), body[key])
                if "bridge" in body and f"bridge:{body['bridge']['id']}" not in self.roles:
                    bridges += 1
                    self.roles[f"bridge:{body['bridge']['id']}"] = f"bridge{bridges}"
            elif e["kind"] == "rest" and isinstance(body, dict) and e["status"] < 300:
                if "name" in body and "dialplan" in body:
                    name(str(body["id"]), body)
                elif "bridge_type" in body and f"bridge:{body['id']}" not in self.roles:
                    bridges += 1
                    self.roles[f"bridge:{body['id']}"] = f"bridge{bridges}"

    def learn(self, trace_id: str, sim_id: str, prefix: str = "") -> None:
        self.to_sim[prefix + trace_id] = prefix + sim_id
        role = self.roles.get(prefix + trace_id)
        if role is not None:
            self.sim_roles[prefix + sim_id] = role

    def swap(self, text: str) -> str:
        """A path or parameter with every known trace id replaced by the simulator's."""
        for tid in sorted((k for k in self.to_sim if not k.startswith("bridge:")),
                          key=len, reverse=True):
            text = re.sub(rf"(?<![\d.]){re.escape(tid)}(?![\d])", self.to_sim[tid], text)
        for key, sid in self.to_sim.items():
            if key.startswith("bridge:"):
                text = text.replace(key[7:], sid[7:])
        return text

    # -- per-role event keys ---------------------------------------------------------
    def trace_keys(self, upto: int | None = None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for e in self.trace[:upto]:
            if e["kind"] == "event":
                self._add(out, self.roles.get(event_channel(e["body"]) or ""), e["body"])
        return {r: canonical(k) for r, k in out.items()}

    def sim_keys(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for _, body in self.events:
            self._add(out, self.sim_roles.get(event_channel(body) or ""), body)
        return {r: canonical(k) for r, k in out.items()}

    def trace_bodies(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for e in self.trace:
            if e["kind"] == "event" and event_key(e["body"]):
                role = self.roles.get(event_channel(e["body"]) or "")
                out.setdefault(role or "?", []).append(e["body"])
        return out

    def sim_bodies(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for _, body in self.events:
            if event_key(body):
                role = self.sim_roles.get(event_channel(body) or "")
                out.setdefault(role or "?", []).append(body)
        return out

    @staticmethod
    def _add(out: dict[str, list[str]], role: str | None, body: dict[str, Any]) -> None:
        key = event_key(body)
        if key is not None:
            out.setdefault(role or "?", []).append(key)

    # -- running -------------------------------------------------------------------------
    async def run(self) -> None:
        clock = Clock(self.speed)
        sim = Simulator(clock, user=USER, password=PASSWORD)
        self._configure_phones(sim)
        # Each replayed request takes a millisecond or two more than the recorder's did,
        # and a burst of them drifts tens of ms behind the trace; longer prompts keep
        # the trace's margins (an agent answering 33 ms before the welcome ends).
        for sound in sim.sounds:
            sim.sounds[sound] += PROMPT_MARGIN
        port = await sim.start("127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}/ari"
        headers = {"Authorization": basic(USER, PASSWORD)}
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        reader: asyncio.Task[None] | None = None
        async with aiohttp.ClientSession(headers=headers) as session:
            early: dict[int, asyncio.Task[None]] = {}
            try:
                for i, entry in enumerate(self.trace):
                    if i in early:            # sent before, held by the simulator
                        await early.pop(i)
                        continue
                    at = self._send_time(i)
                    await self._wait(i, t0 + at / self.speed, loop)
                    kind = entry["kind"]
                    if kind == "ws_open":
                        ws = await session.ws_connect(f"{base}/events?app=acd")
                        reader = asyncio.create_task(self._read(ws, loop))
                    elif kind == "ws_closed":
                        await sim.drop_websockets("acd")
                        if reader is not None:
                            await reader
                    elif kind == "event":
                        self._stimulus(sim, entry["body"])
                    elif kind == "rest":
                        await self._rest(session, base, i, entry, loop)
                        for j in range(i + 1, len(self.trace)):
                            if self.trace[j]["kind"] == "rest":
                                if self.blocked(j) is not None:
                                    early[j] = asyncio.create_task(
                                        self._rest(session, base, j, self.trace[j], loop))
                                break
            finally:
                if reader is not None and not reader.done():
                    reader.cancel()
                await sim.stop()

    def _configure_phones(self, sim: Simulator) -> None:
        """README: agent100-279 answer after 0.5 s, 280-289 never, 290-299 busy. Whether
        a never-answering SIPp phone sent 180 Ringing is read off the trace."""
        rang = {self.roles.get(e["body"]["peer"]["id"]) for e in self.trace
                if e["kind"] == "event" and e["body"]["type"] == "Dial"
                and e["body"]["dialstatus"] == "RINGING"}
        for role in set(self.roles.values()):
            m = re.fullmatch(r"agent(\d+)(#\d+)?", role)
            if m and 280 <= int(m.group(1)) <= 289:
                sim.set_endpoint("PJSIP", f"agent{m.group(1)}", "noanswer", ring=role in rang)

    def blocked(self, i: int) -> int | None:
        """If request i waited behind a prompt on the real Asterisk, the index of the
        PlaybackFinished it waited for; its send time is then the previous request's."""
        e = self.trace[i]
        path = str(e["path"])
        sync = (path.endswith(("/answer", "/addChannel", "/removeChannel", "/variable"))
                and e["method"] == "POST")
        if not sync:
            return None
        targets = set(re.findall(r"\d{10}\.\d+", path + json.dumps(e["params"])))
        prev = max((j for j in range(i) if self.trace[j]["kind"] == "rest"), default=None)
        if prev is None:
            return None
        for j in range(prev + 1, i):
            b = self.trace[j].get("body") or {}
            if (self.trace[j]["kind"] == "event" and b.get("type") == "PlaybackFinished"
                    and event_channel(b) in targets):
                return j
        return None

    def _send_time(self, i: int) -> float:
        e = self.trace[i]
        if e["kind"] == "rest" and self.blocked(i) is not None:
            prev = max(j for j in range(i) if self.trace[j]["kind"] == "rest")
            return float(self.trace[prev]["t"]) + 0.0005
        return float(e["t"])

    def _prerequisites(self, i: int) -> dict[str, int]:
        """How many compared events each role must have shown before entry i goes."""
        e = self.trace[i]
        upto = i
        if e["kind"] == "rest":
            if self.blocked(i) is not None:
                upto = max(j for j in range(i) if self.trace[j]["kind"] == "rest")
            elif e["status"] < 300:
                # Events just before a successful request, on its own channels, are its
                # effects (the recorder logs the answer after them), not its causes.
                targets = {self.roles.get(t) for t in
                           re.findall(r"\d{10}\.\d+", str(e["path"]) + json.dumps(e["params"]))}
                while upto > 0:
                    prev = self.trace[upto - 1]
                    b = prev.get("body") or {}
                    if (prev["kind"] != "event" or float(e["t"]) - float(prev["t"]) > 0.003
                            or self.roles.get(event_channel(b) or "") not in targets
                            or b.get("type") in STIMULI or b.get("type") == "StasisStart"):
                        break
                    upto -= 1
        return {role: len(keys) for role, keys in self.trace_keys(upto).items()}

    async def _wait(self, i: int, when: float, loop: asyncio.AbstractEventLoop) -> None:
        await asyncio.sleep(max(0.0, when - loop.time()))
        e = self.trace[i]
        if e["kind"] == "event" and not self._is_stimulus(e["body"]):
            return
        need = self._prerequisites(i)
        deadline = loop.time() + SLACK / self.speed
        while loop.time() < deadline:
            have = self.sim_keys()
            if all(len(have.get(r, [])) >= n for r, n in need.items()):
                return
            await asyncio.sleep(0.0005)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse,
                    loop: asyncio.AbstractEventLoop) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append((loop.time(), json.loads(msg.data)))

    def _is_stimulus(self, body: dict[str, Any]) -> bool:
        t = body["type"]
        return t in ("StasisStart", "ChannelDtmfReceived") or (
            t == "ChannelHangupRequest" and "cause" not in body)

    def _stimulus(self, sim: Simulator, body: dict[str, Any]) -> None:
        t = body["type"]
        chan = body.get("channel") or {}
        cid = str(chan.get("id", ""))
        if t == "StasisStart" and "caller-trunk" in chan.get("name", "") \
                and cid not in self.to_sim:
            sim_id = sim.place_call(chan["caller"]["number"], chan["dialplan"]["exten"],
                                    caller_name=chan["caller"]["name"],
                                    context=chan["dialplan"]["context"])
            self.learn(cid, sim_id)
        elif t == "ChannelDtmfReceived" and cid in self.to_sim:
            sim.press(self.to_sim[cid], body["digit"])
        elif t == "ChannelHangupRequest" and "cause" not in body and cid in self.to_sim:
            sim.remote_hangup(self.to_sim[cid])

    async def _rest(self, session: aiohttp.ClientSession, base: str, i: int,
                    entry: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        path = self.swap(str(entry["path"]))
        params = {k: self.swap(str(v)) for k, v in entry["params"].items()}
        ex = Exchange(i, entry, sent=loop.time())
        headers = {"Authorization": basic(USER, "wrong")} \
            if entry.get("note") == "wrong password" else None
        async with session.request(entry["method"], base + path, params=params,
                                   headers=headers) as resp:
            ex.status = resp.status
            text = await resp.text()
        ex.answered = loop.time()
        ex.events_before_answer = len(self.events)
        ex.body = json.loads(text) if text else None
        self.exchanges.append(ex)
        self._learn_from(entry, ex.body)

    def _learn_from(self, entry: dict[str, Any], sim_body: Any) -> None:
        body = entry["body"]
        if not isinstance(body, dict) or not isinstance(sim_body, dict):
            return
        if "dialplan" in body and "id" in body:
            self.learn(str(body["id"]), str(sim_body["id"]))
        elif "bridge_type" in body:
            self.learn(str(body["id"]), str(sim_body["id"]), "bridge:")
        elif "media_uri" in body and body["id"] != sim_body["id"]:
            self.to_sim[str(body["id"])] = str(sim_body["id"])
