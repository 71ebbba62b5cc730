"""The root of acd's own errors.

Every domain error carries an `error_id` slug and a `details` dict, so that the
HTTP layer can map it to a status code and a body an operator can act on. No
traceback ever leaves the process.
"""

from __future__ import annotations

from typing import Any


class AcdError(Exception):
    """Root of every error acd raises on purpose."""

    error_id = "acd_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class NotFound(AcdError):
    error_id = "not_found"


class InvalidRequest(AcdError):
    error_id = "invalid_request"


class Conflict(AcdError):
    error_id = "conflict"


class Unavailable(AcdError):
    """acd could not do it now (a back-end or another node did not answer in time)."""

    error_id = "unavailable"


class ConfigError(AcdError):
    error_id = "config_error"


class StartupError(AcdError):
    """acd cannot start: what failed, where, and what to do, in one line."""

    error_id = "startup_error"


def http_status(exc: AcdError) -> int:
    """The HTTP status an error answers with (acd.api): 400 unless said otherwise."""
    for cls, code in ((NotFound, 404), (InvalidRequest, 400), (Conflict, 409),
                      (Unavailable, 503)):
        if isinstance(exc, cls):
            return code
    return 400
