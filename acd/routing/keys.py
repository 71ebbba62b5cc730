"""Every Redis key routing and agents use, built from the prefix in one place.

All keys carry the hash tag `{<prefix>}` so they share one Redis Cluster slot and
one Lua script may touch them all. Scripts never build key names: they receive
them through KEYS, in the order `Layout.keys` gives (see lua/_lib.lua).

    {P}:agents            hash   agent id -> JSON record (definition + live state)
    {P}:calls             hash   call id -> JSON record (requirement steps, state, offers)
    {P}:idle              zset   available agents, score = available since (ms)
    {P}:idle:<skill>      zset   available agents holding <skill> (lazily cleaned index)
    {P}:t:agents          zset   agent id -> deadline (ms) of its reserved/ringing/on_call/
                                 wrap_up (on_call: renewed by the owner node every tick)
    {P}:t:calls           zset   call id -> next wake-up (ms): chain step, retry delay end,
                                 callback retry
    {P}:stats             hash   "<queue>:aht" -> average handle time (ms), "<queue>:n"
    {P}:q:<queue>         zset   waiting calls of <queue>, score = rank (lower first)
    {P}:waitq             set    names of the queues that may hold waiting calls (a free
                                 agent searches only these)
    {P}:inbox:<node>      list   offers for calls owned by <node> (JSON), consumed by it
    {P}:nodes             hash   node id -> first start (ms): nodes that ever routed
    {P}:node:<node>       string present while <node> is alive (heartbeat with a TTL)
    {P}:kick              pubsub channel: "match" asks every node to sweep now
    {P}:control:<node>    list   moves asked of calls <node> owns (JSON), consumed by it
    {P}:control-reply:<id> list  the owner's answer to one of them (expires)

The tag also makes routing run on a Redis Cluster (acd.routing.client).

Keys of the other rooms are built here too (one module builds every key acd
uses). The people layer's keys (`PeopleKeys`, below; acd.people.keys re-exports
it) carry the same tag. The IVR's and the call room's keys were written without
the tag before they moved here; they keep their spelling byte for byte, so data
already in Redis stays readable:

    P:list:<name>               set     a caller list the IVR's `list` nodes test
                                        (api: GET/PUT/DELETE /api/lists/...)
    P:schedule-override:<name>  string  a supervisor's override of a schedule
    P:chan:<channel id>         hash    a live call's re-adoption record (calls/records)
    P:callback:<routing id>     hash    a callback task's attempts (calls/records)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    @property
    def agents(self) -> str:
        return f"{self.tag}:agents"

    @property
    def calls(self) -> str:
        return f"{self.tag}:calls"

    @property
    def idle(self) -> str:
        return f"{self.tag}:idle"

    def idle_skill(self, skill: str) -> str:
        return f"{self.tag}:idle:{skill}"

    @property
    def agent_timers(self) -> str:
        return f"{self.tag}:t:agents"

    @property
    def call_timers(self) -> str:
        return f"{self.tag}:t:calls"

    @property
    def stats(self) -> str:
        return f"{self.tag}:stats"

    def queue(self, name: str) -> str:
        return f"{self.tag}:q:{name}"

    @property
    def waiting_queues(self) -> str:
        return f"{self.tag}:waitq"

    def inbox(self, node_id: str) -> str:
        return f"{self.tag}:inbox:{node_id}"

    @property
    def nodes(self) -> str:
        return f"{self.tag}:nodes"

    def node(self, node_id: str) -> str:
        return f"{self.tag}:node:{node_id}"

    def alive(self, node_id: str) -> str:
        """Clock ms of the node's last tick (kept 6 hours): when a dead node last
        saw its calls."""
        return f"{self.tag}:alive:{node_id}"

    def sentinel(self, node_id: str) -> str:
        """Set at start and never expiring: gone means Redis lost its data."""
        return f"{self.tag}:sentinel:{node_id}"

    @property
    def kick(self) -> str:
        return f"{self.tag}:kick"

    def control(self, node_id: str) -> str:
        """Moves asked of calls <node> owns (hold, transfer...: acd.calls.control)."""
        return f"{self.tag}:control:{node_id}"

    def control_reply(self, request_id: str) -> str:
        """The owner node's answer to one move asked from another node."""
        return f"{self.tag}:control-reply:{request_id}"

    # ---- outside routing, untagged (see the module's docstring)

    def caller_list(self, name: str) -> str:
        return f"{self.prefix}:list:{name}"

    def schedule_override(self, name: str) -> str:
        return f"{self.prefix}:schedule-override:{name}"

    def channel_record(self, channel_id: str) -> str:
        """A live call's re-adoption record, by its caller channel (acd.calls.records)."""
        return f"{self.prefix}:chan:{channel_id}"

    def callback_record(self, routing_id: str) -> str:
        """A callback task's record, by its routing id (acd.calls.records)."""
        return f"{self.prefix}:callback:{routing_id}"


def digest(secret: str) -> str:
    """The sha256 of a secret (session id, API token): what acd stores instead."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PeopleKeys:
    """The people layer's keys (acd.people):

        {P}:session:<sha256>       string  a browser session (JSON); the cookie holds
                                           the secret, Redis only its hash
        {P}:login-fail:user:<name> string  failed logins of a user in the window
        {P}:login-fail:addr:<ip>   string  failed logins from an address in the window
        {P}:pop:<call id>          string  what an agent's screen pop shows (JSON)
        {P}:wrapup-ext:<agent>     string  seconds of wrap-up extension used (counter)
        {P}:live                   pubsub  "<node>": something changed; rebuild
        {P}:defs                   pubsub  agents or queues were changed at run time
    """

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


@dataclass(frozen=True, slots=True)
class Layout:
    """The KEYS and leading ARGV every script receives (see lua/_lib.lua).

    KEYS[1..6] = agents, calls, idle, t:agents, t:calls, stats; then one queue
    key per name in `queues`, then one idle key per name in `skills`, then waitq.
    ARGV[1] = JSON [[queue names], [skill names]] (one argument whatever the number
    of names); each script's own ARGV follow.
    """

    keys: tuple[str, ...]
    head: tuple[str, ...]
    queues: tuple[str, ...] = field(default=())
    skills: tuple[str, ...] = field(default=())

    @classmethod
    def build(cls, k: Keys, queues: Iterable[str] = (), skills: Iterable[str] = ()) -> Layout:
        qs = tuple(sorted(set(queues)))
        ss = tuple(sorted(set(skills)))
        keys = (k.agents, k.calls, k.idle, k.agent_timers, k.call_timers, k.stats,
                *(k.queue(q) for q in qs), *(k.idle_skill(s) for s in ss), k.waiting_queues)
        head = (json.dumps([qs, ss], separators=(",", ":")),)
        return cls(keys=keys, head=head, queues=qs, skills=ss)
