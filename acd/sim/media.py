"""Prompts, music on hold, DTMF sent to a phone, and recordings.

A prompt is a command on its channel's control queue (or its bridge's) and holds
that queue until it ends. What the traces show, and this module does:
a missing `sound:` starts and fails at once; an unknown scheme (`bogus:thing`)
starts, never finishes and does not hold the queue; `DELETE /playbacks/{id}`
ends a prompt with state `done`; a hang-up fails the prompt playing (`failed`)
and every queued one is started and failed in turn; a reused playback id is
accepted (the id then names the newest); a prompt on a channel with music on hold
stops the music for good (it is not started again when the prompt ends).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from acd.sim.control import Release
from acd.sim.errors import AriReply
from acd.sim.model import Bridge, Channel, JsonDict, Playback, Recording, dumps
from acd.sim.sounds import NEVER, SOUNDS, media_length

if TYPE_CHECKING:
    from acd.sim.core import World


class Media:
    def __init__(self, world: World) -> None:
        self.w = world
        self.sounds: dict[str, float] = dict(SOUNDS)
        self.playbacks: dict[str, Playback] = {}
        self.playing: dict[str, Playback] = {}       # target id -> the prompt holding it
        self.live: dict[str, Recording] = {}
        self.stored: dict[str, tuple[str, float]] = {}  # name -> (format, seconds)
        # The keys each recording heard (name -> digits): those pressed on its channel,
        # or by a channel in its bridge, while it was recording (not paused, not muted).
        self.heard: dict[str, list[str]] = {}
        self.playbacks_started = 0

    # -- prompts ---------------------------------------------------------------------
    def play(self, target: Channel | Bridge, media: list[str], lang: str | None,
             playback_id: str | None) -> JsonDict:
        """Queue a prompt; the answer body shows it `queued`, as Asterisk's usually does."""
        if not media or not all(media):
            raise AriReply(400, "media is required")
        if isinstance(target, Channel):
            uri, app, queue = f"channel:{target.id}", target.app, target.control
            language = lang or target.language
        else:
            uri, app, queue = f"bridge:{target.id}", target.app, target.control
            language = lang or "en"
        pb = Playback(id=playback_id or str(uuid.uuid4()), media=media, target_uri=uri,
                      language=language, app=app, target_id=target.id)
        self.playbacks[pb.id] = pb
        body = pb.as_json()
        assert queue is not None
        queue.cast(lambda release: self._start(pb, release, target), lambda: self._abort(pb))
        return body

    def _event(self, pb: Playback, event_type: str) -> None:
        self.w.emit(pb.app, event_type, '"playback":' + dumps(pb.as_json()))

    def _start(self, pb: Playback, release: Release, target: Channel | Bridge) -> None:
        if pb.state != "queued":          # stopped while it waited its turn
            release()
            return
        if isinstance(target, Channel) and target.bridge is None:
            # The prompt stops the channel's music, which does not come back when it
            # ends (tests/asterisk/traces/control_announce_over_moh.jsonl: the caller
            # hears silence until /moh is asked again). Measured outside a bridge only.
            target.moh = None
        self.playbacks_started += 1
        pb.release = release
        self.playing[pb.target_id] = pb
        self._item(pb)

    def _length(self, pb: Playback) -> float | None:
        recorded = {name: secs for name, (_, secs) in self.stored.items()}
        return media_length(pb.media[pb.index], self.sounds, recorded)

    def _item(self, pb: Playback) -> None:
        """Play media[index] as res_stasis_playback.c's play_on_channel does: each item
        starts with PlaybackStarted (media_uri that item); one that ends (or fails)
        with another after it gives PlaybackContinuing (media_uri still the item that
        ended), the last one PlaybackFinished (done or failed). An item of an
        unsupported scheme sends nothing more: the next one starts at once."""
        while True:
            pb.state = "playing"
            self._event(pb, "PlaybackStarted")
            length = self._length(pb)
            if length != NEVER:
                break
            if pb.index + 1 >= len(pb.media):
                # never ends, holds nothing (errors_on_live_channel)
                if self.playing.get(pb.target_id) is pb:
                    del self.playing[pb.target_id]
                release, pb.release = pb.release, None
                if release is not None:
                    release()
                return
            pb.index += 1
        if length is None:
            self._item_end(pb, failed=True)
            return
        pb.timer = self.w.clock.call_later(length, lambda: self._item_end(pb, failed=False))

    def _item_end(self, pb: Playback, failed: bool) -> None:
        pb.timer = None
        if pb.state != "playing":
            return
        if pb.index + 1 >= len(pb.media):
            self._finish(pb, "failed" if failed else "done")
            return
        pb.state = "continuing"
        self._event(pb, "PlaybackContinuing")
        pb.index += 1
        self._item(pb)

    def _finish(self, pb: Playback, state: str) -> None:
        if pb.timer is not None:
            pb.timer.cancel()
            pb.timer = None
        pb.state = state
        self._event(pb, "PlaybackFinished")
        if self.playbacks.get(pb.id) is pb:
            del self.playbacks[pb.id]
        if self.playing.get(pb.target_id) is pb:
            del self.playing[pb.target_id]
        release, pb.release = pb.release, None
        if release is not None:
            release()

    def _abort(self, pb: Playback) -> None:
        """A queued prompt on a channel that hung up: started, then failed at once."""
        if pb.state != "queued":
            return
        pb.state = "playing"
        self._event(pb, "PlaybackStarted")
        self._finish(pb, "failed")

    def get(self, playback_id: str) -> Playback:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise AriReply(404, "Playback not found")
        return pb

    def stop(self, playback_id: str) -> None:
        """DELETE /playbacks/{id}: acts at once, outside the channel's queue."""
        pb = self.get(playback_id)
        self._finish(pb, "done")

    def channel_gone(self, ch: Channel) -> None:
        pb = self.playing.get(ch.id)
        if pb is not None:
            self._finish(pb, "failed")
        for rec in [r for r in self.live.values() if r.target_id == ch.id]:
            self.finish_recording(rec)

    def bridge_gone(self, bridge: Bridge) -> None:
        pb = self.playing.get(bridge.id)
        if pb is not None:
            self._finish(pb, "done")
        if bridge.control is not None:
            bridge.control.close()
        for rec in [r for r in self.live.values() if r.target_id == bridge.id]:
            self.finish_recording(rec)

    # -- music on hold and DTMF toward the phone -----------------------------------------
    def start_moh(self, ch: Channel, moh_class: str) -> None:
        # An unknown class is silence, not an error (204, errors_on_live_channel).
        def run(release: Release) -> None:
            ch.moh = moh_class
            release()
        assert ch.control is not None
        ch.control.cast(run)

    def stop_moh(self, ch: Channel) -> None:
        def run(release: Release) -> None:
            ch.moh = None
            release()
        assert ch.control is not None
        ch.control.cast(run)

    def send_dtmf(self, ch: Channel, dtmf: str, between_ms: int, duration_ms: int) -> None:
        """Queued; holds the channel while the digits go out (README item 9)."""
        seconds = len(dtmf) * (between_ms + duration_ms) / 1000.0

        def run(release: Release) -> None:
            self.w.clock.call_later(seconds, release)
        assert ch.control is not None
        ch.control.cast(run)

    # -- recordings ----------------------------------------------------------------------
    def record(self, target: Channel | Bridge, name: str, fmt: str, max_duration: float,
               if_exists: str) -> Recording:
        if not name:
            raise AriReply(400, "Recording name is required")
        if not fmt:
            raise AriReply(400, "Recording format is required")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "g722", "wav16", "ogg"):
            raise AriReply(422, "Recording format is unknown on this system")
        if if_exists not in ("fail", "overwrite", "append"):
            raise AriReply(400, "ifExists must be fail, overwrite or append")
        if name in self.live or (name in self.stored and if_exists == "fail"):
            raise AriReply(409, "Recording with the same name already exists on the system")
        is_channel = isinstance(target, Channel)
        rec = Recording(name=name, format=fmt, app=target.app, target_id=target.id,
                        target_uri=("channel:" if is_channel else "bridge:") + target.id,
                        started=self.w.clock.monotonic())
        self.live[name] = rec

        def run(release: Release) -> None:
            rec.state, rec.started = "recording", self.w.clock.monotonic()
            self.w.emit(rec.app, "RecordingStarted", '"recording":' + dumps(rec.as_json()))
            if max_duration > 0:
                rec.timer = self.w.clock.call_later(max_duration,
                                                    lambda: self.finish_recording(rec))
            if is_channel:
                rec.release = release     # a channel recording holds its channel
            else:
                release()
        if isinstance(target, Channel):
            assert target.control is not None
            target.control.cast(run)
        else:
            def begin() -> None:
                if self.live.get(name) is rec:
                    run(lambda: None)
            self.w.clock.call_later(0, begin)
        return rec

    def live_recording(self, name: str) -> Recording:
        rec = self.live.get(name)
        if rec is None:
            raise AriReply(404, "Recording not found")
        return rec

    def finish_recording(self, rec: Recording, keep: bool = True) -> None:
        if self.live.get(rec.name) is not rec:
            return
        del self.live[rec.name]
        if rec.timer is not None:
            rec.timer.cancel()
        self.unpause_recording(rec)
        seconds = max(0.0, self.w.clock.monotonic() - rec.started - rec.paused_total)
        rec.state, rec.duration = "done", int(seconds)
        self.w.emit(rec.app, "RecordingFinished", '"recording":' + dumps(rec.as_json()))
        if keep:
            self.stored[rec.name] = (rec.format, seconds)
        release, rec.release = rec.release, None
        if release is not None:
            release()

    def hear_dtmf(self, ch: Channel, digit: str) -> None:
        """A key pressed on `ch` goes into the recordings that hear the channel."""
        bridge = ch.bridge.id if ch.bridge is not None else None
        for rec in self.live.values():
            if rec.target_id in (ch.id, bridge) and rec.state == "recording" \
                    and not rec.muted:
                self.heard.setdefault(rec.name, []).append(digit)

    def pause_recording(self, rec: Recording) -> None:
        """POST .../pause: the file stops growing (tests/asterisk/traces/
        control_monitor_and_record.jsonl: its length is the time recorded less the
        paused time); a second pause is no error, and no event either way."""
        if rec.state not in ("recording", "paused"):
            raise AriReply(409, "Recording not in session")
        if rec.paused_at is None:
            rec.paused_at, rec.state = self.w.clock.monotonic(), "paused"

    def unpause_recording(self, rec: Recording) -> None:
        if rec.paused_at is not None:
            rec.paused_total += self.w.clock.monotonic() - rec.paused_at
            rec.paused_at, rec.state = None, "recording"

    def mute_recording(self, rec: Recording, on: bool) -> None:
        if rec.state not in ("recording", "paused"):
            raise AriReply(409, "Recording not in session")
        rec.muted = on

    def stored_json(self, name: str) -> JsonDict:
        if name not in self.stored:
            raise AriReply(404, "Recording not found")
        return {"name": name, "format": self.stored[name][0]}
