"""Why an ARI request failed, as the status and body Asterisk would send."""

from __future__ import annotations

from acd.sim.model import JsonDict


class AriReply(Exception):
    """An ARI error answer: `status` and `{"message": ...}` (or `{"error": ...}`)."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.key = key

    def body(self) -> JsonDict:
        return {self.key: self.message}


def channel_not_found() -> AriReply:
    return AriReply(404, "Channel not found")


def not_in_stasis() -> AriReply:
    return AriReply(409, "Channel not in Stasis application")


def allocation_failed() -> AriReply:
    return AriReply(500, "Allocation failed", key="error")
