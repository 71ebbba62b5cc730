"""Every route says who may call it, and the API holds to it."""

from __future__ import annotations

import re

import pytest

from acd.api.access import PUBLIC, ROLES, roles_of
from acd.api.openapi import routes_of
from tests.api.conftest import ROLE_USER, Api

SAMPLE = {"agent_id": "a1", "action": "available", "name": "vip", "number": "123",
          "token_id": "nope", "call_id": "c1", "queue": "sales", "file": "agent.js"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


def protected(api: Api) -> list[tuple[str, str, frozenset[str]]]:
    out = []
    for method, path, handler in routes_of(api.client.server.app):
        roles = roles_of(handler)
        assert roles is not None, f"{method} {path} declares no roles"
        if PUBLIC not in roles:
            out.append((method, path, roles))
    return out


async def test_every_route_refuses_an_anonymous_request(api: Api) -> None:
    routes = protected(api)
    assert len(routes) >= 20
    for method, path, _ in routes:
        resp = await api.call(method, concrete(path))
        body = await resp.json()
        assert (resp.status, body["error_id"]) == (401, "unauthenticated"), (method, path)


async def test_every_route_refuses_a_role_it_does_not_allow(api: Api) -> None:
    checked = 0
    for method, path, roles in protected(api):
        for role in sorted(ROLES - roles):
            resp = await api.call(method, concrete(path), user=ROLE_USER[role])
            assert resp.status == 403, (method, path, role, await resp.text())
            assert (await resp.json())["error_id"] == "forbidden"
            checked += 1
    assert checked >= 20


async def test_a_bad_token_is_anonymous(api: Api) -> None:
    resp = await api.call("GET", "/api/queues",
                          headers={"Authorization": "Bearer acd_abc_notatoken"})
    assert resp.status == 401


async def test_an_agent_acts_on_itself_only(api: Api) -> None:
    resp = await api.call("POST", "/api/agents/a2/break", user="alice", body={"reason": "x"})
    assert (resp.status, (await resp.json())["error_id"]) == (403, "not_yours")
    resp = await api.call("GET", "/api/agents/a2", user="alice")
    assert resp.status == 403
    assert await api.h.agent_state("a2") == "available"
    resp = await api.call("POST", "/api/agents/a1/break", user="alice", body={"reason": "lunch"})
    assert resp.status == 200 and (await resp.json())["state"] == "break"
    # A supervisor may act on any agent.
    resp = await api.call("POST", "/api/agents/a2/break", user="super", body={"reason": "x"})
    assert resp.status == 200


@pytest.mark.parametrize(("headers", "status", "error_id"), [
    ({"Content-Type": "text/plain"}, 415, "json_required"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "json_required"),
    ({"Content-Type": "application/json", "Origin": "https://evil.example"}, 403,
     "cross_origin"),
    ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403,
     "cross_origin"),
])
async def test_a_cross_site_or_non_json_change_is_refused(
        api: Api, headers: dict[str, str], status: int, error_id: str) -> None:
    assert api.h.app.redis is not None
    resp = await api.client.put("/api/schedules/hotline/override",
                                data='{"override": "closed"}',
                                headers={**api.auth("super"), **headers})
    assert (resp.status, (await resp.json())["error_id"]) == (status, error_id)
    assert await api.h.app.redis.get(f"{api.h.prefix}:schedule-override:hotline") is None


async def test_a_browser_session_needs_its_own_origin(api: Api) -> None:
    resp = await api.call("POST", "/api/login", body={"name": "super",
                                                      "password": "super-pass-1234"},
                          headers={"Origin": api.origin})
    assert resp.status == 200
    # The cookie rides along; with no Origin, a cookie-borne change is refused...
    resp = await api.client.put("/api/schedules/hotline/override",
                                json={"override": "closed"})
    assert (resp.status, (await resp.json())["error_id"]) == (403, "origin_required")
    resp = await api.client.put("/api/schedules/hotline/override", json={"override": "closed"},
                                headers={"Origin": "http://127.0.0.2:1"})
    assert resp.status == 403
    # ...and accepted from our own origin.
    resp = await api.client.put("/api/schedules/hotline/override", json={"override": "closed"},
                                headers={"Origin": api.origin})
    assert resp.status == 200, await resp.text()


async def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    resp = await api.call("GET", "/api/nothing-here", user="admin")
    body = await resp.json()
    assert resp.status == 404 and body["error_id"] == "not_found" and "message" in body
    resp = await api.call("PATCH", "/api/queues", user="admin")
    body = await resp.json()
    assert resp.status == 405 and body["error_id"] == "method_not_allowed"
    assert body["details"]["allowed"] == ["GET", "HEAD"]
    resp = await api.call("POST", "/api/schedules/x/override", user="admin")
    assert resp.status == 405


async def test_openapi_lists_every_route(api: Api) -> None:
    resp = await api.client.get("/api/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    routes = routes_of(api.client.server.app)
    for method, path, handler in routes:
        op = doc["paths"][path][method.lower()]
        assert op["x-roles"] == sorted(roles_of(handler) or ()), (method, path)
    n_ops = sum(len(ops) for ops in doc["paths"].values())
    assert n_ops == len(routes)


async def test_health_is_public_and_metrics_need_a_supervisor(api: Api) -> None:
    assert (await api.client.get("/health")).status == 200
    assert (await api.client.get("/metrics")).status == 401
    assert (await api.call("GET", "/metrics", user="alice")).status == 403
    resp = await api.call("GET", "/metrics", user="super")
    assert resp.status == 200 and "python_info" in await resp.text()


async def test_demo_backends_only_in_demo_mode(api: Api) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from acd.api.app import make_api

    api.h.app.settings.api.demo = False
    plain = TestClient(TestServer(make_api(api.h.app), host="127.0.0.1"))
    await plain.start_server()
    try:
        assert (await plain.get("/demo/orders/123456")).status == 404
    finally:
        await plain.close()
    api.h.app.settings.api.demo = True
    try:
        demo = TestClient(TestServer(make_api(api.h.app), host="127.0.0.1"))
        await demo.start_server()
        try:
            resp = await demo.get("/demo/orders/123456")
            assert resp.status == 200 and (await resp.json())["status"] == "shipped"
        finally:
            await demo.close()
    finally:
        api.h.app.settings.api.demo = False
