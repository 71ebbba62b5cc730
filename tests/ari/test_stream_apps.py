"""One events socket for several ARI applications, each with the allow-list filter."""

from __future__ import annotations

import dataclasses

import pytest

from acd.ari import events as ev
from acd.ari.config import AriConfig
from acd.ari.stream import EventStream
from acd.errors import ConfigError
from tests.ari.fake_ari import FakeAri, Reply, channel, event
from tests.ari.test_stream import Recorder


def _app(name: str, channels: list[str]) -> Reply:
    return Reply(body={"name": name, "channel_ids": channels, "bridge_ids": [],
                       "endpoint_ids": []})


async def test_one_socket_serves_every_app_and_filters_each(
    fake: FakeAri, config: AriConfig,
) -> None:
    cfg = dataclasses.replace(config, app="acd-0", apps=("acd-1", "acd-0", "acd-2"))
    assert cfg.all_apps == ("acd-0", "acd-1", "acd-2")
    for name, chans in (("acd-0", ["c1"]), ("acd-1", []), ("acd-2", ["c7", "c8"])):
        fake.replies.append(_app(name, []))  # the filter's answer
        fake.replies.append(_app(name, chans))
    rec = Recorder()
    stream = EventStream(cfg, rec.handle, on_connect=rec.on_connect,
                         allow=("StasisStart", "ChannelDestroyed"),
                         disallow=("ChannelVarset",))
    await stream.start()
    try:
        await rec.until(lambda: len(rec.connects) == 1)
        assert fake.ws_queries == [{"app": "acd-0,acd-1,acd-2", "subscribeAll": "false"}]
        assert rec.connects == [["c1", "c7", "c8"]]
        allowed = {"allowed": [{"type": "StasisStart"}, {"type": "ChannelDestroyed"}],
                   "disallowed": []}
        assert [(r.method, r.raw_path, r.body) for r in fake.requests] == [
            x for name in cfg.all_apps for x in (
                ("PUT", f"/applications/{name}/eventFilter", allowed),
                ("GET", f"/applications/{name}", None))]
        await fake.send(event("StasisStart", args=[], channel=channel("c9"),
                              application="acd-2"))
        await rec.until(lambda: len(rec.events) == 1)
        assert isinstance(rec.events[0], ev.StasisStart)
        assert rec.events[0].application == "acd-2"
        assert "app=acd-0,acd-1,acd-2&" in stream.log_url
    finally:
        await stream.stop()


@pytest.mark.parametrize("apps", [("",), ("a,b",)])
def test_app_names_are_checked(apps: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        AriConfig(app="acd", apps=apps)
    with pytest.raises(ConfigError):
        AriConfig(app=apps[0])


async def test_the_application_without_a_name_is_every_app_served(
    fake: FakeAri, config: AriConfig,
) -> None:
    """What the reconciler lists: a caller in acd-1 is as live as one in acd-0."""
    from acd.ari.client import AriClient

    cfg = dataclasses.replace(config, app="acd-0", apps=("acd-1",))
    fake.replies.extend([_app("acd-0", ["c1"]), _app("acd-1", ["c2", "c3"])])
    async with AriClient(cfg) as ari:
        app = await ari.get_application()
    assert app.name == "acd-0" and app.channel_ids == ["c1", "c2", "c3"]
    assert [r.raw_path for r in fake.requests] == ["/applications/acd-0", "/applications/acd-1"]
