"""ARI events as the call machine's events: by channel (the caller's, a callback
being dialled, or one of the call's agent legs) and by kind."""

from __future__ import annotations

from acd.ari import events as ev
from acd.calls import events as e
from acd.calls.model import CallState, monitor_channels

# ChannelHangupRequest's "cause" on a soft hang-up is the soft hang-up reason, not a
# Q.850 cause: AST_SOFTHANGUP_DEV (1) when the channel driver itself ends the call
# (chan_pjsip's RTP timeout: ChannelHangupRequest {cause: 1, soft: true}, then
# ChannelDestroyed {cause: 44}, as the real Asterisk 22 tier shows).
SOFTHANGUP_DEV = 1


def to_call_event(state: CallState, event: ev.Event) -> e.Event | None:
    """The machine's event for an ARI event of one of `state`'s channels."""
    if isinstance(event, ev.RecordingFinished | ev.RecordingFailed) and event.bridge_id:
        # #17: the recording of the call's bridge
        return e.RecordingOff(event.recording.name, isinstance(event, ev.RecordingFinished))
    if event.channel_id == state.channel_id:
        return _caller(event)
    if event.channel_id is not None and state.leg(event.channel_id) is not None:
        return _leg(event.channel_id, event)
    # ---- transfer (issue 17): the agent phone's second call, a consult from the phone
    t = state.transfer
    if t is not None and t.phone_leg is not None and event.channel_id == t.phone_leg:
        if isinstance(event, ev.ChannelHangupRequest | ev.ChannelDestroyed | ev.StasisEnd):
            return e.PhoneLegGone(t.phone_leg)
        return None
    # ---- monitoring (issue 17): the supervisor's leg, snoops
    if event.channel_id is not None and event.channel_id in monitor_channels(state):
        return _monitor(event.channel_id, event)
    return None


def _monitor(channel_id: str, event: ev.Event) -> e.Event | None:
    match event:
        case ev.StasisStart():
            return e.MonitorChannel(channel_id, "stasis")
        case ev.Dial(dialstatus="ANSWER"):
            return e.MonitorChannel(channel_id, "answered")
        case ev.ChannelStateChange(channel=channel) if channel.state == "Up":
            return e.MonitorChannel(channel_id, "answered")
        case ev.ChannelHangupRequest(cause=cause):
            return e.MonitorChannel(channel_id, "hangup", cause)
        case ev.ChannelDestroyed(cause=cause):
            return e.MonitorChannel(channel_id, "gone", cause)
        case ev.StasisEnd():
            return e.MonitorChannel(channel_id, "left")
    return None


def _caller(event: ev.Event) -> e.Event | None:
    match event:
        case ev.ChannelDtmfReceived(digit=digit):
            return e.Dtmf(digit)
        case ev.PlaybackFinished(playback=playback):
            return e.PlaybackDone(playback.id)
        case ev.RecordingFinished(recording=rec):
            return e.RecordingDone(rec.name, ok=True)
        case ev.RecordingFailed(recording=rec):
            return e.RecordingDone(rec.name, ok=False)
        case ev.ChannelHangupRequest(cause=cause):
            return e.CallerHangupRequest(cause)
        case ev.StasisEnd():
            # After StasisEnd a real Asterisk 22 tells the app about a dialplan caller
            # only if the app subscribed to it otherwise: it is the last word acd gets.
            return e.CallerLeft(None, destroyed=False)
        case ev.ChannelDestroyed(cause=cause):
            return e.CallerLeft(cause)
        # A callback: the customer's channel acd created and dials.
        case ev.StasisStart():
            return e.CustomerInStasis()
        case ev.Dial(dialstatus="ANSWER"):
            return e.CustomerAnswered()
        case ev.Dial(dialstatus=status) if status:
            return e.CustomerDialStatus(status)
        case ev.ChannelStateChange(channel=channel) if channel.state == "Up":
            return e.CustomerAnswered()
    return None


def _leg(channel_id: str, event: ev.Event) -> e.Event | None:
    match event:
        case ev.StasisStart():
            return e.LegInStasis(channel_id)
        case ev.Dial(dialstatus="ANSWER"):
            return e.LegAnswered(channel_id)
        case ev.ChannelStateChange(channel=channel) if channel.state == "Ringing":
            return e.LegRinging(channel_id)
        case ev.ChannelStateChange(channel=channel) if channel.state == "Up":
            return e.LegAnswered(channel_id)
        case ev.ChannelHangupRequest(cause=cause, soft=soft):
            return e.LegHangupRequest(channel_id, cause,
                                      from_device=soft and cause == SOFTHANGUP_DEV)
        case ev.ChannelDestroyed(cause=cause):
            return e.LegDestroyed(channel_id, cause)
        # ---- transfer (issue 17): the phone's REFER; echoes of acd's reports (a state) ignored
        case ev.ChannelTransfer(state=None):
            dest = event.destination_channel
            return e.PhoneRefer(channel_id, event.destination or "", attended=event.attended,
                                replaces=dest.id if dest is not None else None)
        # ---- hold: the agent's phone's own hold button
        case ev.ChannelHold():
            return e.PhoneHold(channel_id, held=True)
        case ev.ChannelUnhold():
            return e.PhoneHold(channel_id, held=False)
    return None
