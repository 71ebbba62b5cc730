"""The ARI client's transport: one HTTP session, one `request()` per ARI call.

Every path segment is escaped, every call has an explicit timeout, failures come
back as typed errors (`acd.ari.errors`), and credentials never reach a log line,
a repr or an exception. A request whose connection Asterisk dropped unanswered is
retried, but only where `acd.ari.retry.retry_safe` allows. The resource methods
are built on this (`acd.ari.channel_requests`, `acd.ari.client`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from acd import metrics
from acd.ari.config import AriConfig
from acd.ari.errors import AriError, AriUnavailable, error_for
from acd.ari.models import JsonDict
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


def seg(segment: str) -> str:
    """One path segment, escaped so `/`, `?`, `#` and spaces cannot change the route."""
    return quote(segment, safe="")


def qparams(**values: object) -> Params:
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


class AriTransport:
    """Sends ARI requests and decodes the answers; `AriClient` adds the resources."""

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
        return f"{type(self).__name__}({self.config!r})"

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

    async def __aenter__(self) -> Self:
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
