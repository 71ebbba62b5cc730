"""Where a secret could leak once a call is over: log records, Redis, PostgreSQL, files.

Each `*_texts` function returns (where, text) pairs; `find_secret` says which of
them hold the secret, written plainly or with separators between its digits.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

MAX_KEYS = 200_000  # a whole-keyspace scan stops here: "cheap" on a shared Redis
MAX_ITEMS = 10_000  # elements read per list, set, zset, hash or stream


def secret_pattern(digits: str) -> re.Pattern[str]:
    """The digits in order, with up to four non-alphanumeric characters between two of
    them ("4111 1111", "4111-1111", '["4", "1"', "4.1.1.1" all match)."""
    return re.compile(r"[^0-9A-Za-z]{0,4}".join(re.escape(d) for d in digits))


def find_secret(digits: str, texts: Iterable[tuple[str, str]]) -> list[str]:
    """Where (with an excerpt) the secret appears among `texts`."""
    pattern = secret_pattern(digits)
    found: list[str] = []
    for where, text in texts:
        m = pattern.search(text)
        if m is not None:
            found.append(f"{where}: ...{text[max(0, m.start() - 60):m.end() + 20]!r}...")
    return found


# -------------------------------------------------------------------- logs

_FORMATTER = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


@contextlib.contextmanager
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG into `caplog`, those that do not propagate too."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
    deaf = [lg for lg in logging.root.manager.loggerDict.values()
            if isinstance(lg, logging.Logger) and not lg.propagate]
    for lg in deaf:
        lg.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for lg in deaf:
            lg.removeHandler(caplog.handler)


def log_texts(records: Iterable[logging.LogRecord]) -> list[tuple[str, str]]:
    """Each record formatted (message, traceback) and every attribute it carries
    (args, `extra=` fields)."""
    out: list[tuple[str, str]] = []
    for i, record in enumerate(records):
        where = f"log record #{i} ({record.name}:{record.lineno})"
        out.append((where, _FORMATTER.format(record)))
        out.append((where + " attributes", repr(sorted(record.__dict__.items(), key=str))))
    return out


# ------------------------------------------------------------------- Redis


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


async def redis_value(client: aioredis.Redis, key: bytes) -> str | None:
    """The value of any key as text (None when it vanished or is of another kind)."""
    kind = _text(await client.type(key))
    parts: list[object]
    if kind == "string":
        return _text(await client.get(key))
    if kind == "hash":
        parts = []
        async for field, value in client.hscan_iter(key, count=1000):
            parts += [field, value]
            if len(parts) >= 2 * MAX_ITEMS:
                break
    elif kind == "list":
        parts = list(await client.lrange(key, 0, MAX_ITEMS - 1))
    elif kind == "set":
        parts = []
        async for member in client.sscan_iter(key, count=1000):
            parts.append(member)
            if len(parts) >= MAX_ITEMS:
                break
    elif kind == "zset":
        parts = [m for pair in await client.zrange(key, 0, MAX_ITEMS - 1, withscores=True)
                 for m in pair]
    elif kind == "stream":
        parts = []
        for entry_id, fields in await client.xrange(key, count=MAX_ITEMS) or []:
            parts.append(entry_id)
            for field, value in (fields or {}).items():
                parts += [field, value]
    else:
        return None
    return "\n".join(_text(p) for p in parts)


async def redis_texts(url: str, match: str = "*") -> tuple[list[tuple[str, str]], int]:
    """Every key matching `match` and its value, and how many keys were scanned."""
    client = aioredis.Redis.from_url(url, decode_responses=False)
    out: list[tuple[str, str]] = []
    scanned = 0
    try:
        async for key in client.scan_iter(match=match, count=1000):
            scanned += 1
            name = _text(key)
            out.append((f"redis key name {name!r}", name))
            try:
                value = await redis_value(client, key)
            except aioredis.ResponseError:
                value = None  # changed kind between TYPE and the read (another session)
            if value is not None:
                out.append((f"redis key {name!r}", value))
            if scanned >= MAX_KEYS:
                break
    finally:
        await client.aclose()
    return out, scanned


# -------------------------------------------------------------- PostgreSQL


async def pg_texts(pool: asyncpg.Pool) -> tuple[list[tuple[str, str]], list[str]]:
    """Every row of every table of the public schema as JSON text, and the tables."""
    tables = [r["table_name"] for r in await pool.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name")]
    out: list[tuple[str, str]] = []
    for table in tables:
        ident = '"' + table.replace('"', '""') + '"'
        rows = await pool.fetch(f"SELECT row_to_json(t)::text AS j FROM public.{ident} t")
        out += [(f"table {table} row #{i}", str(r["j"])) for i, r in enumerate(rows)]
    return out, tables


# ------------------------------------------------------------------- files


def file_texts(folder: Path) -> list[tuple[str, str]]:
    """Every file under `folder` (absent folder: nothing), its name and its bytes."""
    if not folder.exists():
        return []
    out: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        out.append((f"file name {path}", str(path.relative_to(folder))))
        if path.is_file():
            out.append((f"file {path}", path.read_bytes().decode("utf-8", errors="replace")))
    return out
