"""Logins, tokens, the audit trail, and secrets kept out of logs, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from acd.__main__ import main
from tests.api.conftest import PASSWORDS, Api


async def login(api: Api, name: str, password: str) -> tuple[int, str]:
    resp = await api.call("POST", "/api/login", body={"name": name, "password": password},
                          headers={"Origin": api.origin})
    return resp.status, resp.headers.get("Set-Cookie", "")


async def test_login_sets_a_strict_httponly_cookie_and_me_says_who(api: Api) -> None:
    status, cookie = await login(api, "alice", PASSWORDS["alice"])
    assert status == 200
    assert "acd_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # auto: plain http here
    me = await (await api.client.get("/api/me")).json()
    assert me == {"name": "alice", "role": "agent", "agent_id": "a1", "via": "session"}
    resp = await api.client.post("/api/logout", json={}, headers={"Origin": api.origin})
    assert resp.status == 200
    assert (await api.client.get("/api/me")).status == 401


async def test_cookie_is_secure_when_configured(api: Api) -> None:
    api.h.app.people.storage.secure = "always"  # type: ignore[union-attr]
    status, cookie = await login(api, "bob", PASSWORDS["bob"])
    assert status == 200 and "Secure" in cookie


async def test_logins_are_rate_limited_per_user(api: Api) -> None:
    for _ in range(5):
        assert (await login(api, "bob", "wrong-password"))[0] == 401
    # Even the right password is refused until the window ends.
    assert (await login(api, "bob", PASSWORDS["bob"]))[0] == 429
    assert (await login(api, "alice", PASSWORDS["alice"]))[0] == 200


async def test_a_removed_user_loses_sessions_and_tokens(api: Api) -> None:
    assert (await login(api, "bob", PASSWORDS["bob"]))[0] == 200
    assert (await api.client.get("/api/me")).status == 200
    resp = await api.call("DELETE", "/api/users/bob", user="admin")
    assert resp.status == 200
    assert (await api.client.get("/api/me")).status == 401
    assert (await api.call("GET", "/api/me", user="bob")).status == 401


async def test_admin_manages_users_and_tokens(api: Api) -> None:
    resp = await api.call("POST", "/api/users", user="admin",
                          body={"name": "carol", "role": "agent", "agent_id": "a3",
                                "password": "carol-pass-1234"})
    assert resp.status == 201
    resp = await api.call("POST", "/api/users", user="admin",
                          body={"name": "dave", "role": "agent", "password": "dave-pass-1234"})
    assert (resp.status, (await resp.json())["error_id"]) == (400, "invalid_request")
    resp = await api.call("POST", "/api/tokens", user="admin", body={"user": "carol"})
    made = await resp.json()
    assert resp.status == 201 and made["token"].startswith(f"acd_{made['token_id']}_")
    me = await api.call("GET", "/api/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert (await me.json())["agent_id"] == "a3"
    resp = await api.call("DELETE", f"/api/tokens/{made['token_id']}", user="admin")
    assert resp.status == 200
    me = await api.call("GET", "/api/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert me.status == 401
    listed = await (await api.call("GET", "/api/tokens", user="admin")).json()
    assert all("token" not in t for t in listed)


async def test_every_change_lands_in_audit(api: Api) -> None:
    changes = [
        ("PUT", "/api/lists/blocked/%2B15550666", "super", None),
        ("PUT", "/api/schedules/hotline/override", "super", {"override": "closed"}),
        ("POST", "/api/agents/a1/break", "alice", {"reason": "lunch"}),
        ("POST", "/api/agents/a1/available", "alice", None),
        ("POST", "/api/users", "admin", {"name": "erin", "role": "supervisor",
                                         "password": "erin-pass-1234"}),
        ("PUT", "/api/users/erin/password", "admin", {"password": "erin-pass-5678"}),
        ("DELETE", "/api/users/erin", "admin", None),
    ]
    for method, path, user, body in changes:
        resp = await api.call(method, path, user=user, body=body)
        assert resp.status in (200, 201), (path, await resp.text())
    rows = await api.h.pg.fetch("SELECT who, role, what, source, status, details FROM audit "
                                "ORDER BY id")
    assert [(r["who"], r["what"].split(" ")[0]) for r in rows] == [
        (user, method) for method, path, user, _ in changes]
    assert all(r["source"] == "127.0.0.1" and r["status"] in (200, 201) for r in rows)
    details = [json.loads(r["details"]) for r in rows]
    assert details[0]["number"] == "+15550666" and details[1]["override"] == "closed"
    assert details[2]["reason"] == "lunch" and details[2]["agent_id"] == "a1"
    assert rows[2]["what"] == "POST /api/agents/{agent_id}/{action}"


async def test_no_secret_in_clear_in_logs_redis_or_postgres(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_pw = "Sup3r-Secret-Passw0rd"
    await api.call("POST", "/api/users", user="admin",
                   body={"name": "frank", "role": "admin", "password": secret_pw})
    assert (await login(api, "frank", "wrong-" + secret_pw))[0] == 401
    status, cookie = await login(api, "frank", secret_pw)
    assert status == 200
    session = cookie.split("acd_session=", 1)[1].split(";", 1)[0]
    made = await (await api.call("POST", "/api/tokens", user="admin",
                                 body={"user": "frank"})).json()
    assert (await api.call("GET", "/api/queues",
                           headers={"Authorization": f"Bearer {made['token']}"})).status == 200
    secrets = [secret_pw, made["token"], made["token"].split("_")[-1], session,
               *api.tokens.values(), *PASSWORDS.values()]

    redis = api.h.app.redis
    assert redis is not None
    dump = []
    async for key in redis.scan_iter(match=f"*{api.h.prefix}*"):
        dump.append(key)
        kind = await redis.type(key)
        if kind == "string":
            dump.append(await redis.get(key))
        elif kind == "hash":
            dump.append(json.dumps(await redis.hgetall(key)))
    redis_text = "\n".join(dump)
    assert "session:" in redis_text  # the session is there, under a hash
    tables = ["users", "api_tokens", "audit", "calls", "agent_states", "dispositions"]
    pg_text = "\n".join([json.dumps([dict(r) for r in await api.h.pg.fetch(
        f"SELECT row_to_json(t)::text AS j FROM {t} AS t")]) for t in tables])
    assert "argon2id" in pg_text
    for secret in secrets:
        for where, text in (("log", caplog.text), ("redis", redis_text), ("pg", pg_text)):
            assert secret not in text, f"a secret is in clear in {where}"
    assert "login failed for user 'frank'" in caplog.text


async def test_cli_user_token_and_api(api: Api, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACD_PG_DSN", api.h.app.settings.pg_dsn.get_secret_value())
    monkeypatch.setattr("sys.stdin", io.StringIO("gina-pass-1234\n"))
    assert await asyncio.to_thread(main, ["user", "add", "gina", "--role", "supervisor"]) == 0
    assert await api.h.app.people.users.verify("gina", "gina-pass-1234") is not None  # type: ignore[union-attr]
    assert await asyncio.to_thread(main, ["token", "create", "gina"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("acd_")
    # The CLI finds the API from the configuration's port and sends the token.
    monkeypatch.setenv("ACD_API_PORT", str(api.client.port))
    monkeypatch.setenv("ACD_API_TOKEN", token)
    monkeypatch.delenv("ACD_API_URL", raising=False)
    assert await asyncio.to_thread(main, ["agent", "break", "a2", "--reason", "coffee"]) == 0
    assert await api.h.agent_state("a2") == "break"
    assert await asyncio.to_thread(main, ["define", "skills", "a2", "sales:4,support:1"]) == 0
    assert api.h.app.agents.defs["a2"].skills == {"sales": 4, "support": 1}  # type: ignore[union-attr]
    assert await asyncio.to_thread(main, ["define", "skills", "a2", "sales=4"]) == 2
    assert await asyncio.to_thread(main, ["user", "list"]) == 0
    assert "gina\tsupervisor" in capsys.readouterr().out
    monkeypatch.setenv("ACD_API_TOKEN", "acd_x_wrong")
    assert await asyncio.to_thread(main, ["agent", "available", "a2"]) == 1
    assert await api.h.agent_state("a2") == "break"
