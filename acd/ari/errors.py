"""ARI failures as typed exceptions.

Asterisk answers most failures with a status and a JSON body `{"message": ...}`
(`{"error": "Allocation failed"}` for an originate it could not place; a bare
text body for 401). The class says what kind of failure it was; `gone` says
whether the thing acted on (channel, bridge, playback) no longer exists, which
for a contact center is usually a normal race with a hang-up, not a fault.
"""

from __future__ import annotations

import json
from typing import Any

from acd.errors import AcdError

# Bodies that mean "the object you named is not there (any more)". Seen on a real
# Asterisk 22 (see ../shared/ari/traces) or in its res/ari sources. Deliberately
# *not* "Resource not found", which means a wrong route (e.g. POST .../startMoh).
_GONE_404 = frozenset({
    "Channel not found",
    "Provided channel was not found",
    "Bridge not found",
    "Playback not found",
    "Recording not found",
})
# addChannel/removeChannel answer 400 for an unknown channel, and channel
# operations answer 409/422 once the channel has left Stasis.
_GONE_OTHER = frozenset({"Channel not found", "Channel not in Stasis application"})


class AriError(AcdError):
    """An ARI request failed. `status` is None when no HTTP answer came back."""

    error_id = "ari_error"

    def __init__(
        self, message: str, *, status: int | None = None, method: str = "", path: str = ""
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.status = status
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        code = "" if self.status is None else f"{self.status} "
        return f"ARI {where}: {code}{self.message}" if where else f"ARI: {code}{self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, method={self.method!r}, "
            f"path={self.path!r}, message={self.message!r})"
        )

    @property
    def gone(self) -> bool:
        """True when the channel / bridge / playback acted on no longer exists."""
        if self.status == 404:
            return self.message in _GONE_404
        if self.status in (400, 409, 422):
            return self.message in _GONE_OTHER
        return False


class AriBadRequest(AriError):
    error_id = "ari_bad_request"


class AriUnauthorized(AriError):
    error_id = "ari_unauthorized"


class AriNotFound(AriError):
    error_id = "ari_not_found"


class AriConflict(AriError):
    error_id = "ari_conflict"


class AriUnprocessable(AriError):
    error_id = "ari_unprocessable"


class AriAllocationFailed(AriError):
    """Asterisk could not create the channel (unknown endpoint or technology)."""

    error_id = "ari_allocation_failed"


class AriServerError(AriError):
    error_id = "ari_server_error"


class AriUnavailable(AriError):
    """No answer: connection refused or reset, TLS failure, or timeout."""

    error_id = "ari_unavailable"


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    401: AriUnauthorized,
    404: AriNotFound,
    409: AriConflict,
    422: AriUnprocessable,
}


def body_message(text: str) -> str:
    """The human message of an ARI error body (JSON `message`/`error`, or the text)."""
    body: Any = text
    # A 401 body arrives as text that is itself JSON; decode up to twice.
    for _ in range(2):
        if not isinstance(body, str):
            break
        try:
            body = json.loads(body)
        except ValueError:
            break
    if isinstance(body, dict):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value
        return json.dumps(body)[:200]
    return str(body).strip()[:200]


def error_for(status: int, text: str, method: str, path: str) -> AriError:
    """The typed exception for an ARI answer with a non-success `status`."""
    message = body_message(text) or f"HTTP {status}"
    cls = _BY_STATUS.get(status)
    if cls is None:
        if status == 500 and "allocation failed" in message.lower():
            cls = AriAllocationFailed
        elif status >= 500:
            cls = AriServerError
        else:
            cls = AriError
    return cls(message, status=status, method=method, path=path)
