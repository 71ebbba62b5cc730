"""A flow as a picture: Mermaid (for Markdown) or Graphviz dot text."""

from __future__ import annotations

import re

from acd.ivr.model import TERMINAL_TYPES, Flow, Node

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _id(node_id: str) -> str:
    return "n_" + _SAFE.sub("_", node_id)


def _caption(node_id: str, node: Node) -> str:
    detail = ""
    if node.type == "queue":
        detail = f": {getattr(node, 'queue', '')}"
    elif node.type == "subflow":
        detail = f": {getattr(node, 'flow', '')}"
    elif node.type == "transfer":
        detail = ": " + str(
            getattr(node, "endpoint", None) or getattr(node, "extension", None)
            or getattr(node, "number", None)
        )
    return f"{node_id}\\n{node.type}{detail}"


def _quote(text: str) -> str:
    return text.replace('"', "'")


def mermaid(flow: Flow) -> str:
    lines = ["flowchart TD", f"  start(((start))) --> {_id(flow.start)}"]
    for node_id, node in flow.nodes.items():
        caption = _quote(_caption(node_id, node)).replace("\\n", "<br/>")
        shape = f'(["{caption}"])' if node.type in TERMINAL_TYPES else f'["{caption}"]'
        if node.type in ("menu", "switch", "schedule", "list", "http"):
            shape = f'{{"{caption}"}}'
        lines.append(f"  {_id(node_id)}{shape}")
    for node_id, node in flow.nodes.items():
        for edge in node.edges():
            label = f'|"{_quote(edge.label)}"|' if edge.label else ""
            lines.append(f"  {_id(node_id)} -->{label} {_id(edge.target)}")
    return "\n".join(lines) + "\n"


def graphviz(flow: Flow) -> str:
    lines = [
        f'digraph "{_quote(flow.name)}" {{',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", shape=box, style=rounded];',
        '  start [shape=circle, label="start"];',
        f"  start -> {_id(flow.start)};",
    ]
    for node_id, node in flow.nodes.items():
        shape = "doubleoctagon" if node.type in TERMINAL_TYPES else "box"
        if node.type in ("menu", "switch", "schedule", "list", "http"):
            shape = "diamond"
        caption = _quote(_caption(node_id, node))
        lines.append(f'  {_id(node_id)} [label="{caption}", shape={shape}];')
    for node_id, node in flow.nodes.items():
        for edge in node.edges():
            label = f' [label="{_quote(edge.label)}"]' if edge.label else ""
            lines.append(f"  {_id(node_id)} -> {_id(edge.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(flow: Flow, fmt: str) -> str:
    if fmt in ("mermaid", "md"):
        return mermaid(flow)
    if fmt in ("dot", "graphviz"):
        return graphviz(flow)
    raise ValueError(f"unknown graph format {fmt!r} (mermaid or dot)")
