"""Read flow files: YAML with the line and column of every key and value, then validate.

Every problem is reported as a `FlowError` (or `FlowWarning`) that names the file,
line, column and node, with a "did you mean" for misspelt node types, targets and
field names, so that `acd ivr validate` reads like a compiler.

The file is parsed by `acd.ivr.source`, built into a `Flow` by `acd.ivr.build`,
then checked (`checks`, `strict`, the catalog, `analysis`); the flows of a folder
are checked against each other by `acd.ivr.cross_flow`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from acd.ivr import checks, strict
from acd.ivr.analysis import analyse
from acd.ivr.build import build_flow
from acd.ivr.catalog import FlowCatalog, check_refs
from acd.ivr.cross_flow import settle
from acd.ivr.flow_settings import apply_settings, flow_digest, settings_from_env
from acd.ivr.model import Flow
from acd.ivr.problems import FlowError, FlowWarning
from acd.ivr.source import parse, too_big

__all__ = [
    "FlowError",
    "FlowWarning",
    "LoadedFlow",
    "check_flow",
    "load_flow",
    "load_folder",
    "read_sounds",
    "settings_from_env",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedFlow:
    flow: Flow
    warnings: list[FlowWarning] = field(default_factory=list)


def check_flow(
    path: str | Path,
    sounds: set[str] | None = None,
    *,
    text: str | None = None,
    settings: Mapping[str, str] | None = None,
    catalog: FlowCatalog | None = None,
) -> tuple[Flow | None, list[FlowError], list[FlowWarning]]:
    """Load one file and return (flow or None, errors, warnings); never raises for bad input.

    `settings` override the defaults of the flow's `settings:` block (names the
    flow does not declare are ignored: one mapping serves every flow). With a
    `catalog`, every queue, chain, list, schedule, sound and URL the flow uses
    must be one the configuration offers.
    """
    file = str(path)
    try:
        return _check(file, sounds, text, settings, catalog)
    except Exception as e:  # a bug of ours must refuse this file, not stop the others
        logger.exception("checking flow file %s failed", file)
        return None, [FlowError(file, 1, 1, None, f"internal error while checking the file "
                                f"({type(e).__name__}); the file is refused")], []


def _check(
    file: str,
    sounds: set[str] | None,
    text: str | None,
    settings: Mapping[str, str] | None,
    catalog: FlowCatalog | None,
) -> tuple[Flow | None, list[FlowError], list[FlowWarning]]:
    if text is None:
        try:
            big = too_big(file, Path(file).stat().st_size)
            if big is not None:
                return None, [big], []
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            return None, [FlowError(file, 1, 1, None, f"cannot read the file: {e}")], []
    doc = parse(text, file)
    if doc.errors:
        return None, doc.errors, []
    resolved = apply_settings(doc.data, settings or {}, doc.error)
    if doc.errors:
        return None, sorted(doc.errors, key=lambda e: (e.line, e.column)), []
    flow = build_flow(doc, flow_digest(text, resolved))
    if flow is None:
        return None, sorted(doc.errors, key=lambda e: (e.line, e.column)), []
    errors, warnings = checks.check(flow)
    errors += strict.check(flow)
    if catalog is not None:
        errors += check_refs(flow, catalog)
    more_errors, more_warnings = analyse(flow, sounds)
    errors += more_errors
    warnings += more_warnings
    if errors:
        return None, errors, warnings
    return flow, [], warnings


def load_flow(
    path: str | Path, sounds: set[str] | None = None, settings: Mapping[str, str] | None = None
) -> LoadedFlow:
    """Load one flow file. Raises the first `FlowError`; `.errors` on it lists them all."""
    flow, errors, warnings = check_flow(path, sounds, settings=settings)
    if flow is None:
        first = errors[0]
        first.errors = errors
        first.details["errors"] = [str(e) for e in errors]
        raise first
    return LoadedFlow(flow, warnings)


def read_sounds(path: str | Path) -> set[str]:
    """A sounds list: one media name per line ("sound:acd-welcome" or "acd-welcome")."""
    out: set[str] = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line if ":" in line else f"sound:{line}")
    return out


def flow_files(folder: str | Path) -> list[Path]:
    base = Path(folder)
    return sorted([*base.glob("*.yaml"), *base.glob("*.yml")])


def load_folder(
    path: str | Path,
    sounds: set[str] | None = None,
    settings: Mapping[str, str] | None = None,
    catalog: FlowCatalog | None = None,
) -> tuple[dict[str, Flow], list[FlowError], list[FlowWarning]]:
    """Load every `*.yaml` in a folder: (flows by name, errors, warnings).

    A file with errors is left out; so is a file that clashes with another one.
    A `sounds.txt` next to the flows is used when `sounds` is not given.
    """
    folder = Path(path)
    if sounds is None and (folder / "sounds.txt").is_file():
        sounds = read_sounds(folder / "sounds.txt")
    good: dict[str, Flow] = {}
    errors: list[FlowError] = []
    warnings: list[FlowWarning] = []
    for file in flow_files(folder):
        flow, errs, warns = check_flow(file, sounds, settings=settings, catalog=catalog)
        errors += errs
        warnings += warns
        if flow is not None:
            good[str(file)] = flow
    errors += settle(good)
    return {f.name: f for f in good.values()}, errors, warnings
