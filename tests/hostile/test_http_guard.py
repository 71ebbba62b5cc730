"""`http` nodes behind the allow-list: what a URL may be, which addresses a name may
resolve to (checked on the address connected to), no redirects, bounded answers.

Only loopback servers of the test's own are ever contacted; refusals of other
addresses are checked before any connection (no packet leaves the machine).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from acd.calls.http_guard import GuardedHttp, GuardedResolver, Refused
from acd.ivr.http_policy import check_url, make_policy

OWN = ("127.0.0.1", 8080)
POLICY = make_policy(["api:/demo/", "https://crm.example.com/v1/", "http://10.1.2.3:8443/x/"],
                     own_api=OWN)


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:8080/demo/orders/123", None),
    ("https://crm.example.com/v1/accounts/%2B33140000001", None),
    ("https://CRM.example.com:443/v1/", None),
    ("http://10.1.2.3:8443/x/y", None),  # a private address, listed as such
    ("http://127.0.0.1:8080/api/agents/100/logout", "acd's own API (127.0.0.1:8080)"),
    ("http://localhost:8080/api/agents", "acd's own API (localhost:8080)"),
    ("http://[::1]:8080/metrics", "acd's own API ([::1]:8080)"),
    ("http://127.0.0.1:8080/demo/../api/agents", "may not contain '..'"),
    ("http://127.0.0.1:8080/demo/%2e%2e/api", "encoded dots and slashes"),
    ("http://127.0.0.1:6379/", "http://127.0.0.1:6379/ is not in ivr.http_allow"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80/latest/meta-data/ is not"),
    ("http://[fe80::1]/", "[fe80::1]:80/ is not in ivr.http_allow"),
    ("http://10.0.0.1/", "not in ivr.http_allow"),
    ("http://10.1.2.3:8443/y", "not in ivr.http_allow"),  # outside the listed path
    ("http://crm.example.com/v1/", "not in ivr.http_allow"),  # http, not https
    ("https://crm.example.com.evil.test/v1/", "not in ivr.http_allow"),
    ("https://crm.example.com/v1-admin", "not in ivr.http_allow"),
    ("https://user:pw@crm.example.com/v1/", "user name or password"),
    ("gopher://127.0.0.1:6379/_INFO", "only http:// and https://"),
    ("file:///etc/passwd", "only http:// and https://"),
])
def test_url_policy(url: str, why: str | None) -> None:
    _, found = check_url(url, POLICY)
    assert (found is None) if why is None else (found is not None and why in found), found


@pytest.mark.parametrize(("api_host", "url"), [
    ("0.0.0.0", "http://127.0.0.1:8080/demo/orders/1"),
    ("localhost", "http://127.0.0.1:8080/demo/orders/1"),
    ("::", "http://127.0.0.1:8080/demo/orders/1"),
    ("10.0.0.7", "http://10.0.0.7:8080/demo/orders/1"),
])
def test_acd_demo_back_ends_wherever_the_api_listens(api_host: str, url: str) -> None:
    policy = make_policy(["api:/demo/"], own_api=(api_host, 8080))
    assert check_url(url, policy) == (policy.rules[0], None)
    _, why = check_url(url.replace("/demo/orders/1", "/api/agents"), policy)
    assert why is not None and "acd's own API" in why


@pytest.mark.parametrize("entry", ["api:/", "api:/api/", "ftp://x/", "https://u:p@x/"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r"entry|demo|URL"):
        make_policy([entry], own_api=OWN)


class Server:
    """A loopback HTTP server of the test's own, counting what reaches it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, redirect_to: str = "") -> None:
        async def any_path(request: web.Request) -> web.StreamResponse:
            self.hits.append(request.path)
            if request.path.endswith("/redirect"):
                raise web.HTTPFound(redirect_to)
            if request.path.endswith("/big"):
                return web.Response(body=b"x" * (1024 * 1024))
            if request.path.endswith("/slow"):
                await asyncio.sleep(5)
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_path)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Server, Server]]:
    target, other = Server(), Server()
    await other.start()
    await target.start(redirect_to=f"http://127.0.0.1:{other.port}/stolen")
    yield target, other
    await target.stop()
    await other.stop()


