"""`acd user ...` and `acd token ...`: people managed straight in PostgreSQL.

They work without a running acd (the first admin must come from somewhere): the
database is the configuration's `pg_dsn`. Passwords come from stdin when it is
not a terminal, else from a prompt; they are never taken on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from acd.people.users import UserStore

TOKEN_FILE = Path.home() / ".config" / "acd" / "token"


def add_people_parsers(sub: Any) -> None:
    user = sub.add_parser("user", help="users who log in (agents, supervisors, admins)")
    user.add_argument("--config", type=Path, default=None)
    us = user.add_subparsers(dest="user_cmd", required=True)
    add = us.add_parser("add", help="add a user (password from stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["agent", "supervisor", "admin"])
    add.add_argument("--agent", default=None, help="the agent id of an agent user")
    us.add_parser("list", help="list users")
    rm = us.add_parser("remove", help="remove a user")
    rm.add_argument("name")
    pw = us.add_parser("passwd", help="set a user's password (stdin or a prompt)")
    pw.add_argument("name")
    token = sub.add_parser("token", help="API tokens for the CLI and integrations")
    token.add_argument("--config", type=Path, default=None)
    ts = token.add_subparsers(dest="token_cmd", required=True)
    cr = ts.add_parser("create", help="create a token for a user and print it once")
    cr.add_argument("user")
    cr.add_argument("--label", default="")
    rv = ts.add_parser("revoke", help="revoke a token by its id")
    rv.add_argument("token_id")
    ts.add_parser("list", help="list tokens (ids, users, labels)")


def read_password(prompt: str = "password: ") -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(prompt)
    if getpass.getpass("again: ") != first:
        raise SystemExit("acd: the passwords differ")
    return first


async def _with_store(config: Path | None, work: Callable[[UserStore], Awaitable[int]]) -> int:
    from acd.app import ensure_database
    from acd.config import load_settings
    from acd.store.migrate import migrate

    dsn = load_settings(config).pg_dsn.get_secret_value()
    await ensure_database(dsn)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        await migrate(pool)
        return await work(UserStore(pool))
    finally:
        await pool.close()


def run_people(args: argparse.Namespace) -> int:
    """Run `acd user ...` or `acd token ...`."""
    async def work(store: UserStore) -> int:
        who = os.environ.get("USER", "cli")
        if args.cmd == "user":
            if args.user_cmd == "add":
                password = read_password()
                user = await store.add(args.name, args.role, password, args.agent)
                await store.audit(f"cli:{who}", None, "user add", "cli", 0,
                                  {"user": user.name, "role": user.role})
                print(f"user {user.name} added ({user.role})")
            elif args.user_cmd == "list":
                for u in await store.list():
                    print(f"{u.name}\t{u.role}\t{u.agent_id or ''}")
            elif args.user_cmd == "remove":
                await store.remove(args.name)
                await store.audit(f"cli:{who}", None, "user remove", "cli", 0,
                                  {"user": args.name})
                print(f"user {args.name} removed")
            else:
                await store.set_password(args.name, read_password())
                await store.audit(f"cli:{who}", None, "user passwd", "cli", 0,
                                  {"user": args.name})
                print(f"password of {args.name} changed")
            return 0
        if args.token_cmd == "create":
            token_id, token = await store.create_token(args.user, args.label)
            await store.audit(f"cli:{who}", None, "token create", "cli", 0,
                              {"user": args.user, "token_id": token_id})
            print(f"token {token_id} for {args.user} (shown once; keep it in "
                  f"ACD_API_TOKEN or {TOKEN_FILE}):", file=sys.stderr)
            print(token)
        elif args.token_cmd == "revoke":
            await store.revoke_token(args.token_id)
            await store.audit(f"cli:{who}", None, "token revoke", "cli", 0,
                              {"token_id": args.token_id})
            print(f"token {args.token_id} revoked")
        else:
            for t in await store.tokens():
                print(f"{t['token_id']}\t{t['user']}\t{t['label']}\t"
                      f"{'revoked' if t['revoked_at'] else 'live'}")
        return 0

    return asyncio.run(_with_store(args.config, work))


def api_base(env: dict[str, str] | None = None) -> str:
    """Where the CLI finds the API: ACD_API_URL, else the configuration's api.host
    and api.port (ACD_API_PORT overrides the port)."""
    from acd.config import api_base_url, load_settings

    env = dict(os.environ) if env is None else env
    if env.get("ACD_API_URL"):
        return env["ACD_API_URL"].rstrip("/")
    return api_base_url(load_settings(env=env))


def api_token(env: dict[str, str] | None = None) -> str | None:
    """The CLI's token: ACD_API_TOKEN, else the file ACD_API_TOKEN_FILE or
    ~/.config/acd/token."""
    env = dict(os.environ) if env is None else env
    if env.get("ACD_API_TOKEN"):
        return env["ACD_API_TOKEN"].strip()
    path = Path(env.get("ACD_API_TOKEN_FILE") or TOKEN_FILE)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
