"""Read a flow file's YAML within limits, keeping the line and column of every key and value.

A flow file comes from an operator's editor, but also from whoever can write to
the flows folder: it is read as hostile. Every limit is checked while the YAML
is composed, before anything is built from it, so that a bad file costs at most
`MAX_BYTES` of parsing and is refused with its file:line:

- the size (`MAX_BYTES`), checked on the file's size before it is even read;
- anchors and aliases (`&a`, `*a`) are refused outright: an alias bomb ("billion
  laughs") is refused at its first anchor, never expanded;
- merge keys (`<<`) are refused: they let a key appear twice unseen;
- the nesting depth (`MAX_DEPTH`): a file of 5,000 `[` is refused at the first
  level too deep, never a `RecursionError`;
- the number of YAML values (`MAX_VALUES`);
- bidirectional-text controls anywhere in the file ("Trojan Source": text that
  reads differently from what it is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from acd.ivr.model import Mark
from acd.ivr.problems import FlowError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 24
MAX_VALUES = 20_000
MAX_NODES = 1_000  # nodes of one flow (checked by the loader)

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

Path_ = tuple[str, ...]


@dataclass
class Doc:
    file: str
    data: Any
    key_marks: dict[Path_, Mark] = field(default_factory=dict)
    value_marks: dict[Path_, Mark] = field(default_factory=dict)
    errors: list[FlowError] = field(default_factory=list)

    def mark(self, path: Path_) -> Mark:
        p = path
        while p:
            if p in self.key_marks:
                return self.key_marks[p]
            if p in self.value_marks:
                return self.value_marks[p]
            p = p[:-1]
        return Mark(1, 1)

    def value_mark(self, path: Path_) -> Mark:
        return self.value_marks.get(path) or self.mark(path)

    def error(
        self, path: Path_, message: str, suggestion: str | None = None, *, at_value: bool = False
    ) -> None:
        m = self.value_mark(path) if at_value else self.mark(path)
        node = path[1] if len(path) > 1 and path[0] == "nodes" else None
        self.errors.append(FlowError(self.file, m.line, m.column, node, message, suggestion))


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors, aliases, deep nesting and too many values
    as it composes (before any value is built)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._values = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"YAML alias '*{event.anchor}' is not allowed in "
                           "a flow file (anchors and aliases are refused: write the value out)")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(event.start_mark, f"YAML anchor '&{anchor}' is not allowed in a "
                           "flow file (anchors and aliases are refused: write the value out)")
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(event.start_mark, f"too many values: a flow file holds at most "
                           f"{MAX_VALUES:,} (split the flow into subflows)")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested too deep: a flow file nests at most "
                           f"{MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _index(doc: Doc, root: yaml.Node) -> None:
    """Record where every key and value is; refuse duplicate keys and merge keys.

    Iterative: the depth is bounded already, but this keeps it so whatever the limit."""
    todo: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        doc.value_marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for knode, vnode in node.value:
                key = str(knode.value) if isinstance(knode, yaml.ScalarNode) else "?"
                if knode.tag == "tag:yaml.org,2002:merge":
                    m = _mark(knode)
                    doc.errors.append(FlowError(doc.file, m.line, m.column, None,
                                                "YAML merge key '<<' is not allowed in a flow "
                                                "file (write the keys out)"))
                    continue
                sub = (*path, key)
                if key in seen:
                    _duplicate(doc, path, key, knode)
                seen.add(key)
                doc.key_marks[sub] = _mark(knode)
                todo.append((vnode, sub))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                todo.append((item, (*path, str(i))))


def _duplicate(doc: Doc, path: Path_, key: str, knode: yaml.Node) -> None:
    m, first = _mark(knode), doc.key_marks[(*path, key)].line
    where: str | None = None
    if path == ("nodes",):
        where, what = key, f"node id '{key}' is used twice (first on line {first})"
    else:
        where = path[1] if len(path) > 1 and path[0] == "nodes" else None
        what = f"duplicate key '{key}' (first on line {first})"
    doc.errors.append(FlowError(doc.file, m.line, m.column, where, what))


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def too_big(file: str, size: int) -> FlowError | None:
    """The refusal of a file of `size` bytes, or None when it is small enough."""
    if size <= MAX_BYTES:
        return None
    return FlowError(file, 1, 1, None, f"the file is too big: {size:,} bytes "
                     f"(a flow file is at most {MAX_BYTES:,}; split it into subflows)")


def parse(text: str, file: str) -> Doc:
    """Parse one flow file's text; problems are in `doc.errors` (never raises)."""
    doc = Doc(file, None)
    big = too_big(file, len(text.encode("utf-8", "surrogatepass")))
    if big is not None:
        doc.errors.append(big)
        return doc
    bidi = _BIDI.search(text)
    if bidi is not None:
        line, col = _position(text, bidi.start())
        doc.errors.append(FlowError(file, line, col, None,
                                    f"bidirectional-text control U+{ord(bidi.group()):04X} is "
                                    "not allowed (the text would read differently from what "
                                    "it is)"))
        return doc
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _index(doc, root)
            if not doc.errors:
                doc.data = loader.construct_document(root)
    except _Refused as e:
        m = e.mark
        line, col = (m.line + 1, m.column + 1) if m else (1, 1)
        doc.errors.append(FlowError(file, line, col, None, e.message))
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        line, col = (m.line + 1, m.column + 1) if m else (1, 1)
        doc.errors.append(FlowError(file, line, col, None, f"YAML syntax: {e.problem}"))
    except yaml.YAMLError as e:
        doc.errors.append(FlowError(file, 1, 1, None, f"YAML: {e}"))
    finally:
        loader.dispose()
    return doc
