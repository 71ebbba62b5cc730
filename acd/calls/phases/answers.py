"""Answering a move (acd.calls.phases.control): every `Control` event gets exactly
one `Reply`. The moves' own modules import these; control.py imports the moves."""

from __future__ import annotations

from collections.abc import Callable

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Phase
from acd.calls.phases.base import Run

Handler = Callable[[Run, e.Control], None]


def ok(run: Run, event: e.Control, **data: c.ControlArg) -> None:
    run.emit(c.Reply(event.request_id, True, data=data))


def refuse(run: Run, event: e.Control, error_id: str, message: str,
           **data: c.ControlArg) -> None:
    run.emit(c.Reply(event.request_id, False, error_id, message, data))


def connected_only(handler: Handler) -> Handler:
    """A move that needs the caller and an agent talking (answered and bridged)."""
    def guarded(run: Run, event: e.Control) -> None:
        st = run.st
        if st.phase is not Phase.CONNECTED or st.connected_leg is None or st.caller_gone:
            refuse(run, event, "not_connected",
                   f"the call is {st.phase.value}, not connected to an agent",
                   phase=st.phase.value)
            return
        if st.connected_leg.outside:  # a consult handed the caller to a number
            refuse(run, event, "not_connected",
                   "the caller is with an outside number, not an agent", phase="outside")
            return
        handler(run, event)
    guarded.__doc__ = handler.__doc__
    return guarded
