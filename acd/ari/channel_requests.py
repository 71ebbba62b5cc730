"""ARI requests on channels: answer, hang up, play, hold, variables, create and
dial, originate, snoop, dialplan, DTMF, recording."""

from __future__ import annotations

from collections.abc import Mapping

from acd.ari.errors import AriError
from acd.ari.models import Channel, JsonDict, LiveRecording, Playback
from acd.ari.transport import AriTransport, qparams, seg

_NO_VARIABLE = "Provided variable was not found"


def _variables_body(variables: Mapping[str, str] | None) -> JsonDict | None:
    return {"variables": dict(variables)} if variables else None


class ChannelRequests(AriTransport):
    """The `/channels` resource."""

    async def answer(self, cid: str) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/answer")

    async def hangup(self, cid: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{seg(cid)}", qparams(reason=reason))

    async def play(
        self, cid: str, media: str | list[str], lang: str | None = None,
        playback_id: str | None = None,
    ) -> Playback:
        params = qparams(media=media, lang=lang, playbackId=playback_id)
        return Playback.from_json(await self._obj("POST", f"/channels/{seg(cid)}/play", params))

    async def start_moh(self, cid: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/moh", qparams(mohClass=moh_class))

    async def stop_moh(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{seg(cid)}/moh")

    async def mute(self, cid: str, direction: str = "both") -> None:
        """Mute the channel's audio: `in` (what it says), `out` (what it hears), both."""
        await self.request("POST", f"/channels/{seg(cid)}/mute", qparams(direction=direction))

    async def unmute(self, cid: str, direction: str = "both") -> None:
        await self.request("DELETE", f"/channels/{seg(cid)}/mute", qparams(direction=direction))

    async def ring(self, cid: str) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/ring")

    async def ring_stop(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{seg(cid)}/ring")

    async def hold(self, cid: str) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/hold")

    async def unhold(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{seg(cid)}/hold")

    async def transfer_progress(self, cid: str, state: str) -> None:
        """Tell the phone that sent a REFER on `cid` how its transfer goes: a NOTIFY
        with a sipfrag (channel_progress 100, channel_answered 200 and the end of the
        subscription, channel_unavailable, channel_declined). Asterisk echoes each as
        a ChannelTransfer event with this `state`; an unknown state is a 400."""
        await self.request("POST", f"/channels/{seg(cid)}/transfer_progress",
                           qparams(states=state))

    async def get_var(self, cid: str, name: str) -> str | None:
        """A channel variable's value, or None when it is unset."""
        try:
            data = await self._obj("GET", f"/channels/{seg(cid)}/variable", qparams(variable=name))
        except AriError as exc:
            if exc.status == 404 and exc.message == _NO_VARIABLE:
                return None
            raise
        value = data.get("value")
        return value if isinstance(value, str) else None

    async def set_var(self, cid: str, name: str, value: str) -> None:
        params = qparams(variable=name, value=value)
        await self.request("POST", f"/channels/{seg(cid)}/variable", params)

    async def create_channel(
        self, endpoint: str, app: str, app_args: str | None = None,
        channel_id: str | None = None, other_channel_id: str | None = None,
        originator: str | None = None, variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Create a channel without dialling it (then `dial()` it)."""
        params = qparams(endpoint=endpoint, app=app, appArgs=app_args, channelId=channel_id,
                         otherChannelId=other_channel_id, originator=originator)
        data = await self._obj("POST", "/channels/create", params, _variables_body(variables))
        return Channel.from_json(data)

    async def dial(self, cid: str, caller: str | None = None, timeout: int | None = None) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/dial",
                           qparams(caller=caller, timeout=timeout))

    async def originate(
        self, endpoint: str, app: str | None = None, app_args: str | None = None,
        channel_id: str | None = None, caller_id: str | None = None,
        timeout: int | None = None, variables: Mapping[str, str] | None = None,
        originator: str | None = None, extension: str | None = None,
        context: str | None = None, priority: int | None = None, label: str | None = None,
        other_channel_id: str | None = None,
    ) -> Channel:
        """The one-step originate (`POST /channels`): create and dial at once."""
        params = qparams(
            endpoint=endpoint, app=app, appArgs=app_args, channelId=channel_id,
            callerId=caller_id, timeout=timeout, originator=originator, extension=extension,
            context=context, priority=priority, label=label, otherChannelId=other_channel_id,
        )
        return Channel.from_json(
            await self._obj("POST", "/channels", params, _variables_body(variables))
        )

    async def snoop(
        self, cid: str, app: str, spy: str = "none", whisper: str = "none",
        snoop_id: str | None = None, app_args: str | None = None,
    ) -> Channel:
        params = qparams(app=app, spy=spy, whisper=whisper, snoopId=snoop_id, appArgs=app_args)
        return Channel.from_json(await self._obj("POST", f"/channels/{seg(cid)}/snoop", params))

    async def continue_in_dialplan(
        self, cid: str, context: str | None = None, extension: str | None = None,
        priority: int | None = None, label: str | None = None,
    ) -> None:
        params = qparams(context=context, extension=extension, priority=priority, label=label)
        await self.request("POST", f"/channels/{seg(cid)}/continue", params)

    async def move(self, cid: str, app: str, app_args: str | None = None) -> None:
        """Hand the channel to another Stasis application."""
        await self.request("POST", f"/channels/{seg(cid)}/move", qparams(app=app, appArgs=app_args))

    async def redirect(self, cid: str, endpoint: str) -> None:
        await self.request("POST", f"/channels/{seg(cid)}/redirect", qparams(endpoint=endpoint))

    async def send_dtmf(
        self, cid: str, dtmf: str, between: int | None = None, duration: int | None = None,
        before: int | None = None, after: int | None = None,
    ) -> None:
        params = qparams(dtmf=dtmf, between=between, duration=duration, before=before, after=after)
        await self.request("POST", f"/channels/{seg(cid)}/dtmf", params)

    async def get_channel(self, cid: str) -> Channel:
        return Channel.from_json(await self._obj("GET", f"/channels/{seg(cid)}"))

    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(d) for d in await self._list("/channels")]

    async def record(
        self, cid: str, name: str, fmt: str = "wav", max_duration: int | None = None,
        max_silence: int | None = None, if_exists: str = "fail", beep: bool = False,
        terminate_on: str | None = None,
    ) -> LiveRecording:
        params = qparams(name=name, format=fmt, maxDurationSeconds=max_duration,
                         maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                         terminateOn=terminate_on)
        data = await self._obj("POST", f"/channels/{seg(cid)}/record", params)
        return LiveRecording.from_json(data)
