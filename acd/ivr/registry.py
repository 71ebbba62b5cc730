"""The flows in force, looked up by dialled number, reloaded when their files change.

A flow file that breaks is refused: its errors are recorded (and logged) and
the version loaded before stays in force. A call that has started keeps the
`Flow` object it started with, whatever happens to the file afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from acd.ivr.catalog import FlowCatalog
from acd.ivr.cross_flow import settle
from acd.ivr.flow_settings import settings_from_env
from acd.ivr.judge import Context, Judgement, Worker, check_batch, plan
from acd.ivr.loader import read_sounds
from acd.ivr.model import Flow
from acd.ivr.problems import FlowError, FlowWarning

logger = logging.getLogger(__name__)


class FlowRegistry:
    """`settings` override the flows' `settings:` defaults; None: `ACD_FLOW_*` variables
    of the environment, read at every load."""

    def __init__(
        self,
        folder: str | Path,
        sounds: set[str] | None = None,
        settings: Mapping[str, str] | None = None,
        catalog: FlowCatalog | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.sounds = sounds
        self.settings: dict[str, str] | None = dict(settings) if settings is not None else None
        self.catalog = catalog
        self._judged: dict[str, Judgement] = {}
        self._lock: asyncio.Lock | None = None
        self._worker = Worker()
        self.errors: list[FlowError] = []
        self.warnings: list[FlowWarning] = []
        self.loads = 0
        self._by_file: dict[str, Flow] = {}
        self._by_name: dict[str, Flow] = {}
        self._by_number: dict[str, Flow] = {}
        self._default: Flow | None = None

    # ------------------------------------------------------------------ lookups

    def for_number(self, dialled: str) -> Flow | None:
        """The flow for a dialled number, else the default flow, else None."""
        return self._by_number.get(dialled, self._default)

    def get(self, name: str) -> Flow | None:
        return self._by_name.get(name)

    @property
    def flows(self) -> Mapping[str, Flow]:
        return MappingProxyType(self._by_name)

    def snapshot(self) -> Mapping[str, Flow]:
        """The flows by name as they are now: give it to a call for its subflows."""
        return MappingProxyType(dict(self._by_name))

    # ------------------------------------------------------------------ loading

    def _sounds(self) -> set[str] | None:
        if self.sounds is not None:
            return self.sounds
        listed = self.folder / "sounds.txt"
        return read_sounds(listed) if listed.is_file() else None

    def _context(self) -> Context:
        overrides = self.settings if self.settings is not None else settings_from_env()
        return Context(self._sounds(), dict(overrides), self.catalog)

    def load(self) -> bool:
        """(Re)load the folder, here and now. Returns True when every file loaded cleanly.

        Each file is judged on its own; a file whose bytes (and the settings, sounds
        and configuration) are those of its last judgement is not parsed again."""
        ctx = self._context()
        known, todo = plan(self.folder, self._judged, ctx)
        return self._apply({**known, **check_batch(todo, ctx)})

    async def load_async(self, *, in_process: bool = True) -> bool:
        """`load` for a running acd: files are read in a thread and checked in a worker
        process, so the event loop keeps serving calls while a file (however hostile)
        is judged. `in_process=False` checks in a thread (before calls are served)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                loads = self.loads
                ctx = await asyncio.to_thread(self._context)
                known, todo = await asyncio.to_thread(plan, self.folder, self._judged, ctx)
                if todo and in_process:
                    checked = await self._worker.check(todo, ctx)
                else:
                    checked = await asyncio.to_thread(check_batch, todo, ctx)
                if self.loads == loads:  # else a `load()` meanwhile saw newer files
                    return self._apply({**known, **checked})

    def close(self) -> None:
        """Stop the worker process, if one was started (whatever it was doing)."""
        self._worker.close(kill=True)

    def _apply(self, judged: dict[str, Judgement]) -> bool:
        candidates: dict[str, Flow] = {}
        errors: list[FlowError] = []
        warnings: list[FlowWarning] = []
        for file, j in judged.items():
            errors += j.errors
            warnings += j.warnings
            if j.flow is not None:
                previous = self._by_file.get(file)
                # Same text as the version in force: keep that very object (same version).
                same = previous is not None and previous.digest == j.flow.digest
                candidates[file] = previous if same and previous else j.flow
            else:
                self._keep_previous(file, candidates, fresh=j.fresh)
        self._judged = {f: replace(j, fresh=False) for f, j in judged.items()}
        errors += self._settle(candidates)
        self._commit(candidates, errors, warnings)
        return not errors

    def _keep_previous(self, file: str, candidates: dict[str, Flow], *, fresh: bool) -> None:
        previous = self._by_file.get(file)
        if previous is not None:
            candidates[file] = previous
        if previous is not None and fresh:
            logger.warning("flow file refused, keeping version %s", previous.version,
                           extra={"file": file, "flow": previous.name})

    def _settle(self, candidates: dict[str, Flow]) -> list[FlowError]:
        """Cross-flow checks; a new version that clashes gives way to the one in force."""
        errors: list[FlowError] = []
        for _ in range(len(candidates) + 1):
            in_force = {f for f, flow in candidates.items() if self._by_file.get(f) is flow}
            before = set(candidates)
            errors += settle(candidates, keep=in_force)
            restored = False
            for file in before - set(candidates):
                previous = self._by_file.get(file)
                if previous is not None and file not in in_force:
                    candidates[file] = previous
                    restored = True
            if not restored:
                break
        return errors

    def _commit(
        self, flows: dict[str, Flow], errors: list[FlowError], warnings: list[FlowWarning]
    ) -> None:
        changed = [f.name for file, f in flows.items() if self._by_file.get(file) is not f]
        self._by_file = flows
        self._by_name = {f.name: f for f in flows.values()}
        self._by_number = {n: f for f in flows.values() for n in f.numbers}
        self._default = next((f for f in flows.values() if f.default), None)
        before = {str(e) for e in self.errors}
        self.errors = errors
        self.warnings = warnings
        self.loads += 1
        for e in errors:  # once each, not again at every later reload
            if str(e) not in before:
                logger.error("flow error: %s", e, extra={"file": e.file})
        for w in warnings:
            logger.warning("flow %s", w)
        refused = sorted({e.file for e in errors})
        if refused:
            logger.warning("flow files refused: %s", ", ".join(refused))
        if changed:
            logger.info("flows loaded: %s", ", ".join(sorted(changed)))

    async def watch(
        self,
        stop_event: asyncio.Event | None = None,
        on_reload: Callable[[FlowRegistry], None] | None = None,
        debounce_ms: int = 300,
    ) -> None:
        """Reload whenever a flow file (or sounds.txt) changes, until `stop_event` is set."""
        from watchfiles import awatch

        try:
            async for changes in awatch(
                self.folder, stop_event=stop_event, debounce=debounce_ms, recursive=False
            ):
                names = {Path(p).name for _, p in changes}
                if not any(n.endswith((".yaml", ".yml")) or n == "sounds.txt" for n in names):
                    continue
                try:
                    await self.load_async()
                except Exception:  # a reload must never kill the watcher
                    logger.exception("reloading flows failed")
                    continue
                if on_reload is not None:
                    on_reload(self)
        finally:
            self.close()
