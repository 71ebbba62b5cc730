"""Who hears whom: the simulator keeps no audio, so the end-to-end tests ask this
model what reaches a channel's phone (issue 17: "what each party hears").

A channel hears the music played to it or to its bridge ("moh") and what each other
member of its bridge carries: a phone's voice (its channel id), or for a snoop what
it spies of its target (`spy` in: what the target says, out: what the target hears,
both). A snoop whispering `out` (or both) to its target makes the target hear what
the snoop's own bridge carries (a supervisor's voice); `in` (or both) mixes it into
what the target sends, so the target's bridge mates hear it too. This is what a real
Asterisk 22 did for listen (spy both), whisper (spy both, whisper out) and barge on
the real-Asterisk tier (docs/call-control.md, "Monitoring").
"""

from __future__ import annotations

from acd.sim.model import Channel


def hears(ch: Channel) -> list[str]:
    """What reaches `ch`'s phone: channel ids of the voices, and "moh"."""
    out: set[str] = set()
    if ch.moh:
        # Music on the channel itself is a generator: nothing of its bridge reaches the
        # phone then (the held caller hears the tone alone: tests/asterisk/test_control_hold.py).
        return ["moh"]
    b = ch.bridge
    if b is not None:
        if b.moh_id is not None:
            out.add("moh")
        for other in b.channels:
            if other is not ch:
                out |= _carries(other)
    for snoop in ch.snoops:
        if snoop.whisper in ("out", "both") and snoop.alive:
            out |= _whispered(snoop)
    out.discard(ch.id)
    return sorted(out)


def _voices_around(ch: Channel) -> set[str]:
    """The voices in `ch`'s bridge besides its own (what its phone hears, no snoops)."""
    b = ch.bridge
    if b is None:
        return {"moh"} if ch.moh else set()
    voices = {x.id for x in b.channels if x is not ch and x.kind != "snoop"}
    return voices | ({"moh"} if b.moh_id is not None or ch.moh else set())


def _whispered(snoop: Channel) -> set[str]:
    """What a snoop is fed: the phones' voices in the snoop's own bridge."""
    b = snoop.bridge
    return set() if b is None else {x.id for x in b.channels
                                    if x is not snoop and x.kind != "snoop"}


def _carries(member: Channel) -> set[str]:
    """What one bridge member brings into its bridge."""
    if member.kind != "snoop":
        voices = set() if "in" in member.muted else {member.id}  # muted in: not carried
        for snoop in member.snoops:
            if snoop.whisper in ("in", "both") and snoop.alive:
                voices |= _whispered(snoop)
        return voices
    target = member.snoop_of
    if target is None or not target.alive:
        return set()
    out: set[str] = set()
    if member.spy in ("in", "both"):
        out.add(target.id)
    if member.spy in ("out", "both"):
        out |= _voices_around(target)
        for snoop in target.snoops:
            if snoop is not member and snoop.whisper in ("out", "both") and snoop.alive:
                out |= _whispered(snoop)
    return out
