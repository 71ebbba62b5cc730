"""acd in-process against the throwaway Asterisk (or the simulator), real Redis and PostgreSQL.

Like tests/e2e/conftest.py, but at real time, with a flow whose prompts exist on
the kit and agents whose endpoints are the harness's SIPp phones. Every ARI event
acd handles is recorded as (kind, type, channel), kind "caller", "agent" or "other",
so the real Asterisk's sequences can be compared with the simulator's
(tests/asterisk/sequences.py names the roles and compares).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from acd import app as app_module
from acd.app import App
from acd.ari import events as ev
from acd.calls.service import CallService
from acd.clock import Clock
from acd.config import Settings
from acd.sim.server import Simulator
from tests.acd_checks import AcdChecks
from tests.asterisk import sequences as seq

FLOW = """\
name: kit_main
numbers: ["100"]
start: welcome
nodes:
  welcome:
    type: play
    prompt: sound:acd-welcome
    next: menu
  menu:
    type: menu
    prompt: sound:digits/2
    invalid_prompt: sound:digits/9
    options:
      "2": sales
    timeout: 5
    retries: 2
    on_invalid: goodbye
    on_timeout: goodbye
  sales:
    type: queue
    queue: sales
    skills: {sales: 1}
  goodbye:
    type: hangup
    prompt: sound:vm-goodbye
