"""The people layer's Redis keys: built in acd.routing.keys with every other key
acd uses (`PeopleKeys`, `digest`), re-exported here for the people layer."""

from __future__ import annotations

from acd.routing.keys import PeopleKeys, digest

__all__ = ["PeopleKeys", "digest"]
