"""Bridges: mixing and holding, entering and leaving, music, destruction.

Entering a bridge is a command on the channel's control queue, so `addChannel`
returns only when every channel listed has entered, one after the other, each
after its own playing prompt (the `answered` trace: 1 s of dead air). The app
hears about a bridge (and its BridgeDestroyed) only once one of its channels
entered it; creating a bridge sends no event. Each channel that enters adds to the
app's subscription, each one taken out (not hung up) takes from it: a bridge
destroyed with a channel in it after another was moved out says no BridgeDestroyed
(tests/asterisk/traces/control_bridge_deleted_with_a_member.jsonl and
control_attended_refer_consult_bridge_dropped_first.jsonl), though it is gone.
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING

from acd.sim.control import ChannelGone, ControlQueue
from acd.sim.errors import AriReply
from acd.sim.model import Bridge, Channel, dumps

if TYPE_CHECKING:
    from acd.sim.core import World


class Bridging:
    def __init__(self, world: World) -> None:
        self.w = world

    def get(self, bridge_id: str) -> Bridge:
        bridge = self.w.bridges.get(bridge_id)
        if bridge is None:
            raise AriReply(404, "Bridge not found")
        return bridge

    def create(self, bridge_type: str, bridge_id: str | None, name: str) -> Bridge:
        kinds = {k.strip() for k in (bridge_type or "mixing").split(",") if k.strip()}
        unknown = kinds - {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu",
                           "video_single", "sdp_label"}
        if unknown:
            raise AriReply(400, f"Invalid bridge type: {','.join(sorted(unknown))}")
        bid = bridge_id or str(uuid.uuid4())
        if bid in self.w.bridges:
            raise AriReply(409, f"Bridge with id '{bid}' already exists")
        bridge = Bridge(id=bid, bridge_type="holding" if "holding" in kinds else "mixing",
                        name=name, creationtime=self.w.timestamp())
        bridge.control = ControlQueue()
        self.w.bridges[bid] = bridge
        return bridge

    def _event(self, bridge: Bridge, event_type: str, ch: Channel | None = None) -> None:
        body = '"bridge":' + dumps(bridge.as_json())
        if ch is not None:
            body += ',"channel":' + ch.snapshot()
        self.w.emit(bridge.app, event_type, body)

    def members(self, bridge: Bridge, ids: list[str]) -> list[Channel]:
        """The channels named for addChannel, or the error Asterisk gives."""
        chans: list[Channel] = []
        for cid in ids:
            ch = self.w.channels.get(cid)
            if ch is None:
                raise AriReply(400, "Channel not found")
            if not ch.in_stasis:
                raise AriReply(422, "Channel not in Stasis application")
            chans.append(ch)
        return chans

    async def add(self, bridge: Bridge, chans: list[Channel]) -> None:
        for ch in chans:
            if ch.control is None or not ch.alive:
                continue
            try:
                await ch.control.call(functools.partial(self.enter, bridge, ch))
            except ChannelGone:
                continue

    def enter(self, bridge: Bridge, ch: Channel) -> None:
        if not bridge.alive or not ch.alive or ch.bridge is bridge:
            return
        if ch.bridge is not None:
            self.leave(ch, ch.bridge, taken_out=True)
        bridge.channels.append(ch)
        ch.bridge = bridge
        bridge.subscriptions += 1
        if bridge.app is None:
            bridge.app = ch.app
        self._event(bridge, "ChannelEnteredBridge", ch)
        if bridge.bridge_type == "mixing" and len(bridge.channels) > 1:
            for c in bridge.channels:
                c.ever_bridged = True
            self._peers(bridge, first=ch)

    def _peers(self, bridge: Bridge, first: Channel | None = None) -> None:
        """BRIDGEPEER / BRIDGEPVTCALLID, the variable flood of README item 7."""
        if not self.w.varset_noise:
            return
        order = sorted(bridge.channels, key=lambda c: c is not first)
        for ch in order:
            others = [c for c in bridge.channels if c is not ch]
            self.w.varset(ch, "BRIDGEPEER", ",".join(c.name for c in others), noise=True)
            if len(others) == 1:
                self.w.varset(ch, "BRIDGEPVTCALLID", others[0].protocol_id, noise=True)

    def leave(self, ch: Channel, bridge: Bridge, taken_out: bool = False) -> None:
        if ch not in bridge.channels:
            return
        if taken_out:
            bridge.subscriptions -= 1
        self.w.varset(ch, "BRIDGEPEER", "", noise=True)
        self.w.varset(ch, "BRIDGEPVTCALLID", "", noise=True)
        bridge.channels.remove(ch)
        ch.bridge = None
        self._event(bridge, "ChannelLeftBridge", ch)
        recording = any(r.target_id == bridge.id for r in self.w.media.live.values())
        if recording:
            # A recorded bridge mixes in a Recorder channel: who is left is now
            # "connected" to it (snoop_record trace).
            for other in bridge.channels:
                other.connected_name = other.connected_number = ""
                other.changed()
                self.w.ev(other, "ChannelConnectedLine")
        if len(bridge.channels) > 1:
            self._peers(bridge)
        if not bridge.channels:
            for rec in [r for r in self.w.media.live.values() if r.target_id == bridge.id]:
                self.w.media.finish_recording(rec)

    async def remove(self, bridge: Bridge, ch: Channel) -> None:
        if ch.bridge is not bridge:
            raise AriReply(422, "Channel not in this bridge")
        assert ch.control is not None
        try:
            await ch.control.call(lambda: self.leave(ch, bridge, taken_out=True))
        except ChannelGone:
            return
        ch.taken_out = True

    def destroy(self, bridge: Bridge) -> None:
        for ch in list(bridge.channels):
            self.leave(ch, bridge, taken_out=True)
        self.w.media.bridge_gone(bridge)
        bridge.alive = False
        bridge.moh_id = None
        self.w.bridges.pop(bridge.id, None)
        if bridge.app is not None and bridge.subscriptions > 0:
            self._event(bridge, "BridgeDestroyed")

    def start_moh(self, bridge: Bridge, moh_class: str) -> None:
        # Asterisk plays bridge music through an Announcer channel it adds to the bridge.
        if bridge.moh_id is None:
            bridge.moh_id = self.w.next_id()[0]

    def stop_moh(self, bridge: Bridge) -> None:
        if bridge.moh_id is None:
            raise AriReply(409, "Bridge isn't playing music")
        bridge.moh_id = None
