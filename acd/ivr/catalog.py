"""What the configuration offers a flow: queues, chains, lists, schedules, sounds, web services.

A flow that names a queue no one defined validates on its own, then fails every
call. With a `FlowCatalog` (built from the settings at load, or from
`acd ivr validate --config FILE`), every such name is checked when the flow
loads, with the file:line of the reference.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from acd.ivr.http_policy import HttpPolicy, check_url, make_policy, parse_rule
from acd.ivr.model import Flow, HttpNode, ListNode, QueueNode, ScheduleNode
from acd.ivr.problems import FlowError, suggest
from acd.ivr.strict import prompts_of

if TYPE_CHECKING:
    from acd.config import Settings

MAX_SOUND_FILES = 50_000


class IvrSettings(BaseModel):
    """`ivr:` in the configuration."""

    model_config = ConfigDict(extra="forbid")

    # Caller lists `list` nodes may check (members are managed through the API).
    lists: list[str] = Field(default_factory=list)
    # Schedules (a schedule node's `name`, else its node id) overrides may address.
    schedules: list[str] = Field(default_factory=list)
    # Where `http` nodes may go: URL prefixes, host names, or `api:/demo/`.
    http_allow: list[str] = Field(default_factory=list)
    # Private networks that listed host names may resolve to (e.g. 10.0.0.0/8).
    http_private_networks: list[str] = Field(default_factory=list)
    # Asterisk's sounds folder (e.g. /var/lib/asterisk/sounds): when set and visible,
    # every `sound:` prompt must be installed there ("": not checked).
    sounds_dir: str = ""

    @field_validator("http_allow")
    @classmethod
    def _entries(cls, v: list[str]) -> list[str]:
        for entry in v:
            parse_rule(entry, own_api=("127.0.0.1", 8080))  # ValueError: says which entry
        return v

    @field_validator("http_private_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            ipaddress.ip_network(net, strict=False)
        return v


@dataclass(frozen=True)
class FlowCatalog:
    queues: frozenset[str]
    chains: frozenset[str]
    lists: frozenset[str]
    schedules: frozenset[str]
    http: HttpPolicy
    sounds: frozenset[str] | None = None  # installed sound names; None: folder not visible

    def fingerprint(self) -> str:
        """Changes whenever a flow could be judged differently against this catalog."""
        sounds = None if self.sounds is None else hashlib.sha256(
            "\n".join(sorted(self.sounds)).encode()).hexdigest()
        return repr((sorted(self.queues), sorted(self.chains), sorted(self.lists),
                     sorted(self.schedules), self.http.entries,
                     self.http.private_networks, self.http.own_api, sounds))


def installed_sounds(folder: str | Path) -> frozenset[str] | None:
    """Sound names under an Asterisk sounds folder (`en/digits/3.gsm` gives `digits/3`
    and `en/digits/3`), or None when the folder is not there."""
    base = Path(folder)
    if not base.is_dir():
        return None
    names: set[str] = set()
    seen = 0
    for root, _dirs, files in os.walk(base):
        for f in files:
            seen += 1
            if seen > MAX_SOUND_FILES:
                return frozenset(names)
            rel = (Path(root) / f).relative_to(base).with_suffix("").as_posix()
            names.add(rel)
            head, _, tail = rel.partition("/")
            if tail and len(head) <= 5:  # a language folder: en, fr, en_GB
                names.add(tail)
    return frozenset(names)


def catalog_from_settings(s: Settings, *, sounds: bool = True) -> FlowCatalog:
    """The catalog of a configuration; ValueError when `ivr.http_allow` is wrong."""
    ivr = s.ivr
    return FlowCatalog(
        queues=frozenset(q.name for q in s.queues),
        chains=frozenset(c.name for c in s.routing.chains),
        lists=frozenset(ivr.lists),
        schedules=frozenset(ivr.schedules),
        http=make_policy(ivr.http_allow, ivr.http_private_networks,
                         own_api=(s.api.host, s.api.port)),
        sounds=installed_sounds(ivr.sounds_dir) if sounds and ivr.sounds_dir else None,
    )


def check_refs(flow: Flow, catalog: FlowCatalog) -> list[FlowError]:
    """Every name `flow` uses that the configuration must define."""
    errors: list[FlowError] = []

    def err(path: tuple[str, ...], node: str, msg: str, hint: str | None = None) -> None:
        m = flow.mark(*path)
        errors.append(FlowError(flow.source, m.line, m.column, node, msg, hint))

    for nid, node in flow.nodes.items():
        if isinstance(node, QueueNode):
            if "${" not in node.queue and node.queue not in catalog.queues:
                err(("nodes", nid, "queue"), nid, f"queue '{node.queue}' is not defined in "
                    "the configuration (queues:)", suggest(node.queue, catalog.queues))
            if node.chain is not None and node.chain not in catalog.chains:
                err(("nodes", nid, "chain"), nid, f"chain '{node.chain}' is not defined in "
                    "the configuration (routing.chains:)", suggest(node.chain, catalog.chains))
        elif isinstance(node, ListNode) and node.list_name not in catalog.lists:
            err(("nodes", nid, "list"), nid, f"list '{node.list_name}' is not declared in the "
                "configuration (ivr.lists:)", suggest(node.list_name, catalog.lists))
        elif isinstance(node, ScheduleNode):
            name = node.name or nid
            if name not in catalog.schedules:
                err(("nodes", nid, "name" if node.name else "type"), nid,
                    f"schedule '{name}' is not declared in the configuration (ivr.schedules:)",
                    suggest(name, catalog.schedules))
        elif isinstance(node, HttpNode) and "${" not in _origin(node.url):
            _, why = check_url(node.url.split("${", 1)[0], catalog.http)
            if why is not None:
                err(("nodes", nid, "url"), nid, f"url refused: {why}")
    if catalog.sounds is not None:
        for nid, path, prompt in prompts_of(flow):
            name = prompt.removeprefix("sound:")
            if prompt.startswith("sound:") and "${" not in name and name not in catalog.sounds:
                err(path, nid, f"prompt '{prompt}' is not installed in the sounds folder",
                    suggest(name, catalog.sounds, 0.85))
    return errors


def _origin(url: str) -> str:
    """scheme://host:port of a URL (what the allow-list is first about)."""
    scheme, _, rest = url.partition("://")
    return scheme + "://" + rest.split("/", 1)[0]
