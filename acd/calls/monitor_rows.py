"""The rows a monitoring leaves (issue 17): the snoop is a `legs` row of kind
`snoop` ({mode, supervisor}), the supervisor's phone a row of kind `supervisor`
({modes, supervisor}). Pure functions, as acd.calls.rows."""

from __future__ import annotations

from acd.calls.endings import NORMAL_CLEARING, q850
from acd.calls.model import CallState, Monitor
from acd.calls.rows import ts
from acd.store.rows import LegRow


def snoop_row(st: CallState, m: Monitor, channel_id: str, mode: str, started_ms: int,
              ended_ms: int) -> LegRow:
    leg = st.connected_leg
    return LegRow(
        leg_id=f"{st.call_id}-{channel_id.rsplit('-sn', 1)[-1]}-snoop", call_id=st.call_id,
        kind="snoop", channel_id=channel_id,
        endpoint=f"Snoop/{leg.channel_id}" if leg is not None else None,
        agent_id=leg.agent_id if leg is not None else None, queue=st.queue,
        started_at=ts(started_ms), answered_at=ts(started_ms), ended_at=ts(ended_ms),
        hangup_cause=NORMAL_CLEARING, wait_ms=None, outcome="done",
        detail={"mode": mode, "supervisor": m.supervisor},
    )


def supervisor_row(st: CallState, m: Monitor, ended_ms: int, outcome: str,
                   cause: int | None) -> LegRow:
    return LegRow(
        leg_id=f"{st.call_id}-sv{m.n}", call_id=st.call_id, kind="supervisor",
        channel_id=m.channel, endpoint=m.endpoint, agent_id=None, queue=st.queue,
        started_at=ts(m.started_ms), answered_at=ts(m.answered_ms), ended_at=ts(ended_ms),
        hangup_cause=q850(cause) or NORMAL_CLEARING, wait_ms=None, outcome=outcome,
        detail={"modes": list(m.modes), "supervisor": m.supervisor},
    )
