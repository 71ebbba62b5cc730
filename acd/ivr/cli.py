"""`acd ivr validate` and `acd ivr graph` (the lead wires them into `acd`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from acd.errors import ConfigError
from acd.ivr.catalog import FlowCatalog, catalog_from_settings
from acd.ivr.graph import render
from acd.ivr.loader import check_flow, load_folder, read_sounds, settings_from_env
from acd.ivr.problems import FlowError, FlowWarning


def _sounds_near(path: Path) -> set[str] | None:
    listed = (path if path.is_dir() else path.parent) / "sounds.txt"
    return read_sounds(listed) if listed.is_file() else None


def _catalog(config: str | None, sounds_dir: str | None) -> FlowCatalog | None:
    """The catalog of `config`, else of the configuration `acd run` would read (ACD_CONFIG,
    else config/acd.yaml) when there is one. ConfigError when it is wrong."""
    from acd.config import DEFAULT_CONFIG, load_settings

    path = Path(config) if config else Path(os.environ.get("ACD_CONFIG", str(DEFAULT_CONFIG)))
    if not path.is_file():
        if config:
            raise ConfigError(f"{config}: no such configuration file", file=config)
        return None
    settings = load_settings(path, env={})
    if sounds_dir is not None:
        settings.ivr.sounds_dir = sounds_dir
    try:
        return catalog_from_settings(settings)
    except ValueError as e:
        raise ConfigError(f"{path}: ivr: {e}", file=str(path)) from None


def validate_cmd(
    paths: Sequence[str],
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    config: str | None = None,
    use_config: bool = True,
    sounds_dir: str | None = None,
) -> int:
    """Check flow files and folders like a compiler: 0 when clean, 1 on any error.

    Warnings are printed but do not fail. A `sounds.txt` beside the flows is used
    to check that every prompt exists. The flows are checked against a
    configuration (queues, chains, lists, schedules, http allow-list, installed
    sounds): `config`, else the one `acd run` would read, unless `use_config` is
    False. With no paths: the shipped `ivr_flows` against `config/acd.yaml`.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    errors: list[FlowError] = []
    warnings: list[FlowWarning] = []
    count = 0
    settings = settings_from_env()
    try:
        catalog = _catalog(config, sounds_dir) if use_config else None
    except ConfigError as e:
        print(f"configuration: {e.message}", file=err)
        return 1
    for raw in paths or ["ivr_flows"]:
        path = Path(raw)
        if path.is_dir():
            flows, errs, warns = load_folder(path, _sounds_near(path), settings, catalog)
            count += len(flows)
        elif path.exists():
            flow, errs, warns = check_flow(path, _sounds_near(path), settings=settings,
                                           catalog=catalog)
            count += flow is not None
        else:
            errs, warns = [FlowError(raw, 1, 1, None, "no such file or folder")], []
        errors += errs
        warnings += warns
    for problem in [*errors, *warnings]:
        print(problem, file=err)
    print(f"{count} flow(s) ok, {len(errors)} error(s), {len(warnings)} warning(s)", file=out)
    return 1 if errors else 0


def graph_cmd(flow_path: str, fmt: str = "mermaid", out: TextIO | None = None) -> int:
    """Print a flow as Mermaid or Graphviz text; 1 (with the errors) if it does not load."""
    out = out or sys.stdout
    flow, errors, _ = check_flow(flow_path)
    if flow is None:
        for e in errors:
            print(e, file=sys.stderr)
        return 1
    try:
        print(render(flow, fmt), end="", file=out)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    return 0
