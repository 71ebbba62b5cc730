"""The flows in force, looked up by dialled number, reloaded when their files change.

A flow file that breaks is refused: its errors are recorded (and logged) and
the version loaded before stays in force. A call that has started keeps the
`Flow` object it started with, whatever happens to the file afterwards.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from acd.ivr.flow_settings import settings_from_env
from acd.ivr.loader import check_flow, flow_files, read_sounds, settle
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
    ) -> None:
        self.folder = Path(folder)
        self.sounds = sounds
        self.settings: dict[str, str] | None = dict(settings) if settings is not None else None
        self.errors: list[FlowError] = []
        self.warnings: list[FlowWarning] = []
        self.loads = 0
        self._by_file: dict[str, Flow] = {}
        self._text_digest: dict[str, str] = {}  # file -> digest of (text, settings) in force
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

    def load(self) -> bool:
        """(Re)load the folder. Returns True when every file loaded cleanly."""
        sounds = self._sounds()
        overrides = self.settings if self.settings is not None else settings_from_env()
        fingerprint = repr(sorted(overrides.items()))
        candidates: dict[str, Flow] = {}
        digests: dict[str, tuple[str, Flow]] = {}  # file -> (digest, the flow it gave)
        errors: list[FlowError] = []
        warnings: list[FlowWarning] = []
        for path in flow_files(self.folder):
            file = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                errors.append(FlowError(file, 1, 1, None, f"cannot read the file: {e}"))
                self._keep_previous(file, candidates)
                continue
            previous = self._by_file.get(file)
            digest = _digest(text + "\0" + fingerprint)
            if previous is not None and self._text_digest.get(file) == digest:
                candidates[file] = previous  # unchanged: same object, same version
                digests[file] = (digest, previous)
                continue
            flow, errs, warns = check_flow(path, sounds, text=text, settings=overrides)
            errors += errs
            warnings += warns
            if flow is not None:
                candidates[file] = flow
                digests[file] = (digest, flow)
            else:
                self._keep_previous(file, candidates)
        errors += self._settle(candidates)
        # A file whose new text was refused keeps the digest of the version in force,
        # so that the next load checks (and reports) the new text again.
        self._text_digest = {
            f: digests[f][0] if f in digests and digests[f][1] is flow
            else self._text_digest.get(f, "")
            for f, flow in candidates.items()
        }
        self._commit(candidates, errors, warnings)
        return not errors

    def _keep_previous(self, file: str, candidates: dict[str, Flow]) -> None:
        previous = self._by_file.get(file)
        if previous is not None:
            candidates[file] = previous
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
        self.errors = errors
        self.warnings = warnings
        self.loads += 1
        for e in errors:
            logger.error("flow error: %s", e)
        for w in warnings:
            logger.warning("flow %s", w)
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

        async for changes in awatch(
            self.folder, stop_event=stop_event, debounce=debounce_ms, recursive=False
        ):
            names = {Path(p).name for _, p in changes}
            if not any(n.endswith((".yaml", ".yml")) or n == "sounds.txt" for n in names):
                continue
            try:
                self.load()
            except Exception:  # a reload must never kill the watcher
                logger.exception("reloading flows failed")
                continue
            if on_reload is not None:
                on_reload(self)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
