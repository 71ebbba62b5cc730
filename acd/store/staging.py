"""The row writer's tables: each row type's in-memory queue and staging table, and
how a failed batch is classified (the rows' fault, or the link's)."""

from __future__ import annotations

from collections import deque

import asyncpg

from acd.store.rows import Row


class Transient(Exception):
    """The database could not take a batch now; the rows stay and are tried again."""


class Table:
    __slots__ = ("appended", "cls", "insert_sql", "queue", "settled", "stage")

    def __init__(self, cls: type[Row]) -> None:
        self.cls = cls
        self.queue: deque[Row] = deque()
        self.appended = 0  # rows write() took, ever
        self.settled = 0  # of those, committed or dead-lettered (always a prefix)
        self.stage = f"acd_stage_{cls.TABLE}"
        cols = ", ".join(cls.COLUMNS)
        self.insert_sql = (f"INSERT INTO {cls.TABLE} ({cols}) SELECT {cols} FROM {self.stage} "
                           "ON CONFLICT DO NOTHING")  # its key, or a once_key (0008)


def is_row_error(exc: BaseException) -> bool:
    """True when the rows themselves are at fault (bad value, constraint), not the link."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "")[:2] in ("22", "23")
    # Client-side encoding failures (asyncpg's DataError is a ValueError).
    return isinstance(exc, (ValueError, TypeError))


def why(exc: BaseException) -> str:
    """Why, without the message text: a server message may quote a value of the row."""
    if isinstance(exc, asyncpg.PostgresError):
        names = [getattr(exc, a, None) for a in ("table_name", "column_name", "constraint_name")]
        where = " ".join(n for n in names if n)
        return f"{type(exc).__name__} [{exc.sqlstate}] {where}".strip()
    if isinstance(exc, (OSError, asyncpg.InterfaceError, TimeoutError)):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__
