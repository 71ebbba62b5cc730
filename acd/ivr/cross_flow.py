"""Checks across the flows of one folder: unique names and numbers, one default,
known subflow targets and no subflow cycle; `settle` drops the files that fail
them until the rest agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.ivr.analysis import sccs
from acd.ivr.model import Flow, SubflowNode
from acd.ivr.problems import FlowError, suggest


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
