"""Build a `Flow` from one parsed flow file, reporting every problem in it.

The top-level keys, each node (through its pydantic model, whose errors are mapped
back to the file, line and column of the key or value at fault) and every edge's
target are checked; a "did you mean" comes with misspelt node types, targets and
field names.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from acd.ivr import strict
from acd.ivr.model import NODE_TYPES, Flow, Node, field_names
from acd.ivr.problems import suggest
from acd.ivr.source import MAX_NODES, Doc

TOP_KEYS = (
    "name", "description", "numbers", "default", "language", "settings", "start", "nodes",
)
_NODE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

Path_ = tuple[str, ...]


def _pydantic_errors(doc: Doc, base: Path_, model: type[BaseModel], err: ValidationError) -> None:
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


def _node(doc: Doc, node_id: str, raw: Any) -> Node | None:
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


def _top(doc: Doc) -> dict[str, Any] | None:
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


def build_flow(doc: Doc, digest: str) -> Flow | None:
    """The flow in `doc`, or None with every problem found reported on `doc`."""
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
