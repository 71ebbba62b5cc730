"""A small TCP proxy in front of PostgreSQL, to take the database away and back.

`down()` closes the listening socket and cuts every connection (clients then get
"connection refused"); `up()` listens again on the same port. `stall` makes new
connections hang without an answer (a database that is slow, not gone).
`cut_on_commit` forwards the next COMMIT to the server, then cuts the client off
before the reply reaches it: the client cannot know whether its transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# The simple-protocol query asyncpg sends to end a transaction ("ON COMMIT" in DDL
# must not match).
_COMMIT = b"COMMIT;\x00"


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.stall = False
        self.cut_on_commit = False
        self.commits_cut = 0
        self.cuts_in_progress = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def for_dsn(cls, dsn: str) -> TcpProxy:
        parts = urlsplit(dsn)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432)

    def dsn(self, dsn: str) -> str:
        """`dsn` pointed at this proxy."""
        parts = urlsplit(dsn)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2
                                         else host))

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def up(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                      reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def close(self) -> None:
        await self.down()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.stall:
            return  # never answer; the client's connect timeout decides
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        cut = asyncio.Event()
        self._spawn(self._pump(reader, up_writer, cut, client_side=True))
        self._spawn(self._pump(up_reader, writer, cut, client_side=False))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    cut: asyncio.Event, *, client_side: bool) -> None:
        try:
            while data := await reader.read(65536):
                if cut.is_set():
                    continue  # the reply to the cut COMMIT never arrives
                if client_side and self.cut_on_commit and _COMMIT in data:
                    self.cut_on_commit = False
                    self.commits_cut += 1
                    self.cuts_in_progress += 1
                    cut.set()  # before the server can answer
                    writer.write(data)
                    try:
                        # Let the server run the COMMIT, then take the database away.
                        await asyncio.sleep(0.3)
                        await self.down()
                    finally:
                        self.cuts_in_progress -= 1
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.transport.abort()
