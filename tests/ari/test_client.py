"""Every request the client can make, checked against the ARI spec of Asterisk 22.

The requests are recorded as they arrive on a real socket at a tiny fake ARI,
then matched against ../shared/ari/api-docs: method, path template, parameter
names (query and body) and enumerated values.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from acd.ari import models as m
from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from tests.ari.conftest import API_KEY
from tests.ari.fake_ari import FakeAri, Recorded, channel
from tests.conftest import shared_ari_or_skip

X = "id/ 1?#%&+é"  # every path argument: the client must escape it into one segment
CHANNEL = channel("c1")
BRIDGE = {"id": "b1", "bridge_type": "mixing", "name": "n", "channels": ["c1"]}
PLAYBACK = {"id": "p1", "media_uri": "sound:x", "target_uri": "channel:c1", "state": "queued"}
LIVE = {"name": "r1", "format": "wav", "state": "queued", "target_uri": "bridge:b1"}
APP = {"name": "acd", "channel_ids": ["c1"], "bridge_ids": [], "endpoint_ids": []}
ENDPOINT = {"technology": "PJSIP", "resource": "agent100", "state": "online", "channel_ids": []}
ALL_ORIGINATE = dict(
    endpoint="PJSIP/agent100", app="acd", app_args="agent,c1", channel_id="leg-1",
    caller_id="Queue <100>", timeout=20, variables={"ACD_CALL": "c1"}, originator="c1",
    other_channel_id="leg-2",
)

# (method, kwargs, reply body or None for 204, expected return type)
CALLS: list[tuple[str, dict[str, Any], Any, type | None]] = [
    ("answer", {"cid": X}, None, None),
    ("hangup", {"cid": X, "reason": "answered_elsewhere"}, None, None),
    ("hangup", {"cid": X}, None, None),
    ("play", {"cid": X, "media": ["sound:a", "sound:b"], "lang": "en", "playback_id": "pb"},
     PLAYBACK, m.Playback),
    ("start_moh", {"cid": X, "moh_class": "default"}, None, None),
    ("stop_moh", {"cid": X}, None, None),
    ("mute", {"cid": X, "direction": "in"}, None, None),
    ("unmute", {"cid": X, "direction": "in"}, None, None),
    ("ring", {"cid": X}, None, None),
    ("ring_stop", {"cid": X}, None, None),
    ("hold", {"cid": X}, None, None),
    ("unhold", {"cid": X}, None, None),
    ("get_var", {"cid": X, "name": "ACD_CALL"}, {"value": "1"}, str),
    ("set_var", {"cid": X, "name": "ACD_CALL", "value": "a&b+c d"}, None, None),
    ("create_channel", {"endpoint": "PJSIP/agent100", "app": "acd", "app_args": "agent,c1",
                        "channel_id": "leg-1", "other_channel_id": "leg-2", "originator": "c1",
                        "variables": {"ACD_CALL": "c1"}}, CHANNEL, m.Channel),
    ("dial", {"cid": X, "caller": "c1", "timeout": 15}, None, None),
    ("originate", ALL_ORIGINATE, CHANNEL, m.Channel),
    ("originate", {"endpoint": "PJSIP/agent100", "extension": "100", "context": "from-pstn",
                   "priority": 1, "label": "start"}, CHANNEL, m.Channel),
    ("snoop", {"cid": X, "app": "acd", "spy": "both", "whisper": "out", "snoop_id": "s1",
               "app_args": "snoop"}, CHANNEL, m.Channel),
    ("continue_in_dialplan", {"cid": X, "context": "from-pstn", "extension": "200",
                              "priority": 1, "label": "fallback"}, None, None),
    ("move", {"cid": X, "app": "other", "app_args": "a"}, None, None),
    ("redirect", {"cid": X, "endpoint": "PJSIP/agent101"}, None, None),
    ("send_dtmf", {"cid": X, "dtmf": "12#", "between": 100, "duration": 120, "before": 0,
                   "after": 0}, None, None),
    ("get_channel", {"cid": X}, CHANNEL, m.Channel),
    ("list_channels", {}, [CHANNEL], list),
    ("record", {"cid": X, "name": "vm-1", "fmt": "wav", "max_duration": 60, "max_silence": 5,
                "if_exists": "overwrite", "beep": True, "terminate_on": "#"}, LIVE,
     m.LiveRecording),
    ("create_bridge", {"bridge_id": "call-1", "type": "mixing", "name": "acd-call"}, BRIDGE,
     m.Bridge),
    ("add_channel", {"bid": X, "channel": ["c1", "c2"], "role": "participant",
                     "absorb_dtmf": False, "mute": False}, None, None),
    ("remove_channel", {"bid": X, "channel": "c1"}, None, None),
    ("bridge_start_moh", {"bid": X, "moh_class": "default"}, None, None),
    ("bridge_stop_moh", {"bid": X}, None, None),
    ("bridge_play", {"bid": X, "media": "sound:x", "playback_id": "p1", "lang": "en"},
     PLAYBACK, m.Playback),
    ("bridge_record", {"bid": X, "name": "call-1", "fmt": "wav", "max_duration": 3600,
                       "if_exists": "overwrite", "beep": False, "max_silence": 0,
                       "terminate_on": "none"}, LIVE, m.LiveRecording),
    ("destroy_bridge", {"bid": X}, None, None),
    ("get_bridge", {"bid": X}, BRIDGE, m.Bridge),
    ("list_bridges", {}, [BRIDGE], list),
    ("get_playback", {"pid": X}, PLAYBACK, m.Playback),
    ("stop_playback", {"pid": X}, None, None),
    ("list_stored_recordings", {}, [{"name": "r1", "format": "wav"}], list),
    ("get_stored_recording", {"name": X}, {"name": "r1", "format": "wav"}, m.StoredRecording),
    ("delete_stored_recording", {"name": X}, None, None),
    ("get_live_recording", {"name": X}, LIVE, m.LiveRecording),
    ("stop_live_recording", {"name": X}, None, None),
    ("pause_live_recording", {"name": X}, None, None),
    ("unpause_live_recording", {"name": X}, None, None),
    ("mute_live_recording", {"name": X}, None, None),
    ("unmute_live_recording", {"name": X}, None, None),
    ("transfer_progress", {"cid": X, "state": "channel_answered"}, None, None),
    ("get_application", {"app": X}, APP, m.Application),
    ("get_application", {}, APP, m.Application),
    ("set_event_filter", {"allowed": [{"type": "StasisStart"}],
                          "disallowed": [{"type": "ChannelVarset"}]}, APP, m.Application),
    ("set_event_filter", {"allowed": None, "disallowed": [{"type": "ChannelVarset"}],
                          "app": X}, APP, m.Application),
    ("list_endpoints", {}, [ENDPOINT], list),
    ("get_endpoint", {"tech": "PJSIP", "resource": X}, ENDPOINT, m.Endpoint),
    ("asterisk_info", {}, {"system": {"version": "22.10.1"}}, m.AsteriskInfo),
    ("ping", {}, {"ping": "pong", "asterisk_id": "x", "timestamp": "t"}, bool),
]

_NOT_REQUESTS = {"start", "close", "request"}


def _public_request_methods() -> set[str]:
    return {
        name for name, fn in inspect.getmembers(AriClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in _NOT_REQUESTS
    }


def test_table_covers_every_public_method() -> None:
    assert {c[0] for c in CALLS} == _public_request_methods()


class Spec:
    """The operations of ../shared/ari/api-docs, matched by method and path."""

    def __init__(self, folder: Path) -> None:
        self.ops: list[tuple[str, str, re.Pattern[str], dict[str, Any]]] = []
        for path in sorted(folder.glob("*.json")):
            for api in json.loads(path.read_text()).get("apis", []):
                template = api["path"]
                pattern = re.compile(
                    "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
                )
                for op in api["operations"]:
                    self.ops.append((op["httpMethod"], template, pattern, op))

    def match(self, req: Recorded) -> tuple[str, dict[str, str], dict[str, Any]]:
        found = []
        for method, template, pattern, op in self.ops:
            hit = pattern.match(req.raw_path)
            if method == req.method and hit:
                found.append((template.count("{"), template, hit.groupdict(), op))
        assert found, f"{req.method} {req.raw_path} is not an ARI operation"
        _, template, groups, op = min(found, key=lambda f: f[0])  # the most literal path
        return template, {k: unquote(v) for k, v in groups.items()}, op


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(shared_ari_or_skip() / "api-docs")


def _check_against_spec(spec: Spec, req: Recorded) -> tuple[str, dict[str, str]]:
    template, path_args, op = spec.match(req)
    where = f"{req.method} {template} ({op['nickname']})"
    params = {p["name"]: p for p in op.get("parameters", [])}
    query = {k: v for k, v in req.query.items() if k != "api_key"}
    for name, values in query.items():
        p = params.get(name)
        assert p is not None and p["paramType"] == "query", f"{where}: unknown query {name!r}"
        assert len(values) == 1, f"{where}: {name!r} repeated (ARI wants comma lists)"
        allowed = (p.get("allowableValues") or {}).get("values")
        if allowed:
            assert values[0] in allowed, f"{where}: {name}={values[0]!r} not in {allowed}"
        if p["dataType"] == "boolean":
            assert values[0] in ("true", "false"), f"{where}: {name}={values[0]!r}"
        if p["dataType"] in ("int", "long"):
            assert re.fullmatch(r"-?\d+", values[0]), f"{where}: {name}={values[0]!r}"
    for name, p in params.items():
        if p.get("required") and p["paramType"] == "query":
            assert name in query, f"{where}: required {name!r} missing"
    if req.body is not None:
        body_params = [p for p in params.values() if p["paramType"] == "body"]
        assert body_params, f"{where}: sends a body the operation does not take"
        assert isinstance(req.body, dict)
        if all(p["dataType"] == "containers" for p in body_params):
            names = {p["name"] for p in body_params}
            assert set(req.body) <= names, f"{where}: body keys {set(req.body) - names}"
    return template, path_args


async def test_every_request_matches_the_ari_spec(
    fake: FakeAri, config: AriConfig, spec: Spec
) -> None:
    async with AriClient(config) as ari:
        for name, kwargs, reply, expected in CALLS:
            fake.reply(200 if reply is not None else 204, reply)
            before = len(fake.requests)
            result = await getattr(ari, name)(**kwargs)
            assert len(fake.requests) == before + 1, name
            req = fake.requests[-1]
            template, path_args = _check_against_spec(spec, req)
            for value in path_args.values():
                if "{" in template and value not in ("acd", "PJSIP"):
                    assert value == X, f"{name}: path argument arrived as {value!r}"
            if expected is None:
                assert result is None, name
            else:
                assert isinstance(result, expected), (name, result)
        assert ari.requests_sent == len(CALLS)


async def test_values_arrive_intact(fake: FakeAri, config: AriConfig) -> None:
    async with AriClient(config) as ari:
        fake.reply(201, PLAYBACK)
        await ari.play("c1", ["sound:a", "sound:b"])
        fake.reply(204)
        await ari.set_var("c1", "X", "a&b+c d=é")
        fake.reply(204)
        await ari.add_channel("b1", ["c1", "c2"], absorb_dtmf=True)
        fake.reply(200, CHANNEL)
        await ari.create_channel("PJSIP/a", "acd", variables={"K": "v"})
    play, setv, add, create = fake.requests
    assert play.query == {"media": ["sound:a,sound:b"]}
    assert setv.query == {"variable": ["X"], "value": ["a&b+c d=é"]}
    assert add.query == {"channel": ["c1,c2"], "absorbDTMF": ["true"]}
    assert create.body == {"variables": {"K": "v"}}
    assert {r.authorization for r in fake.requests} == {config.auth_headers()["Authorization"]}


async def test_models_parse_replies(fake: FakeAri, config: AriConfig) -> None:
    async with AriClient(config) as ari:
        fake.reply(200, CHANNEL)
        got = await ari.get_channel("c1")
        fake.reply(200, APP)
        app = await ari.get_application()
        fake.reply(200, BRIDGE)
        bridge = await ari.create_bridge()
    assert (got.id, got.caller_number, got.caller_name, got.exten, got.context) == (
        "c1", "+15551", "Caller", "100", "from-pstn")
    assert app.channel_ids == ["c1"]
    assert bridge.channels == ["c1"]
    assert fake.requests[1].raw_path == "/applications/acd"
    assert fake.requests[2].query == {"type": ["mixing"]}


async def test_api_key_is_a_query_parameter_not_a_header() -> None:
    server = FakeAri(api_key=API_KEY)
    await server.start()
    try:
        async with AriClient(AriConfig(url=server.url, api_key=API_KEY)) as ari:
            server.reply(200, [CHANNEL])
            assert [c.id for c in await ari.list_channels()] == ["c1"]
        req = server.requests[-1]
        assert req.query == {"api_key": [API_KEY]}
        assert req.authorization is None
    finally:
        await server.stop()


async def test_shared_session_is_not_closed(fake: FakeAri, config: AriConfig) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with AriClient(config, session) as ari:
            fake.reply(204)
            await ari.answer("c1")
        assert not session.closed
