"""Channels entering acd's app that are not callers: what a StasisStart is.

Every channel acd creates names its role in its Stasis args (`agent,<call id>`,
`transfer,<call id>`, `supervisor,<call id>`, `snoop,<call id>,<mode>`,
`callback,...`): it belongs to a call and is never a caller. Asterisk may also put
channels acd did not create into the app: the `;1`/`;2` halves of a Local channel
(a core transfer from a phone without `ari-only` transfer handling puts
`Local/<number>@<context>-...;1` into the call's bridge in place of the agent), or a
channel that replaces another (StasisStart with `replace_channel`: a masquerade,
an attended transfer carried out by Asterisk). Those are strangers: no IVR runs for
them and they write no `calls` row; acd hangs them up (the dialplan side of a
Local channel then ends too). A caller whose channel is `PJSIP/agentNNN-...` (an
agent who dialled 8 + an acd number) is a caller like any other. An agent's phone
dialling a colleague (`[agents]` 1xx/2xx) enters as `phone,<number>`: a consult of
the agent's acd call, or a plain internal call (acd.calls.phone_calls).
"""

from __future__ import annotations

from typing import Literal

from acd.ari import events as ev

# Stasis args naming a channel acd created for a call (the first arg).
ROLES: frozenset[str] = frozenset({"agent", "callback", "transfer", "supervisor", "snoop"})

# The `[agents]` dialplan's Stasis args for an agent phone's call to a colleague's
# number: `phone,<number>` (acd.calls.phone_calls): never a caller either.
PHONE = "phone"

Kind = Literal["caller", "role", "phone", "local", "replacement"]


def kind_of(event: ev.StasisStart) -> Kind:
    """What entered the app: a caller, one of acd's own channels (`role`: it belongs
    to a call, found by its channel id), or a stranger (`local`, `replacement`)."""
    if event.args and event.args[0] in ROLES:
        return "role"
    if event.args and event.args[0] == PHONE:
        return "phone"
    if event.channel.name.startswith("Local/"):
        return "local"
    if event.replace_channel is not None:
        return "replacement"
    return "caller"
