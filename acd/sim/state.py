"""`GET /sim/state`: a look at every channel, bridge, prompt and recording."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.sim.hearing import hears
from acd.sim.model import JsonDict

if TYPE_CHECKING:
    from acd.sim.core import World


def snapshot(world: World) -> JsonDict:
    """Everything the simulator holds, as JSON-able data (GET /sim/state)."""
    media = world.media
    return {
        "channels": [{**c.as_json(), "app": c.app, "phase": c.phase,
                      "in_stasis": c.in_stasis, "endpoint": f"{c.tech}/{c.resource}",
                      "bridge": c.bridge.id if c.bridge else None, "moh": c.moh,
                      "on_hold": c.on_hold, "variables": dict(c.variables),
                      "queued": len(c.control) if c.control else 0,
                      "hears": hears(c), "muted": sorted(c.muted)}
                     for c in world.channels.values()],
        "bridges": [b.as_json() for b in world.bridges.values()],
        "playbacks": [p.as_json() for p in media.playbacks.values()],
        "recordings": {"live": [r.as_json() for r in media.live.values()],
                       "stored": sorted(media.stored),
                       "heard": {name: "".join(keys) for name, keys in media.heard.items()}},
        "apps": {name: len(app.connections) for name, app in world.hub.apps.items()},
        "counters": {"calls_placed": world.calls_placed,
                     "stasis_failures": world.stasis_failures,
                     "events_sent": world.hub.events_sent,
                     "playbacks_started": media.playbacks_started},
    }

