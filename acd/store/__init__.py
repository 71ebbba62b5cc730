"""acd.store: PostgreSQL migrations and the batched, loss-free row writer."""

from acd.store.migrate import migrate
from acd.store.rows import AgentStateRow, CallRow, LegRow, QueueEventRow, Row
from acd.store.writer import RowWriter

__all__ = ["AgentStateRow", "CallRow", "LegRow", "QueueEventRow", "Row", "RowWriter", "migrate"]
