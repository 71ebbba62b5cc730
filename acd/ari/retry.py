"""Which ARI requests may be sent again after a dropped connection (issue #12).

aiohttp itself sends a GET, PUT or DELETE once more when a reused connection drops;
`acd.ari.transport` retries further only what `retry_safe` allows.
"""

from __future__ import annotations

from urllib.parse import quote

Params = dict[str, str]

# A dropped connection may have carried the request out before it closed, so only a
# request whose second copy is harmless is sent again (`retry_safe`). What a real
# Asterisk 22 answers to each request sent twice is tests/asterisk/test_twice.py:
# - answer, moh, ring, hold and variable (POST) twice: 204 twice, nothing repeated;
# - create, originate, bridges and snoop with an id acd chose: the second copy is
#   refused (409; 500 "Unique ID already in use" for snoop), no second resource;
# - NOT safe: play (the same playbackId plays the prompt twice), dial (409 when the
#   first is under way, else the second INVITE fails in PJSIP and the leg is hung
#   up), addChannel (the channel leaves the bridge and enters it again),
#   removeChannel and continue (422/404 for the second), dtmf, redirect, move,
#   recordings (unverified: not retried).
IDEMPOTENT_ACTIONS = frozenset({"answer", "moh", "ring", "hold", "variable", "mute",
                                "silence"})
# POSTs that carry an id acd chose: path (`{}` for one segment) -> (the parameter
# naming the new resource, where it is read back when a retry finds it made).
ID_CARRYING = {
    "/channels": ("channelId", "/channels/"), "/channels/create": ("channelId", "/channels/"),
    "/bridges": ("bridgeId", "/bridges/"), "/channels/{}/snoop": ("snoopId", "/channels/"),
}
# A retry answered with one of these found what the first copy did (above).
DONE_BEFORE = {"POST": (409, 500), "DELETE": (404, 409)}


def _template(path: str) -> str:
    """`path` with the id segments replaced by `{}` (`/channels/x/play` -> `/channels/{}/play`)."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] in ("channels", "bridges") and path != "/channels/create":
        parts[2] = "{}"
    return "/".join(parts)


def retry_safe(method: str, path: str, params: Params | None) -> bool:
    """Whether a request may be sent again after its connection dropped unanswered.

    GET, PUT and DELETE can (a second DELETE finds nothing: 404, which callers treat
    as gone); a POST only when its action is idempotent or it names, with an id acd
    chose, what it creates. Others (play without an id, dial, continue, addChannel,
    dtmf, ...) could be carried out twice and are not retried.
    """
    if method in ("GET", "PUT", "DELETE", "HEAD"):
        return True
    if method != "POST":
        return False
    template = _template(path)
    parts = template.split("/")
    if len(parts) == 4 and parts[3] in IDEMPOTENT_ACTIONS:
        return True
    if template == "/bridges/{}":  # create-or-update with the id in the path
        return True
    made = ID_CARRYING.get(template)
    return made is not None and bool(params and params.get(made[0]))


def made_by_first_copy(method: str, path: str, params: Params | None) -> str | None:
    """For an id-carrying POST, the path that reads back what it creates."""
    if method != "POST":
        return None
    made = ID_CARRYING.get(_template(path))
    if made is None or not params or not params.get(made[0]):
        return None
    return made[1] + quote(params[made[0]], safe="")
