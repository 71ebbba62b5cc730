"""Judging the files of a flow folder one by one, away from the event loop.

`plan` reads what changed (cheap: a stat, the bytes, a hash) and keeps the verdict
of every file whose bytes, settings, sounds and configuration are those it was
judged with: a refused file is not parsed again until it changes. `check_batch`
parses and validates the rest; a running acd does that in a worker *process*
(`Worker`), not a thread: parsing YAML is pure Python, and a thread holding the
GIL delayed the event loop by up to 136 ms on this 2-core machine against 28 ms
for a process. A check that takes longer than `CHECK_TIMEOUT` kills the worker
and refuses the files it was judging.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import multiprocessing
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acd.ivr.catalog import FlowCatalog
from acd.ivr.loader import check_flow, flow_files
from acd.ivr.model import Flow
from acd.ivr.problems import FlowError, FlowWarning
from acd.ivr.source import too_big

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 30.0


@dataclass(frozen=True)
class Judgement:
    """One file's verdict, kept until its bytes (or what it is checked against) change."""

    key: str
    flow: Flow | None
    errors: list[FlowError]
    warnings: list[FlowWarning]
    fresh: bool = False  # judged by this load (not taken from an earlier one)


@dataclass(frozen=True)
class Todo:
    file: str
    key: str
    text: str


@dataclass(frozen=True)
class Context:
    sounds: set[str] | None
    settings: dict[str, str]
    catalog: FlowCatalog | None

    def fingerprint(self) -> str:
        catalog = self.catalog.fingerprint() if self.catalog is not None else ""
        return repr((sorted(self.settings.items()), sorted(self.sounds or ()), catalog))


def refused(file: str, message: str, key: str = "") -> Judgement:
    return Judgement(key, None, [FlowError(file, 1, 1, None, message)], [], fresh=True)


def plan(folder: Path, before: Mapping[str, Judgement],
         ctx: Context) -> tuple[dict[str, Judgement], list[Todo]]:
    """(verdicts known without parsing, files to check). Never raises for a file."""
    fingerprint = ctx.fingerprint().encode()
    known: dict[str, Judgement] = {}
    todo: list[Todo] = []
    for path in flow_files(folder):
        file = str(path)
        previous = before.get(file)
        try:
            st = path.stat()
            big = too_big(file, st.st_size)
            if big is not None:  # refused on its size: never read
                key = f"big:{st.st_size}:{st.st_mtime_ns}"
                known[file] = previous if previous and previous.key == key else Judgement(
                    key, None, [big], [], fresh=True)
                continue
            raw = path.read_bytes()
        except OSError as e:
            known[file] = refused(file, f"cannot read the file: {e}")
            continue
        key = hashlib.sha256(raw + b"\0" + fingerprint).hexdigest()
        if previous is not None and previous.key == key:
            known[file] = previous
            continue
        try:
            todo.append(Todo(file, key, raw.decode("utf-8")))
        except UnicodeDecodeError as e:
            known[file] = refused(file, f"cannot read the file: {e}", key)
    return known, todo


def check_batch(todo: list[Todo], ctx: Context) -> dict[str, Judgement]:
    """Parse and validate each file (check_flow never raises for bad input)."""
    out: dict[str, Judgement] = {}
    for t in todo:
        flow, errors, warnings = check_flow(t.file, ctx.sounds, text=t.text,
                                            settings=ctx.settings, catalog=ctx.catalog)
        out[t.file] = Judgement(t.key, flow, errors, warnings, fresh=True)
    return out


def _background() -> None:
    """In the worker: yield the CPU to acd itself (on a busy machine the event loop
    must win over checking a file)."""
    with contextlib.suppress(OSError):
        os.nice(10)


class Worker:
    """One worker process, started on first use, replaced when it breaks or hangs."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def check(self, todo: list[Todo], ctx: Context) -> dict[str, Judgement]:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_background)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, check_batch, todo, ctx), CHECK_TIMEOUT)
        except TimeoutError:
            logger.error("checking flow files took over %g s; the worker is stopped",
                         CHECK_TIMEOUT)
            self.close(kill=True)
            return {t.file: refused(t.file, f"checking the file took over {CHECK_TIMEOUT:g} s;"
                                    " the file is refused", t.key) for t in todo}
        except concurrent.futures.process.BrokenProcessPool:
            logger.error("the flow checking worker died; the files are refused this time")
            self.close(kill=True)
            return {t.file: refused(t.file, "the worker checking the file died; the file is "
                                    "refused until it changes or acd reloads", "")
                    for t in todo}

    def close(self, *, kill: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