"""

# Two SIPp digits in one call must go in the pcaps' RTP sequence order (they share
# one SSRC; Asterisk drops a digit whose sequence number is older): 1 < 2 < ... < 9.
# Hence "2" is the valid key and "1" the invalid one.

# Agent a1 rings first (higher skill), a2 second.
DEFAULT_ENDPOINTS = ("PJSIP/agent100", "PJSIP/agent101")


def write_flows(tmp: Path) -> Path:
    folder = tmp / "flows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.yaml").write_text(FLOW)
    return folder


def acd_settings(ari_url: str, user: str, password: str, prefix: str, dsn: str, tmp: Path,
                 endpoints: tuple[str, str] = DEFAULT_ENDPOINTS, ring_timeout: int = 3,
                 wrapup: int = 1, **over: Any) -> Settings:
    """`over` replaces top-level settings (e.g. redis_url, agents, reconcile_every)."""
    return Settings.model_validate(acd_settings_data(
        ari_url, user, password, prefix, dsn, tmp, endpoints, ring_timeout, wrapup) | over)


def acd_settings_data(ari_url: str, user: str, password: str, prefix: str, dsn: str,
                      tmp: Path, endpoints: tuple[str, str] = DEFAULT_ENDPOINTS,
                      ring_timeout: int = 3, wrapup: int = 1) -> dict[str, Any]:
    """The settings of acd_settings as plain data (a YAML file for `acd run`)."""
    return {
        "ari": {"url": ari_url, "app": "acd", "user": user, "password": password},
        "api": {"host": "127.0.0.1", "port": 0},
        "redis_prefix": prefix,
        "pg_dsn": dsn,
        "flows": str(write_flows(tmp)),
        "node_id": f"{prefix}-n1",
        "writer": {"batch_size": 100, "flush_interval": 0.02,
                   "spool_dir": str(tmp / "spool")},
        "routing": {"max_missed": 2, "missed_retry_delay": 30, "reservation_ttl": 30},
        "queues": [{"name": "sales", "skills": {"sales": 1}, "ring_timeout": ring_timeout,
                    "wrapup": wrapup}],
        "agents": [
            {"id": "a1", "name": "Alice", "endpoint": endpoints[0], "skills": {"sales": 5},
             "login": True},
            {"id": "a2", "name": "Bob", "endpoint": endpoints[1], "skills": {"sales": 3},
             "login": True},
        ],
    }


# A user event the tests send the app after a scenario (POST /events/user/...): when
# acd has it, every earlier event has reached acd too (one app, one ordered stream).
SETTLED = "acd-test-settled"


def describe(event: ev.Event) -> str:
    """The event type with what distinguishes it: Dial status, channel state, cause."""
    raw = event.raw
    if event.type == "Dial":
        return f"Dial({raw.get('dialstatus', '')})"
    if event.type == "ChannelStateChange":
        return f"ChannelStateChange({raw.get('channel', {}).get('state', '')})"
    if event.type in ("ChannelHangupRequest", "ChannelDestroyed"):
        return f"{event.type}({raw.get('cause', '')})"
    return event.type


def role_of(event: ev.Event) -> str:
    cid = event.channel_id
    if cid is None:
        return "other"
    if cid.startswith("acd-"):
        return "agent"
    # An agent's phone's own call into acd (`phone,<number>` from [agents], #17).
    channel = event.raw.get("channel") or {}
    return "phone" if str(channel.get("name", "")).startswith("PJSIP/agent") else "caller"


@dataclass
class AcdRun(AcdChecks):
    app: App
    pg: asyncpg.Pool
    prefix: str
    ended: dict[str, str] = field(default_factory=dict)  # caller channel id -> call id
    events: list[seq.Event] = field(default_factory=list)  # kind, type, channel
    settled_marks: list[str] = field(default_factory=list)  # SETTLED events seen

    async def finished(self, timeout: float = 20.0) -> str:
        """Wait until the one call is over and written; return its call id."""
        assert self.app.writer is not None
        await self.wait_for(lambda: bool(self.ended), "the call to end", timeout)
        (call_id,) = self.ended.values()
        await self.app.writer.flush()
        n = await self.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id)
        assert n == 1, f"call {call_id} has {n} rows in calls"
        return call_id

    def with_roles(self) -> list[seq.Event]:
        return seq.with_roles(self.events)

    def per_role(self) -> seq.Sequences:
        return seq.sequences(self.with_roles())

    def save_trace(self, path: Path) -> None:
        seq.save_trace(self.with_roles(), path)


@asynccontextmanager
async def running_acd(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                      clock: Clock | None = None,
                      simulator: Simulator | None = None) -> AsyncIterator[AcdRun]:
    """acd started in-process; its handled ARI events recorded in run.events."""
    recorded: list[seq.Event] = []
    marks: list[str] = []
    original = getattr(CallService.handle_event, "acd_original", CallService.handle_event)

    async def recording(self: CallService, event: ev.Event) -> None:
        if isinstance(event, ev.ChannelUserevent) and event.eventname == SETTLED:
            marks.append(event.timestamp)      # the tests' own marker: not acd's business
            return
        recorded.append((role_of(event), describe(event), event.channel_id or ""))
        await original(self, event)

    recording.acd_original = original  # type: ignore[attr-defined]
    monkeypatch.setattr(CallService, "handle_event", recording)
    # The settled marker is a user event: let it through acd's allow-list filter.
    monkeypatch.setattr(app_module, "CALL_EVENTS",
                        (*app_module.CALL_EVENTS, "ChannelUserevent"))
    app = App(settings, clock=clock or Clock(1.0), simulator=simulator, start_api=False)
    await app.start()
    pool = await asyncpg.create_pool(settings.pg_dsn.get_secret_value(), min_size=1,
                                     max_size=2)
    assert pool is not None and app.calls is not None and app.stream is not None
    run = AcdRun(app=app, pg=pool, prefix=settings.redis_prefix, events=recorded,
                 settled_marks=marks)

    def on_end(call: Any) -> None:
        run.ended[call.channel_id] = call.call_id

    app.calls.on_call_ended = on_end
    stream = app.stream
    try:
        await run.wait_for(lambda: stream.connected, "ARI to connect")
        yield run
    except BaseException:
        print("ARI events acd handled:\n"
              + "\n".join(f"{r:7} {t}" for r, t, _ in seq.with_roles(recorded)))
        raise
    finally:
        await app.stop()
        await pool.close()
