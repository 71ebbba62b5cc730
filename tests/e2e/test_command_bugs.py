"""An exception no client should raise while one of a call's commands is carried
out (a bug in a client, injected here into the live acd): that command fails,
the rest of the step is still carried out (the machine counted on it: rows,
timers, the end of the call), then the call's safety net runs. Before, the rest
of the step was dropped: here the call row and the call's end were lost."""

from __future__ import annotations

import pytest

from acd.store.rows import LegRow, Row
from tests.e2e.conftest import Harness


async def test_a_bug_writing_one_row_loses_none_of_the_others(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    assert h.app.writer is not None and h.app.calls is not None
    real = h.app.writer.write

    def write(row: Row) -> None:
        if isinstance(row, LegRow) and row.kind == "caller":
            raise RuntimeError("injected: a bug writing the caller's leg")
        real(row)
    monkeypatch.setattr(h.app.writer, "write", write)

    ch = h.sim.place_call("+15559120", "100")  # listens to the menu
    await h.wait_for(lambda: h.call_on(ch) is not None, "the call")
    call_id = h.live(ch).call_id
    h.sim.remote_hangup(ch)
    assert await h.finished(ch) == call_id  # its row is written, the call forgotten
    row = await h.call(call_id)
    assert (row["outcome"], row["ended_by"]) == ("ivr_hangup", "caller")
    assert h.app.calls.handler_errors == 1
    await h.assert_clean()