async def request(policy: Any, url: str, timeout: float = 2.0) -> tuple[int, object]:
    http = GuardedHttp(policy)
    try:
        return await http.request("GET", url, params=None, data=None, headers=None,
                                  timeout=timeout)
    finally:
        await http.close()


async def test_a_listed_address_is_reached(servers: tuple[Server, Server]) -> None:
    target, _ = servers
    policy = make_policy([f"http://127.0.0.1:{target.port}/ok/"])
    assert await request(policy, f"http://127.0.0.1:{target.port}/ok/1") == (200, {"ok": True})
    assert target.hits == ["/ok/1"]


async def test_unlisted_path_is_refused_before_connecting(
        servers: tuple[Server, Server]) -> None:
    target, _ = servers
    policy = make_policy([f"http://127.0.0.1:{target.port}/ok/"])
    with pytest.raises(Refused, match=r"is not in ivr\.http_allow"):
        await request(policy, f"http://127.0.0.1:{target.port}/admin")
    assert target.hits == []


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(
        servers: tuple[Server, Server]) -> None:
    target, _ = servers
    listed = make_policy([f"http://localhost:{target.port}/"])
    with pytest.raises(Refused, match="resolves only to addresses flows may not reach"):
        await request(listed, f"http://localhost:{target.port}/x")
    assert target.hits == []
    # Allowed once the operator names the network: the refusal was the policy's.
    private = make_policy([f"http://localhost:{target.port}/"], ["127.0.0.0/8", "::1/128"])
    assert (await request(private, f"http://localhost:{target.port}/x"))[0] == 200
    assert target.hits == ["/x"]


async def test_redirects_are_not_followed(servers: tuple[Server, Server]) -> None:
    target, other = servers
    policy = make_policy([f"http://127.0.0.1:{target.port}/"])
    status, _ = await request(policy, f"http://127.0.0.1:{target.port}/redirect")
    assert status == 302 and target.hits == ["/redirect"] and other.hits == []


async def test_the_answer_is_bounded_in_size_and_time(servers: tuple[Server, Server]) -> None:
    target, _ = servers
    policy = make_policy([f"http://127.0.0.1:{target.port}/"])
    with pytest.raises(ValueError, match="answer larger than 65536 bytes"):
        await request(policy, f"http://127.0.0.1:{target.port}/big")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await request(policy, f"http://127.0.0.1:{target.port}/slow", timeout=0.3)
    assert loop.time() - started < 2.0


@pytest.mark.parametrize("answers", [
    ["169.254.169.254"], ["10.0.0.1"], ["127.0.0.1"], ["::1"], ["fe80::1%eth0"],
    ["::ffff:127.0.0.1"], ["100.64.0.1"], ["0.0.0.0"], ["224.0.0.1"],
    ["93.184.216.34", "127.0.0.1"],  # one public, one not: only the public one is kept
])
async def test_resolver_keeps_only_public_addresses(answers: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves (or re-resolves: DNS rebinding) to a non-public address is
    refused at the lookup whose answer is connected to; nothing is sent anywhere."""
    async def fake_getaddrinfo(host: str, port: int, **kw: Any) -> list[Any]:
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answers]

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    resolver = GuardedResolver(make_policy(["https://crm.example.com/"]))
    public = [a for a in answers if a == "93.184.216.34"]
    if public:
        found = await resolver.resolve("crm.example.com", 443)
        assert [r["host"] for r in found] == public
    else:
        with pytest.raises(OSError, match="resolves only to addresses flows may not reach"):
            await resolver.resolve("crm.example.com", 443)
