"""The per-channel control queue of Asterisk's Stasis (res/stasis/control.c).

Every ARI operation on a channel in Stasis is a command run by that channel's own
thread, one at a time, in order. A playback is such a command and holds the
queue until it ends, so an `answer`, `addChannel` or `variable` sent while a
prompt plays waits for the prompt (README items 1 and 9). Commands that return
at once over REST (`play`, `moh`, `dtmf`, `hold`, `continue`) are still queued:
their effect waits, only the HTTP answer does not. `DELETE /playbacks/{id}` and
`DELETE /channels/{id}` act from outside the queue.

A command is `run(release)`: it does its work and calls `release()` when the
queue may move on (at once for most, when the prompt ends for a playback).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Release = Callable[[], None]
Command = Callable[[Release], None]


class ChannelGone(Exception):
    """The channel left Stasis before a queued command could run."""


class ControlQueue:
    __slots__ = ("_busy", "_draining", "_pending", "_turn", "closed")

    def __init__(self) -> None:
        self._pending: deque[tuple[Command, Callable[[], None] | None]] = deque()
        self._busy = False
        self._draining = False
        self._turn = 0
        self.closed = False

    @property
    def busy(self) -> bool:
        return self._busy

    def __len__(self) -> int:
        return len(self._pending)

    def cast(self, run: Command, abort: Callable[[], None] | None = None) -> None:
        """Queue `run`; `abort` is called instead if the channel goes first."""
        if self.closed:
            if abort is not None:
                abort()
            return
        self._pending.append((run, abort))
        self._drain()

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue `fn` and return a future for its result (ChannelGone if never run)."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def run(release: Release) -> None:
            try:
                result = fn()
            except Exception as exc:  # handed to the waiting request
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(result)
            release()

        def abort() -> None:
            if not fut.done():
                fut.set_exception(ChannelGone())

        self.cast(run, abort)
        return fut

    def close(self) -> None:
        """The channel left Stasis: abort every command still waiting, in order."""
        self.closed = True
        while self._pending:
            _, abort = self._pending.popleft()
            if abort is not None:
                abort()

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending and not self._busy and not self.closed:
                run, _ = self._pending.popleft()
                self._busy = True
                self._turn += 1
                run(self._releaser(self._turn))
        finally:
            self._draining = False

    def _releaser(self, turn: int) -> Release:
        def release() -> None:
            if self._turn == turn and self._busy:
                self._busy = False
                self._drain()
        return release
