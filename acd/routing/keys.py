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
    {P}:inbox:<node>      list   offers for calls owned by <node> (JSON), consumed by it
    {P}:nodes             hash   node id -> first start (ms): nodes that ever routed
    {P}:node:<node>       string present while <node> is alive (heartbeat with a TTL)
    {P}:kick              pubsub channel: "match" asks every node to sweep now

The tag also makes routing run on a Redis Cluster (acd.routing.client).
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Layout:
    """The KEYS and leading ARGV every script receives (see lua/_lib.lua).

    KEYS[1..6] = agents, calls, idle, t:agents, t:calls, stats; then one queue
    key per name in `queues`, then one idle key per name in `skills`.
    ARGV[1] = #queues, ARGV[2] = #skills, then the queue names, then the skill
    names; each script's own ARGV follow.
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
                *(k.queue(q) for q in qs), *(k.idle_skill(s) for s in ss))
        head = (str(len(qs)), str(len(ss)), *qs, *ss)
        return cls(keys=keys, head=head, queues=qs, skills=ss)
