"""The moves of issue #17 in a call's re-adoption record (acd.calls.records): what a
restarted acd needs to finish a move it finds half-done (acd.calls.phases.readopt),
or, when the call ended while no acd ran, to write what the move leaves
(acd.calls.recovery). Pure: one JSON field, "moves", of the record.

Only what the ending needs is kept: a transfer's target leg (its channel, offer,
times) and consult bridge; a monitoring's channels, bridge and times (its rows);
a bridge recording's name, times and pauses (its `recordings` row); that a payment
runs (no IVR state, never a digit); and the counters that name the next move's
channels, so that a restarted acd never makes an id twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from acd.calls.model import (
    BridgeRecording,
    CallState,
    Leg,
    Monitor,
    Payment,
    Transfer,
    monitor_channels,
)
from acd.routing.model import Offer

FIELD = "moves"
MAX_MODES = 8  # a monitoring's modes kept (its row's detail)
MAX_PAUSES = 32  # a recording's paused intervals kept (its row)


@dataclass(frozen=True, slots=True)
class Moves:
    """The half-done moves a record names (None: not under way)."""

    transfer: Transfer | None = None
    target: Leg | None = None  # the transfer target's leg
    monitor: Monitor | None = None
    recording: BridgeRecording | None = None
    payment: Payment | None = None
    transfers: int = 0
    monitors: int = 0
    recordings_made: int = 0
    # a consulted number the caller was handed to (complete): the connected party, the
    # record's own leg fields naming the first agent, who left
    outside: Leg | None = None

    def channels(self) -> tuple[str, ...]:
        """The channels of the moves (besides the caller's and the agent's)."""
        out: list[str] = []
        if self.target is not None:
            out.append(self.target.channel_id)
        if self.outside is not None:
            out.append(self.outside.channel_id)
        m = self.monitor
        if m is not None:
            out += [x for x in (m.channel, m.snoop, m.next_snoop) if x is not None]
        return tuple(out)

    def bridges(self) -> tuple[str, ...]:
        """The bridges of the moves (besides the call's)."""
        out: list[str] = []
        if self.transfer is not None and self.transfer.consult_bridge is not None:
            out.append(self.transfer.consult_bridge)
        if self.monitor is not None and self.monitor.bridge is not None:
            out.append(self.monitor.bridge)
        return tuple(out)


def encode(st: CallState) -> str:
    """The "moves" field of a call's record ("" when it has nothing to say)."""
    data: dict[str, Any] = {}
    t = st.transfer
    target = st.leg(t.channel_id) if t is not None and t.channel_id is not None else None
    if t is not None and target is not None and target.live:
        data["t"] = asdict(replace(t, request_id=None, refer_channel=None))
        leg = asdict(target)
        leg["offer"] = target.offer.model_dump(mode="json") if target.offer else None
        data["leg"] = leg
    connected = st.connected_leg
    if connected is not None and connected.outside and connected.live:
        data["o"] = asdict(connected)  # no offer
    m = st.monitor
    if m is not None:
        data["m"] = asdict(replace(m, request_id=None, asked=None, modes=m.modes[-MAX_MODES:]))
    rec = st.bridge_rec
    if rec is not None:
        r = asdict(replace(rec, request_id=None, paused=rec.paused[-MAX_PAUSES:]))
        r["holds"] = sorted(rec.holds)
        data["r"] = r
    p = st.payment
    if p is not None:
        data["p"] = {"flow": p.flow, "started_ms": p.started_ms}
    made = (st.transfers, st.monitors, st.recordings_made)
    if any(made):
        data["n"] = list(made)
    return json.dumps(data, separators=(",", ":"), sort_keys=True) if data else ""


def decode(raw: str | None) -> Moves:
    """The moves of a record's "moves" field; nothing for what cannot be read (a
    record of an older acd, or damaged: the call is then re-adopted without them)."""
    if not raw:
        return Moves()
    try:
        data = json.loads(raw)
        return _moves(data)
    except (ValueError, TypeError, KeyError, AttributeError):
        return Moves()


def _moves(data: dict[str, Any]) -> Moves:
    transfer = target = monitor = recording = payment = None
    if "t" in data and "leg" in data:
        transfer = Transfer(**data["t"])
        leg = dict(data["leg"])
        leg["offer"] = Offer.model_validate(leg["offer"]) if leg["offer"] else None
        target = Leg(**leg)
    if "m" in data:
        m = dict(data["m"])
        m["modes"] = tuple(m.get("modes") or ())
        monitor = Monitor(**m)
    if "r" in data:
        r = dict(data["r"])
        r["holds"] = frozenset(r.get("holds") or ())
        r["paused"] = tuple((int(a), int(b), str(c)) for a, b, c in r.get("paused") or ())
        recording = BridgeRecording(**r)
    if "p" in data:
        payment = Payment(request_id=None, flow=str(data["p"]["flow"]),
                          started_ms=int(data["p"]["started_ms"]))
    transfers, monitors, made = (int(x) for x in data.get("n") or (0, 0, 0))
    outside = Leg(**{**data["o"], "offer": None}) if "o" in data else None
    return Moves(transfer, target, monitor, recording, payment, transfers, monitors, made,
                 outside)


def restore(st: CallState, moves: Moves) -> CallState:
    """A re-adopted connected call with the moves its record names: as they were
    when the record was written (acd.calls.phases.readopt then ends them)."""
    st = replace(st, transfers=max(st.transfers, moves.transfers),
                 monitors=max(st.monitors, moves.monitors),
                 recordings_made=max(st.recordings_made, moves.recordings_made),
                 bridge_rec=moves.recording, payment=moves.payment, monitor=moves.monitor)
    if moves.monitor is not None:
        st = replace(st, monitor_ids=monitor_channels(st))
    if moves.outside is not None:
        st = st.with_leg(moves.outside)
    t, target = moves.transfer, moves.target
    if t is not None and target is not None:
        # The caller hears music while the target rings and while the agent consults.
        st = replace(st.with_leg(target), transfer=t, moh=not t.conference)
    return st


def shape(st: CallState) -> tuple[object, ...]:
    """What of the moves a restarted acd must know at once: which channels and
    bridges are up, whether the agent who began a transfer left, whether the target
    or the supervisor answered, whether a
    recording runs or is paused, whether a payment runs. Finer changes (a leg's
    ringing, a mode switch's progress) wait for the next record."""
    t = st.transfer
    target = st.leg(t.channel_id) if t is not None and t.channel_id is not None else None
    live = target is not None and target.live
    m = st.monitor
    rec = st.bridge_rec
    first = st.agent_leg  # the first agent still, once a consulted number took the caller
    return (
        (first.channel_id, first.hangup_requested, first.live) if first is not None else None,
        (t.channel_id, t.consult_bridge, t.conference, target.answered_ms is not None)
        if t is not None and target is not None and live else None,
        (m.channel, m.answered_ms is not None, m.bridge, m.snoop, m.next_snoop)
        if m is not None else None,
        (rec.name, rec.confirmed, rec.paused_since is None) if rec is not None else None,
        st.payment is not None,
        st.connected_leg is not None and st.connected_leg.outside,
    )

