"""A thin, typed asyncio client for the Asterisk REST Interface (ARI).

Why not a library from PyPI: `ari-py` is Python 2 only (swaggerpy); `ari-client`
busy-loops when the events socket closes; `asyncari` can hang and leave its HTTP
layer unusable after a dropped connection; `aioari` is unmaintained and does not
reconnect. ARI is a small REST surface, so acd owns a few hundred lines on
aiohttp instead: every path segment escaped, explicit timeouts, typed errors,
and credentials that never reach a log line, a repr or an exception.

`acd.ari.transport` sends the requests (and retries a dropped one where that is
safe); `acd.ari.channel_requests` holds the channel calls; this module adds
bridges, playbacks, recordings, applications and endpoints, and is the one
importers use.
"""

from __future__ import annotations

from acd.ari.channel_requests import ChannelRequests
from acd.ari.errors import AriError
from acd.ari.models import (
    Application,
    AsteriskInfo,
    Bridge,
    Endpoint,
    JsonDict,
    LiveRecording,
    Playback,
    StoredRecording,
)
from acd.ari.transport import qparams, seg


class AriClient(ChannelRequests):
    """ARI REST calls returning models; failures raise `acd.ari.errors.AriError`."""

    # ---------------------------------------------------------------- bridges

    async def create_bridge(
        self, bridge_id: str | None = None, type: str = "mixing", name: str | None = None
    ) -> Bridge:
        params = qparams(type=type, bridgeId=bridge_id, name=name)
        return Bridge.from_json(await self._obj("POST", "/bridges", params))

    async def add_channel(
        self, bid: str, channel: str | list[str], role: str | None = None,
        absorb_dtmf: bool | None = None, mute: bool | None = None,
    ) -> None:
        params = qparams(channel=channel, role=role, absorbDTMF=absorb_dtmf, mute=mute)
        await self.request("POST", f"/bridges/{seg(bid)}/addChannel", params)

    async def remove_channel(self, bid: str, channel: str | list[str]) -> None:
        await self.request("POST", f"/bridges/{seg(bid)}/removeChannel", qparams(channel=channel))

    async def bridge_start_moh(self, bid: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{seg(bid)}/moh", qparams(mohClass=moh_class))

    async def bridge_stop_moh(self, bid: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bid)}/moh")

    async def bridge_play(
        self, bid: str, media: str | list[str], playback_id: str | None = None,
        lang: str | None = None,
    ) -> Playback:
        params = qparams(media=media, lang=lang, playbackId=playback_id)
        return Playback.from_json(await self._obj("POST", f"/bridges/{seg(bid)}/play", params))

    async def bridge_record(
        self, bid: str, name: str, fmt: str = "wav", max_duration: int | None = None,
        if_exists: str = "fail", beep: bool = False, max_silence: int | None = None,
        terminate_on: str | None = None,
    ) -> LiveRecording:
        params = qparams(name=name, format=fmt, maxDurationSeconds=max_duration,
                         maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                         terminateOn=terminate_on)
        data = await self._obj("POST", f"/bridges/{seg(bid)}/record", params)
        return LiveRecording.from_json(data)

    async def destroy_bridge(self, bid: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bid)}")

    async def get_bridge(self, bid: str) -> Bridge:
        return Bridge.from_json(await self._obj("GET", f"/bridges/{seg(bid)}"))

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.from_json(d) for d in await self._list("/bridges")]

    # ------------------------------------------------------ playbacks, records

    async def get_playback(self, pid: str) -> Playback:
        return Playback.from_json(await self._obj("GET", f"/playbacks/{seg(pid)}"))

    async def stop_playback(self, pid: str) -> None:
        await self.request("DELETE", f"/playbacks/{seg(pid)}")

    async def list_stored_recordings(self) -> list[StoredRecording]:
        return [StoredRecording.from_json(d) for d in await self._list("/recordings/stored")]

    async def get_stored_recording(self, name: str) -> StoredRecording:
        data = await self._obj("GET", f"/recordings/stored/{seg(name)}")
        return StoredRecording.from_json(data)

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{seg(name)}")

    async def get_live_recording(self, name: str) -> LiveRecording:
        return LiveRecording.from_json(await self._obj("GET", f"/recordings/live/{seg(name)}"))

    async def stop_live_recording(self, name: str) -> None:
        """Stop and keep the recording (DELETE on the live recording would discard it)."""
        await self.request("POST", f"/recordings/live/{seg(name)}/stop")

    async def pause_live_recording(self, name: str) -> None:
        """Pause: nothing is written until `unpause_live_recording` (the file is
        shorter by the paused time). Pausing twice is no error (204)."""
        await self.request("POST", f"/recordings/live/{seg(name)}/pause")

    async def unpause_live_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/live/{seg(name)}/pause")

    async def mute_live_recording(self, name: str) -> None:
        """Mute: silence is written meanwhile (the file keeps its length)."""
        await self.request("POST", f"/recordings/live/{seg(name)}/mute")

    async def unmute_live_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/live/{seg(name)}/mute")

    # ----------------------------------------------------- applications, misc

    async def get_application(self, app: str | None = None) -> Application:
        """One application; without `app`, every application acd serves as one (named
        `config.app`): the channels and bridges of them all."""
        if app is None and len(self.config.all_apps) > 1:
            apps = [await self.get_application(name) for name in self.config.all_apps]
            return Application(
                name=self.config.app,
                channel_ids=[c for a in apps for c in a.channel_ids],
                bridge_ids=[b for a in apps for b in a.bridge_ids],
                endpoint_ids=[e for a in apps for e in a.endpoint_ids])
        name = app or self.config.app
        return Application.from_json(await self._obj("GET", f"/applications/{seg(name)}"))

    async def set_event_filter(
        self, allowed: list[dict[str, str]] | None, disallowed: list[dict[str, str]] | None,
        app: str | None = None,
    ) -> Application:
        """Filter the app's events at the source, e.g. `disallowed=[{"type": "ChannelVarset"}]`.

        A list left as None is not changed; an empty list clears that filter.
        """
        body: JsonDict = {}
        if allowed is not None:
            body["allowed"] = allowed
        if disallowed is not None:
            body["disallowed"] = disallowed
        name = app or self.config.app
        data = await self._obj("PUT", f"/applications/{seg(name)}/eventFilter", None, body)
        return Application.from_json(data)

    async def list_endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_json(d) for d in await self._list("/endpoints")]

    async def get_endpoint(self, tech: str, resource: str) -> Endpoint:
        return Endpoint.from_json(await self._obj("GET", f"/endpoints/{seg(tech)}/{seg(resource)}"))

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self._obj("GET", "/asterisk/info"))

    async def ping(self) -> bool:
        """True when ARI answers at all (used by health checks)."""
        try:
            await self.request("GET", "/asterisk/ping")
        except AriError:
            return False
        return True
