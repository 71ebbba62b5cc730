"""Errors and warnings about flow files, pointing at a file, line and column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from acd.errors import ConfigError


def suggest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest spelling of `word` among `choices`, for "did you mean ...?"."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def _where(file: str, line: int, column: int, node: str | None) -> str:
    where = f"{file}:{line}:{column}: "
    return where + (f"node '{node}': " if node else "")


def _tail(message: str, suggestion: str | None) -> str:
    return message + (f" (did you mean '{suggestion}'?)" if suggestion else "")


class FlowError(ConfigError):
    """A flow file that cannot be used, with where and, when we can guess, a fix."""

    error_id = "flow_error"

    def __init__(
        self,
        file: str,
        line: int,
        column: int,
        node: str | None,
        message: str,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(
            message, file=file, line=line, column=column, node=node, suggestion=suggestion
        )
        self.file = file
        self.line = line
        self.column = column
        self.node = node
        self.suggestion = suggestion
        # load_flow raises the first error of a file; this lists them all.
        self.errors: list[FlowError] = [self]

    def __str__(self) -> str:
        return _where(self.file, self.line, self.column, self.node) + _tail(
            self.message, self.suggestion
        )

    def __reduce__(self) -> tuple[type[FlowError], tuple[str, int, int, str | None, str,
                                                          str | None]]:
        # Errors come back from the worker process that checks flow files.
        return (FlowError, (self.file, self.line, self.column, self.node, self.message,
                            self.suggestion))

    def __repr__(self) -> str:
        return f"FlowError({self!s})"


@dataclass(frozen=True, slots=True)
class FlowWarning:
    """Something legal but probably wrong (an unreachable node, a loop with no way out)."""

    file: str
    line: int
    column: int
    node: str | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        return (
            _where(self.file, self.line, self.column, None)
            + "warning: "
            + (f"node '{self.node}': " if self.node else "")
            + _tail(self.message, self.suggestion)
        )
