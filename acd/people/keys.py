"""Every Redis key the people layer uses, built from the prefix in one place.

    {P}:session:<sha256>       string  a browser session (JSON); the cookie holds the
                                       secret, Redis only its hash
    {P}:login-fail:user:<name> string  failed logins of a user in the window (counter)
    {P}:login-fail:addr:<ip>   string  failed logins from an address in the window
    {P}:pop:<call id>          string  what an agent's screen pop shows of a call (JSON)
    {P}:wrapup-ext:<agent>     string  seconds of wrap-up extension used (counter)
    {P}:live                   pubsub  "<node>": something changed; rebuild the snapshot
    {P}:defs                   pubsub  agents or queues were changed at run time
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def digest(secret: str) -> str:
    """The sha256 of a secret (session id, API token): what acd stores instead."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PeopleKeys:
    prefix: str

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    def session(self, secret: str) -> str:
        return f"{self.tag}:session:{digest(secret)}"

    def login_fail_user(self, name: str) -> str:
        return f"{self.tag}:login-fail:user:{name.lower()}"

    def login_fail_addr(self, address: str) -> str:
        return f"{self.tag}:login-fail:addr:{address}"

    def pop(self, call_id: str) -> str:
        return f"{self.tag}:pop:{call_id}"

    def wrapup_extension(self, agent_id: str) -> str:
        return f"{self.tag}:wrapup-ext:{agent_id}"

    @property
    def live(self) -> str:
        return f"{self.tag}:live"

    @property
    def defs(self) -> str:
        return f"{self.tag}:defs"
