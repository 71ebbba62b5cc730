"""Graph checks on a flow: unreachable nodes, endless loops, unknown sounds.

A loop made only of nodes that never wait (goto, set, switch, language) and
with no edge out of it would spin forever: that is an error. A loop that waits
for the caller but can never reach a hangup, transfer, queue or voicemail is
legal (a caller can still hang up) but almost certainly a mistake: a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.ivr.model import (
    INSTANT_TYPES,
    TERMINAL_TYPES,
    CollectNode,
    Flow,
    MenuNode,
    Node,
)
from acd.ivr.problems import FlowError, FlowWarning, suggest
from acd.ivr.strict import prompts_of


def successors(flow: Flow) -> dict[str, list[str]]:
    return {
        nid: [e.target for e in node.edges() if e.target in flow.nodes]
        for nid, node in flow.nodes.items()
    }


def _can_end(node: Node) -> bool:
    """Can the caller leave the flow at this node (or does the engine hang up politely)?"""
    if node.type in TERMINAL_TYPES:
        return True
    return isinstance(node, MenuNode | CollectNode) and (
        node.on_invalid is None or node.on_timeout is None
    )


def reachable(start: str, succ: Mapping[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in succ.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def sccs(nodes: Iterable[str], succ: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan), in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            children = succ.get(v, [])
            if i < len(children):
                work.append((v, i + 1))
                w = children[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def _is_cycle(comp: list[str], succ: Mapping[str, list[str]]) -> bool:
    return len(comp) > 1 or comp[0] in succ.get(comp[0], [])


def _order(flow: Flow, comp: Iterable[str]) -> list[str]:
    names = set(comp)
    return [n for n in flow.nodes if n in names]


def analyse(
    flow: Flow, sounds: set[str] | None = None
) -> tuple[list[FlowError], list[FlowWarning]]:
    errors: list[FlowError] = []
    warnings: list[FlowWarning] = []
    succ = successors(flow)

    def where(*path: str) -> tuple[str, int, int]:
        m = flow.mark(*path)
        return flow.source, m.line, m.column

    live = reachable(flow.start, succ)
    for nid in flow.nodes:
        if nid not in live:
            warnings.append(FlowWarning(*where("nodes", nid), nid,
                                        "unreachable: no path from the start leads here"))

    instant = {n for n, node in flow.nodes.items() if node.type in INSTANT_TYPES}
    inner = {n: [t for t in succ[n] if t in instant] for n in instant}
    for comp in sccs(sorted(instant), inner):
        if not _is_cycle(comp, inner):
            continue
        members = set(comp)
        if all(t in members for n in comp for t in succ[n]):
            loop = _order(flow, comp)
            errors.append(FlowError(*where("nodes", loop[0]), loop[0],
                                    f"endless loop: {' -> '.join([*loop, loop[0]])} "
                                    "never waits for the caller and never leaves"))

    ends = {n for n, node in flow.nodes.items() if _can_end(node)}
    preds: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for n, targets in succ.items():
        for t in targets:
            preds[t].append(n)
    can_exit = set(ends)
    todo = list(ends)
    while todo:
        for p in preds[todo.pop()]:
            if p not in can_exit:
                can_exit.add(p)
                todo.append(p)
    stuck = live - can_exit
    for comp in sccs(list(flow.nodes), succ):
        if _is_cycle(comp, succ) and set(comp) <= stuck:
            loop = _order(flow, comp)
            warnings.append(FlowWarning(*where("nodes", loop[0]), loop[0],
                                        f"loop with no way out: {', '.join(loop)} never reach "
                                        "a hangup, transfer, queue or voicemail"))

    if sounds is not None:
        warnings += _sound_warnings(flow, sounds)
    return errors, warnings


def _sound_warnings(flow: Flow, sounds: set[str]) -> list[FlowWarning]:
    out: list[FlowWarning] = []
    for nid, path, prompt in prompts_of(flow):
        if not prompt.startswith("sound:") or "${" in prompt or prompt in sounds:
            continue
        m = flow.mark(*path)
        out.append(FlowWarning(flow.source, m.line, m.column, nid,
                               f"prompt '{prompt}' is not in the sounds list",
                               suggest(prompt, sounds, 0.85)))
    return out
