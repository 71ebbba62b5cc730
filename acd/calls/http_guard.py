"""An IVR `http` node's request, carried out within the allow-list (acd/ivr/http_policy.py).

The URL is checked before anything is sent; a host name is resolved by our own
resolver, which keeps only addresses the policy allows, and the connection goes
to one of those very addresses (no second lookup a rebinding DNS server could
answer differently). Redirects are not followed; the answer is read up to
`policy.max_bytes` and within the node's timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from acd.ivr.http_policy import MAX_TIMEOUT, HttpPolicy, check_url, is_public

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The policy refuses this request (nothing was sent)."""


class NotReachable(OSError):
    """Every address a name resolves to is one flows may not reach."""


class GuardedResolver(AbstractResolver):
    """Resolves a host name and keeps only the addresses the policy allows: public
    ones, and those in `ivr.http_private_networks`."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family)
        out: list[ResolveResult] = []
        refused: list[str] = []
        for fam, _, proto, _, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            ip = ipaddress.ip_address(address)
            if is_public(ip) or any(ip.version == n.version and ip in n
                                    for n in self.policy.private_networks):
                out.append(ResolveResult(hostname=host, host=address, port=port, family=fam,
                                         proto=proto, flags=socket.AI_NUMERICHOST))
            else:
                refused.append(address)
        if not out:
            raise NotReachable(f"{host} resolves only to addresses flows may not reach "
                          f"({', '.join(refused) or 'none'})")
        return out

    async def close(self) -> None:
        return None


class GuardedHttp:
    """One client session for every flow's requests, behind the policy."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy))
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, url: str, *, params: dict[str, str] | None,
                      data: str | None, headers: dict[str, str] | None,
                      timeout: float) -> tuple[int, object]:
        """(status, body: JSON value or text). Raises Refused, TimeoutError,
        aiohttp.ClientError or ValueError."""
        full = str(URL(url).update_query(params)) if params else url
        _, why = check_url(full, self.policy)
        if why is not None:
            raise Refused(why)
        try:
            return await self._send(method, full, data, headers, timeout)
        except aiohttp.ClientConnectorError as e:
            cause = e.__cause__ or getattr(e, "os_error", None)
            if isinstance(cause, NotReachable):
                raise Refused(str(cause)) from None
            raise

    async def _send(self, method: str, url: str, data: str | None,
                    headers: dict[str, str] | None, timeout: float) -> tuple[int, object]:
        async with self._client().request(
            method, url, data=data, headers=headers, allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=min(timeout, MAX_TIMEOUT)),
        ) as resp:
            raw = await resp.content.read(self.policy.max_bytes + 1)
            if len(raw) > self.policy.max_bytes:
                raise ValueError(f"answer larger than {self.policy.max_bytes} bytes")
            text = raw.decode(resp.charset or "utf-8", errors="replace")
            body: Any
            try:
                body = json.loads(text)
            except (ValueError, RecursionError):  # not JSON, or nested past reason
                body = text
            return resp.status, body
