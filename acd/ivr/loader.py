"""Read flow files: YAML with the line and column of every key and value, then validate.

Every problem is reported as a `FlowError` (or `FlowWarning`) that names the file,
line, column and node, with a "did you mean" for misspelt node types, targets and
field names, so that `acd ivr validate` reads like a compiler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from acd.ivr import checks, strict
from acd.ivr.analysis import analyse, sccs
from acd.ivr.catalog import FlowCatalog, check_refs
from acd.ivr.flow_settings import apply_settings, flow_digest, settings_from_env
from acd.ivr.model import NODE_TYPES, Flow, Node, SubflowNode, field_names
from acd.ivr.problems import FlowError, FlowWarning, suggest
from acd.ivr.source import MAX_NODES, too_big
from acd.ivr.source import Doc as _Doc
from acd.ivr.source import parse as _parse

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

TOP_KEYS = (
    "name", "description", "numbers", "default", "language", "settings", "start", "nodes",
)
_NODE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

Path_ = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadedFlow:
    flow: Flow
    warnings: list[FlowWarning] = field(default_factory=list)


# ------------------------------------------------------------------- validation


def _pydantic_errors(doc: _Doc, base: Path_, model: type[BaseModel], err: ValidationError) -> None:
    seen: set[str] = set()
    found = err.errors()
    # A misspelt field shows up twice: as unknown, and the right one as missing.
    meant = {
        suggest(str(e["loc"][-1]), field_names(_model_at(model, tuple(map(str, e["loc"][:-1])))
                                               or model))
        for e in found
        if e["type"] == "extra_forbidden"
    }
    for e in found:
        on_key = "[key]" in e["loc"]
        loc = tuple(str(x) for x in e["loc"] if x != "[key]")
        if e["type"] == "missing" and loc and loc[-1] in meant:
            continue
        if loc[:1] and loc[0] in seen:
            continue  # one message per field: unions otherwise repeat themselves
        seen.add(loc[0] if loc else "")
        path = (*base, *loc)
        dotted = ".".join(loc)
        kind, msg = e["type"], str(e["msg"])
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            names = field_names(parent) if parent else []
            doc.error(path, f"unknown field '{loc[-1]}'", suggest(loc[-1], names))
        elif kind == "missing":
            doc.error(path[:-1], f"missing field '{dotted}'")
        elif kind == "literal_error":
            expected = re.findall(r"'([^']*)'", str(e.get("ctx", {}).get("expected", "")))
            given = e.get("input")
            hint = suggest(str(given), expected) if isinstance(given, str) else None
            doc.error(path, f"field '{dotted}': {given!r} is not one of {', '.join(expected)}",
                      hint, at_value=not on_key)
        else:
            msg = msg.removeprefix("Value error, ")
            label = f"field '{dotted}': " if dotted else ""
            doc.error(path, label + msg[:1].lower() + msg[1:], at_value=bool(dotted))


def _model_at(model: type[BaseModel], loc: tuple[str, ...]) -> type[BaseModel] | None:
    """The (nested) model that a location inside `model` belongs to."""
    current: type[BaseModel] = model
    for part in loc:
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        ann = fields[part].annotation if part in fields else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            current = ann
        elif part.isdigit():
            continue
        else:
            return None
    return current


def _node(doc: _Doc, node_id: str, raw: Any) -> Node | None:
    path = ("nodes", node_id)
    if not _NODE_ID.match(node_id):
        doc.error(path, "a node id is letters, digits, '_' and '-'")
    if not isinstance(raw, dict):
        doc.error(path, "a node is a mapping with at least 'type'", at_value=True)
        return None
    kind = raw.get("type")
    if kind is None:
        doc.error(path, "missing field 'type'")
        return None
    if not isinstance(kind, str) or kind not in NODE_TYPES:
        doc.error((*path, "type"), f"unknown node type '{kind}'", suggest(str(kind), NODE_TYPES))
        return None
    model = NODE_TYPES[kind]
    try:
        return model.model_validate({str(k): v for k, v in raw.items()})  # type: ignore[return-value]
    except ValidationError as err:
        _pydantic_errors(doc, path, model, err)
        return None


def _top(doc: _Doc) -> dict[str, Any] | None:
    data = doc.data
    if not isinstance(data, dict):
        doc.error((), "a flow file is a mapping with name, numbers, start and nodes")
        return None
    for key in data:
        if str(key) not in TOP_KEYS:
            doc.error((str(key),), f"unknown top-level key '{key}'", suggest(str(key), TOP_KEYS))
    for key in ("name", "start", "nodes"):
        if key not in data:
            doc.error((), f"missing top-level key '{key}'")
    if "name" in data and not (isinstance(data["name"], str) and data["name"].strip()):
        doc.error(("name",), "'name' must be a non-empty text", at_value=True)
    elif "name" in data and (why := strict.flow_name_problem(data["name"])):
        doc.error(("name",), why, at_value=True)
    numbers = data.get("numbers", [])
    if not isinstance(numbers, list) or not all(
        isinstance(n, str | int) and not isinstance(n, bool) for n in numbers
    ):
        doc.error(("numbers",), "'numbers' must be a list of dialled numbers", at_value=True)
    else:
        for i, n in enumerate(numbers):
            if why := strict.number_problem(str(n)):
                doc.error(("numbers", str(i)), why, at_value=True)
    if not isinstance(data.get("default", False), bool):
        doc.error(("default",), "'default' must be true or false", at_value=True)
    lang = data.get("language", "en")
    if not (isinstance(lang, str) and re.match(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$", lang)):
        doc.error(("language",), "'language' must be a language code like 'en' or 'fr'",
                  at_value=True)
    if "nodes" in data and not (isinstance(data["nodes"], dict) and data["nodes"]):
        doc.error(("nodes",), "'nodes' must be a mapping of node id -> node", at_value=True)
        return None
    if "nodes" in data and len(data["nodes"]) > MAX_NODES:
        doc.error(("nodes",), f"too many nodes: {len(data['nodes']):,} (a flow has at most "
                  f"{MAX_NODES:,}; split it into subflows)")
        return None
    return data


def _build(doc: _Doc, digest: str) -> Flow | None:
    data = _top(doc)
    if data is None or "nodes" not in data:
        return None
    nodes: dict[str, Node] = {}
    for node_id, raw in data["nodes"].items():
        built = _node(doc, str(node_id), raw)
        if built is not None:
            nodes[str(node_id)] = built
    start = data.get("start")
    all_ids = [str(k) for k in data["nodes"]]
    if start is not None and str(start) not in all_ids:
        doc.error(("start",), f"start node '{start}' does not exist", suggest(str(start), all_ids),
                  at_value=True)
    for node_id, node in nodes.items():
        for edge in node.edges():
            if edge.target not in all_ids:
                doc.error(("nodes", node_id, *edge.loc), f"target '{edge.target}' does not exist",
                          suggest(edge.target, all_ids), at_value=True)
    if doc.errors or start is None:
        return None
    return Flow(
        name=str(data["name"]),
        numbers=tuple(str(n) for n in data.get("numbers", [])),
        start=str(start),
        nodes=nodes,
        language=str(data.get("language", "en")),
        default=bool(data.get("default", False)),
        source=doc.file,
        digest=digest,
        loaded_at=datetime.now(UTC),
        key_marks=dict(doc.key_marks),
        value_marks=dict(doc.value_marks),
    )


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
    doc = _parse(text, file)
    if doc.errors:
        return None, doc.errors, []
    resolved = apply_settings(doc.data, settings or {}, doc.error)
    if doc.errors:
        return None, sorted(doc.errors, key=lambda e: (e.line, e.column)), []
    flow = _build(doc, flow_digest(text, resolved))
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


# -------------------------------------------------------------------- folders


def cross_check(flows: Mapping[str, Flow], first: Iterable[str] = ()) -> list[FlowError]:
    """Checks across flows (keyed by file): names, numbers, defaults, subflow targets.

    When two files clash, the error is on the later one (files in `first` come
    first, then file-name order), so that the earlier can stay in force.
    """
    early = set(first)
    errors: list[FlowError] = []
    names: dict[str, str] = {}
    numbers: dict[str, str] = {}
    default: str | None = None
    for file in sorted(flows, key=lambda f: (f not in early, f)):
        flow = flows[file]
        if flow.name in names:
            m = flow.mark("name")
            errors.append(FlowError(file, m.line, m.column, None,
                                    f"flow name '{flow.name}' is already used by "
                                    f"{names[flow.name]}"))
            continue
        names[flow.name] = file
        for i, number in enumerate(flow.numbers):
            if number in numbers:
                m = flow.mark("numbers", str(i))
                errors.append(FlowError(file, m.line, m.column, None,
                                        f"number '{number}' is already taken by {numbers[number]}"))
            numbers.setdefault(number, file)
        if flow.default:
            if default is not None:
                m = flow.mark("default")
                errors.append(FlowError(file, m.line, m.column, None,
                                        f"only one flow may be the default; {default} already is"))
            default = default or file
    known = {f.name for f in flows.values()}
    for file, flow in flows.items():
        for node_id, node in flow.nodes.items():
            if isinstance(node, SubflowNode) and node.flow not in known:
                m = flow.mark("nodes", node_id, "flow")
                errors.append(FlowError(file, m.line, m.column, node_id,
                                        f"subflow '{node.flow}' is not a known flow",
                                        suggest(node.flow, known)))
    return errors + subflow_cycles(flows)


def subflow_cycles(flows: Mapping[str, Flow]) -> list[FlowError]:
    """A flow that calls itself, directly or through others, never ends: an error on
    every subflow node that closes such a cycle."""
    by_name = {f.name: f for f in flows.values()}
    calls = {
        f.name: sorted({n.flow for n in f.nodes.values()
                        if isinstance(n, SubflowNode) and n.flow in by_name})
        for f in flows.values()
    }
    errors: list[FlowError] = []
    for comp in sccs(sorted(calls), calls):
        members = set(comp)
        if len(comp) == 1 and comp[0] not in calls[comp[0]]:
            continue
        cycle = " -> ".join([*sorted(comp), sorted(comp)[0]])
        for name in sorted(comp):
            flow = by_name[name]
            for node_id, node in flow.nodes.items():
                if isinstance(node, SubflowNode) and node.flow in members:
                    m = flow.mark("nodes", node_id, "flow")
                    errors.append(FlowError(flow.source, m.line, m.column, node_id,
                                            f"subflow cycle: {cycle} (a flow may not call "
                                            "itself, directly or through others)"))
    return errors


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


def settle(flows: dict[str, Flow], keep: Iterable[str] = ()) -> list[FlowError]:
    """Drop files that fail the cross-flow checks until the rest agree; return the errors."""
    errors: list[FlowError] = []
    protected = set(keep)
    while True:
        found = cross_check(flows, protected)
        bad = {e.file for e in found} - protected or {e.file for e in found}
        if not found:
            return errors
        errors += [e for e in found if e.file in bad]
        for file in bad:
            flows.pop(file, None)
