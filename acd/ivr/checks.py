"""Checks on a built flow that pydantic cannot do alone: `${...}` references,
secret references, and `switch` expressions."""

from __future__ import annotations

from collections.abc import Iterator

from acd.ivr import expr
from acd.ivr.interp import CALL_NAMES, SECRET_PREFIX, TIME_NAMES, problem, refs, secret_ref
from acd.ivr.model import (
    CollectNode,
    Flow,
    HttpNode,
    SetNode,
    SwitchNode,
    VoicemailNode,
)
from acd.ivr.problems import FlowError, FlowWarning, suggest


def assigned(flow: Flow) -> set[str]:
    """Every variable name some node of `flow` sets."""
    out: set[str] = set()
    for node in flow.nodes.values():
        if isinstance(node, SetNode):
            out |= set(node.variables)
        elif isinstance(node, CollectNode | VoicemailNode):
            out.add(node.variable)
        elif isinstance(node, HttpNode):
            out |= {*node.response, "http_status"}
    return out


def _strings(value: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, str(i)))


def check(flow: Flow) -> tuple[list[FlowError], list[FlowWarning]]:
    errors: list[FlowError] = []
    warnings: list[FlowWarning] = []
    known = assigned(flow) | set(CALL_NAMES)
    masked = {
        n.variable for n in flow.nodes.values() if isinstance(n, CollectNode) and n.masked
    }

    def err(path: tuple[str, ...], node: str, msg: str, hint: str | None = None) -> None:
        m = flow.mark(*path)
        errors.append(FlowError(flow.source, m.line, m.column, node, msg, hint))

    def warn(path: tuple[str, ...], node: str, msg: str, hint: str | None = None) -> None:
        m = flow.mark(*path)
        warnings.append(FlowWarning(flow.source, m.line, m.column, node, msg, hint))

    for node_id, node in flow.nodes.items():
        data = node.model_dump(by_alias=True, exclude={"description"})
        for sub, text in _strings(data, ("nodes", node_id)):
            bad = problem(text)
            if bad:
                err(sub, node_id, bad)
                continue
            in_body = isinstance(node, HttpNode) and sub[2:3] == ("body",)
            for name in refs(text):
                if name.startswith(SECRET_PREFIX):
                    var = name[len(SECRET_PREFIX):]
                    if not in_body or secret_ref(text) is None:
                        err(sub, node_id, "a '${secret.…}' value may only be a whole value "
                            "of an http body (never a URL, parameter, header or prompt)")
                    elif var not in masked:
                        err(sub, node_id, f"'{var}' is not the variable of a masked collect",
                            suggest(var, masked))
                elif name not in known:
                    warn(sub, node_id, f"variable '{name}' is never set in this flow",
                         suggest(name, known))
        if isinstance(node, SwitchNode):
            for i, case in enumerate(node.cases):
                path = ("nodes", node_id, "cases", str(i), "when")
                try:
                    parsed = expr.parse(case.when)
                except expr.ExprError as e:
                    err(path, node_id, f"condition {case.when!r}: {e}")
                    continue
                for name in sorted(expr.names(parsed) - known - set(TIME_NAMES)):
                    warn(path, node_id, f"variable '{name}' is never set in this flow",
                         suggest(name, known | set(TIME_NAMES)))
    return errors, warnings
