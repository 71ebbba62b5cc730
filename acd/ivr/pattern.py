"""`collect` patterns: checked when the flow loads, matched in time linear in the input.

A caller's digits are matched on the event loop that serves every call. With
Python's backtracking `re`, `^(1+)+$` against 28 ones and a `*` took 6.6 s (each
digit doubles it) and froze every call. Two defences:

- **Matching** uses RE2 (the `google-re2` wheel): its automaton runs in time
  linear in the input whatever the pattern, so no pattern can stall the loop.
  Measured on this (2-core, shared) machine, `^(1+)+$` against ones and a `*`:
  RE2 18 µs per match at 60 ones (55 µs with the compile); Python's `re` 0.12 s
  at 20, 0.30 s at 22, 1.0 s at 24, 5.9 s at 26 ones, doubling or worse per digit
  (~10^11 s at 60).
  A hand-checked "safe subset" of `re` was the alternative; it would have to be
  right about every construct forever, where RE2's guarantee holds by design.
- **Validation** refuses what has no place in a digit pattern and what RE2
  cannot run: back-references, look-arounds, and a repetition inside a repeated
  group where either is unbounded (`(1+)+`, `(1*)*`, `(\\d{2})+`) — the shapes
  that explode under backtracking, refused so a flow never depends on RE2 alone
  and reads as what it does. The file:line comes with the refusal.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 256

# The parse tree of Python's own `re` (a private module, stable since 3.11): used only
# to look at the pattern's shape, never to match.
_parser: Any = importlib.import_module("re._parser")
_UNBOUNDED: int = _parser.MAXREPEAT


def problem(pattern: str) -> str | None:
    """Why `pattern` is refused, or None when it may be used."""
    if len(pattern) > MAX_PATTERN:
        return f"pattern is too long ({len(pattern)} characters, at most {MAX_PATTERN})"
    try:
        re.compile(pattern)
    except re.error as e:
        return f"pattern is not a valid regular expression: {e}"
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError):  # pragma: no cover - re.compile parsed it already
        return "pattern is not a valid regular expression"
    shape = _shape(list(tree), repeated=False, unbounded=False)
    if shape is not None:
        return shape
    try:
        re2.compile(pattern)
    except re2.error as e:
        return f"pattern is not supported by the RE2 engine acd matches with: {e}"
    return None


def _shape(items: list[tuple[Any, Any]], *, repeated: bool, unbounded: bool) -> str | None:
    for op, av in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "pattern has a back-reference (not allowed: matching must stay linear)"
        if name in ("ASSERT", "ASSERT_NOT"):
            return "pattern has a look-ahead or look-behind (not allowed)"
        found: str | None = None
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _lo, hi, sub = av
            many, endless = hi > 1, hi == _UNBOUNDED
            if repeated and many and (endless or unbounded):
                return ("pattern has a nested quantifier (a repetition inside a repeated group, "
                        "like '(1+)+'): it can take exponential time; write it without nesting")
            found = _shape(list(sub), repeated=repeated or many, unbounded=unbounded or endless)
        elif name == "SUBPATTERN":
            found = _shape(list(av[-1]), repeated=repeated, unbounded=unbounded)
        elif name == "ATOMIC_GROUP":
            found = _shape(list(av), repeated=repeated, unbounded=unbounded)
        elif name == "BRANCH":
            for branch in av[1]:
                found = found or _shape(list(branch), repeated=repeated, unbounded=unbounded)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern)


def full_match(pattern: str, value: str) -> bool:
    """Does all of `value` match `pattern`? (RE2: linear in len(value).)"""
    return _compiled(pattern).fullmatch(value) is not None
