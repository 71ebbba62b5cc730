"""A thin, typed asyncio client for the Asterisk REST Interface (ARI).

Why not a library from PyPI: `ari-py` is Python 2 only (swaggerpy); `ari-client`
busy-loops when the events socket closes; `asyncari` can hang and leave its HTTP
layer unusable after a dropped connection; `aioari` is unmaintained and does not
reconnect. ARI is a small REST surface, so acd owns a few hundred lines on
aiohttp instead: every path segment escaped, explicit timeouts, typed errors,
and credentials that never reach a log line, a repr or an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from acd import metrics
from acd.ari.config import AriConfig
from acd.ari.errors import AriError, AriUnavailable, error_for
from acd.ari.models import (
    Application,
    AsteriskInfo,
    Bridge,
    Channel,
    Endpoint,
    JsonDict,
    LiveRecording,
    Playback,
    StoredRecording,
)
from acd.ari.retry import DONE_BEFORE, made_by_first_copy, retry_safe

logger = logging.getLogger(__name__)
MAX_CONNECTIONS = 50  # concurrent ARI requests per acd process
# Seconds before each retry of a request whose connection was dropped unanswered.
DROPPED_RETRIES = (0.05, 0.25)

class _Dropped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

Params = dict[str, str]
_NO_VARIABLE = "Provided variable was not found"


def _q(segment: str) -> str:
    """One path segment, escaped so `/`, `?`, `#` and spaces cannot change the route."""
    return quote(segment, safe="")


def _params(**values: object) -> Params:
    """Query parameters without the unset ones; lists joined by commas, bools lowercase."""
    out: Params = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def describe_failure(exc: BaseException, config: AriConfig) -> str:
    """A loggable one-line reason for a transport failure, with no secret in it."""
    if isinstance(exc, aiohttp.ClientResponseError):
        # Its str() embeds the request URL, which may carry the api_key.
        return f"{type(exc).__name__}: HTTP {exc.status}"
    if isinstance(exc, TimeoutError):
        return f"timed out after {config.timeout:g}s"
    return config.scrub(f"{type(exc).__name__}: {exc}")


def _variables_body(variables: Mapping[str, str] | None) -> JsonDict | None:
    return {"variables": dict(variables)} if variables else None


class AriClient:
    """ARI REST calls returning models; failures raise `acd.ari.errors.AriError`."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._session = session
        self._own_session = session is None
        self._base = config.rest_base
        self._headers = config.auth_headers()
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._auth_params = config.auth_params()
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"AriClient({self.config!r})"

    async def start(self) -> None:
        if self._session is None:
            # Well under Asterisk's HTTP session limit (http.conf sessionlimit, 100 by
            # default, which the events WebSocket also counts against): past it Asterisk
            # drops new connections and requests fail (make bench-asterisk, 60 calls/s).
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS))
            self._own_session = True

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AriClient:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -------------------------------------------------------------- transport

    async def request(
        self, method: str, path: str, params: Params | None = None, body: JsonDict | None = None
    ) -> Any:
        """One ARI call: `path` is relative to `/ari` and already escaped.

        Returns the decoded JSON body (None for 204 or an empty body).
        """
        session = self._session
        if session is None:
            raise AriUnavailable("client not started", method=method, path=path)
        query = {**params, **self._auth_params} if params else self._auth_params
        url = URL(self._base + path, encoded=True)
        began = time.perf_counter()
        try:
            return await self._request(session, method, path, url, query, body)
        except AriError as exc:
            metrics.ARI_ERRORS.labels("none" if exc.status is None else str(exc.status)).inc()
            raise
        finally:
            metrics.ARI_REQUESTS.labels(method).observe(time.perf_counter() - began)

    async def _request(self, session: aiohttp.ClientSession, method: str, path: str,
                       url: URL, query: Params, body: JsonDict | None) -> Any:
        delays = DROPPED_RETRIES if retry_safe(method, path, query) else ()
        retry = False
        for delay in (*delays, None):
            self.requests_sent += 1
            try:
                return await self._once(session, method, path, url, query, body)
            except _Dropped as dropped:
                if delay is None:
                    raise AriUnavailable(dropped.reason, method=method, path=path) from None
                logger.info("ARI %s %s: connection dropped (%s); retrying", method, path,
                            dropped.reason)
                await asyncio.sleep(delay)
                retry = True
            except AriError as exc:
                if not retry or exc.status not in DONE_BEFORE.get(method, ()):
                    raise
                # The dropped copy was carried out: a DELETE has nothing left to do, a
                # create with acd's id is read back instead of failing.
                logger.info("ARI %s %s: the dropped copy was carried out (%s)", method, path,
                            exc.status)
                if method == "DELETE":
                    return None
                again = made_by_first_copy(method, path, query)
                if again is None:
                    raise
                try:
                    return await self.request("GET", again)
                except AriError:
                    raise exc from None
        raise AssertionError("unreachable")

    async def _once(self, session: aiohttp.ClientSession, method: str, path: str, url: URL,
                    query: Params, body: JsonDict | None) -> Any:
        try:
            async with session.request(
                method, url, params=query or None,
                data=None if body is None else orjson.dumps(body),
                headers=self._headers if body is None else self._json_headers,
                timeout=self._timeout,
            ) as resp:
                status = resp.status
                raw = await resp.read() if status != 204 else b""
        except TimeoutError:
            logger.debug("ARI %s %s timed out after %.1fs", method, path, self.config.timeout)
            raise AriUnavailable(
                f"no answer within {self.config.timeout:g}s", method=method, path=path
            ) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectorError) as exc:
            # Asterisk closed (or refused) the connection before answering, as it does
            # past its HTTP session limit: the request was not carried out; retried.
            raise _Dropped(describe_failure(exc, self.config)) from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = describe_failure(exc, self.config)
            logger.debug("ARI %s %s failed: %s", method, path, reason)
            raise AriUnavailable(reason, method=method, path=path) from None
        if status >= 300:
            text = raw.decode("utf-8", "replace")
            error = error_for(status, self.config.scrub(text), method, path)
            logger.debug("ARI %s %s -> %s %s", method, path, status, error.message)
            raise error
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise AriError(
                "answer is not JSON", status=status, method=method, path=path
            ) from None

    async def _obj(
        self, method: str, path: str, params: Params | None = None, body: JsonDict | None = None
    ) -> JsonDict:
        data = await self.request(method, path, params, body)
        if not isinstance(data, dict):
            raise AriError("expected a JSON object", method=method, path=path)
        return data

    async def _list(self, path: str) -> list[JsonDict]:
        data = await self.request("GET", path)
        if not isinstance(data, list):
            raise AriError("expected a JSON array", method="GET", path=path)
        return data

    # --------------------------------------------------------------- channels

    async def answer(self, cid: str) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/answer")

    async def hangup(self, cid: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{_q(cid)}", _params(reason=reason))

    async def play(
        self, cid: str, media: str | list[str], lang: str | None = None,
        playback_id: str | None = None,
    ) -> Playback:
        params = _params(media=media, lang=lang, playbackId=playback_id)
        return Playback.from_json(await self._obj("POST", f"/channels/{_q(cid)}/play", params))

    async def start_moh(self, cid: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/moh", _params(mohClass=moh_class))

    async def stop_moh(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{_q(cid)}/moh")

    async def mute(self, cid: str, direction: str = "both") -> None:
        """Mute the channel's audio: `in` (what it says), `out` (what it hears), both."""
        await self.request("POST", f"/channels/{_q(cid)}/mute", _params(direction=direction))

    async def unmute(self, cid: str, direction: str = "both") -> None:
        await self.request("DELETE", f"/channels/{_q(cid)}/mute", _params(direction=direction))

    async def ring(self, cid: str) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/ring")

    async def ring_stop(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{_q(cid)}/ring")

    async def hold(self, cid: str) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/hold")

    async def unhold(self, cid: str) -> None:
        await self.request("DELETE", f"/channels/{_q(cid)}/hold")

    async def transfer_progress(self, cid: str, state: str) -> None:
        """Tell the phone that sent a REFER on `cid` how its transfer goes: a NOTIFY
        with a sipfrag (channel_progress 100, channel_answered 200 and the end of the
        subscription, channel_unavailable, channel_declined). Asterisk echoes each as
        a ChannelTransfer event with this `state`; an unknown state is a 400."""
        await self.request("POST", f"/channels/{_q(cid)}/transfer_progress",
                           _params(states=state))

    async def get_var(self, cid: str, name: str) -> str | None:
        """A channel variable's value, or None when it is unset."""
        try:
            data = await self._obj("GET", f"/channels/{_q(cid)}/variable", _params(variable=name))
        except AriError as exc:
            if exc.status == 404 and exc.message == _NO_VARIABLE:
                return None
            raise
        value = data.get("value")
        return value if isinstance(value, str) else None

    async def set_var(self, cid: str, name: str, value: str) -> None:
        params = _params(variable=name, value=value)
        await self.request("POST", f"/channels/{_q(cid)}/variable", params)

    async def create_channel(
        self, endpoint: str, app: str, app_args: str | None = None,
        channel_id: str | None = None, other_channel_id: str | None = None,
        originator: str | None = None, variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """Create a channel without dialling it (then `dial()` it)."""
        params = _params(endpoint=endpoint, app=app, appArgs=app_args, channelId=channel_id,
                         otherChannelId=other_channel_id, originator=originator)
        data = await self._obj("POST", "/channels/create", params, _variables_body(variables))
        return Channel.from_json(data)

    async def dial(self, cid: str, caller: str | None = None, timeout: int | None = None) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/dial",
                           _params(caller=caller, timeout=timeout))

    async def originate(
        self, endpoint: str, app: str | None = None, app_args: str | None = None,
        channel_id: str | None = None, caller_id: str | None = None,
        timeout: int | None = None, variables: Mapping[str, str] | None = None,
        originator: str | None = None, extension: str | None = None,
        context: str | None = None, priority: int | None = None, label: str | None = None,
        other_channel_id: str | None = None,
    ) -> Channel:
        """The one-step originate (`POST /channels`): create and dial at once."""
        params = _params(
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
        params = _params(app=app, spy=spy, whisper=whisper, snoopId=snoop_id, appArgs=app_args)
        return Channel.from_json(await self._obj("POST", f"/channels/{_q(cid)}/snoop", params))

    async def continue_in_dialplan(
        self, cid: str, context: str | None = None, extension: str | None = None,
        priority: int | None = None, label: str | None = None,
    ) -> None:
        params = _params(context=context, extension=extension, priority=priority, label=label)
        await self.request("POST", f"/channels/{_q(cid)}/continue", params)

    async def move(self, cid: str, app: str, app_args: str | None = None) -> None:
        """Hand the channel to another Stasis application."""
        await self.request("POST", f"/channels/{_q(cid)}/move", _params(app=app, appArgs=app_args))

    async def redirect(self, cid: str, endpoint: str) -> None:
        await self.request("POST", f"/channels/{_q(cid)}/redirect", _params(endpoint=endpoint))

    async def send_dtmf(
        self, cid: str, dtmf: str, between: int | None = None, duration: int | None = None,
        before: int | None = None, after: int | None = None,
    ) -> None:
        params = _params(dtmf=dtmf, between=between, duration=duration, before=before, after=after)
        await self.request("POST", f"/channels/{_q(cid)}/dtmf", params)

    async def get_channel(self, cid: str) -> Channel:
        return Channel.from_json(await self._obj("GET", f"/channels/{_q(cid)}"))

    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(d) for d in await self._list("/channels")]

    async def record(
        self, cid: str, name: str, fmt: str = "wav", max_duration: int | None = None,
        max_silence: int | None = None, if_exists: str = "fail", beep: bool = False,
        terminate_on: str | None = None,
    ) -> LiveRecording:
        params = _params(name=name, format=fmt, maxDurationSeconds=max_duration,
                         maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                         terminateOn=terminate_on)
        data = await self._obj("POST", f"/channels/{_q(cid)}/record", params)
        return LiveRecording.from_json(data)

    # ---------------------------------------------------------------- bridges

    async def create_bridge(
        self, bridge_id: str | None = None, type: str = "mixing", name: str | None = None
    ) -> Bridge:
        params = _params(type=type, bridgeId=bridge_id, name=name)
        return Bridge.from_json(await self._obj("POST", "/bridges", params))

    async def add_channel(
        self, bid: str, channel: str | list[str], role: str | None = None,
        absorb_dtmf: bool | None = None, mute: bool | None = None,
    ) -> None:
        params = _params(channel=channel, role=role, absorbDTMF=absorb_dtmf, mute=mute)
        await self.request("POST", f"/bridges/{_q(bid)}/addChannel", params)

    async def remove_channel(self, bid: str, channel: str | list[str]) -> None:
        await self.request("POST", f"/bridges/{_q(bid)}/removeChannel", _params(channel=channel))

    async def bridge_start_moh(self, bid: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{_q(bid)}/moh", _params(mohClass=moh_class))

    async def bridge_stop_moh(self, bid: str) -> None:
        await self.request("DELETE", f"/bridges/{_q(bid)}/moh")

    async def bridge_play(
        self, bid: str, media: str | list[str], playback_id: str | None = None,
        lang: str | None = None,
    ) -> Playback:
        params = _params(media=media, lang=lang, playbackId=playback_id)
        return Playback.from_json(await self._obj("POST", f"/bridges/{_q(bid)}/play", params))

    async def bridge_record(
        self, bid: str, name: str, fmt: str = "wav", max_duration: int | None = None,
        if_exists: str = "fail", beep: bool = False, max_silence: int | None = None,
        terminate_on: str | None = None,
    ) -> LiveRecording:
        params = _params(name=name, format=fmt, maxDurationSeconds=max_duration,
                         maxSilenceSeconds=max_silence, ifExists=if_exists, beep=beep,
                         terminateOn=terminate_on)
        data = await self._obj("POST", f"/bridges/{_q(bid)}/record", params)
        return LiveRecording.from_json(data)

    async def destroy_bridge(self, bid: str) -> None:
        await self.request("DELETE", f"/bridges/{_q(bid)}")

    async def get_bridge(self, bid: str) -> Bridge:
        return Bridge.from_json(await self._obj("GET", f"/bridges/{_q(bid)}"))

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.from_json(d) for d in await self._list("/bridges")]

    # ------------------------------------------------------ playbacks, records

    async def get_playback(self, pid: str) -> Playback:
        return Playback.from_json(await self._obj("GET", f"/playbacks/{_q(pid)}"))

    async def stop_playback(self, pid: str) -> None:
        await self.request("DELETE", f"/playbacks/{_q(pid)}")

    async def list_stored_recordings(self) -> list[StoredRecording]:
        return [StoredRecording.from_json(d) for d in await self._list("/recordings/stored")]

    async def get_stored_recording(self, name: str) -> StoredRecording:
        data = await self._obj("GET", f"/recordings/stored/{_q(name)}")
        return StoredRecording.from_json(data)

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{_q(name)}")

    async def get_live_recording(self, name: str) -> LiveRecording:
        return LiveRecording.from_json(await self._obj("GET", f"/recordings/live/{_q(name)}"))

    async def stop_live_recording(self, name: str) -> None:
        """Stop and keep the recording (DELETE on the live recording would discard it)."""
        await self.request("POST", f"/recordings/live/{_q(name)}/stop")

    async def pause_live_recording(self, name: str) -> None:
        """Pause: nothing is written until `unpause_live_recording` (the file is
        shorter by the paused time). Pausing twice is no error (204)."""
        await self.request("POST", f"/recordings/live/{_q(name)}/pause")

    async def unpause_live_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/live/{_q(name)}/pause")

    async def mute_live_recording(self, name: str) -> None:
        """Mute: silence is written meanwhile (the file keeps its length)."""
        await self.request("POST", f"/recordings/live/{_q(name)}/mute")

    async def unmute_live_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/live/{_q(name)}/mute")

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
        return Application.from_json(await self._obj("GET", f"/applications/{_q(name)}"))

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
        data = await self._obj("PUT", f"/applications/{_q(name)}/eventFilter", None, body)
        return Application.from_json(data)

    async def list_endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_json(d) for d in await self._list("/endpoints")]

    async def get_endpoint(self, tech: str, resource: str) -> Endpoint:
        return Endpoint.from_json(await self._obj("GET", f"/endpoints/{_q(tech)}/{_q(resource)}"))

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self._obj("GET", "/asterisk/info"))

    async def ping(self) -> bool:
        """True when ARI answers at all (used by health checks)."""
        try:
            await self.request("GET", "/asterisk/ping")
        except AriError:
            return False
        return True

