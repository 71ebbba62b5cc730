"""A router node's life: start and stop, the tick (renew, leave-empty, reaper,
sweep), the kick listener and the heartbeat that notices a Redis that lost its
data. Part of Router (see acd.routing.base).

An answered agent is on_call until a deadline (settings.on_call_ttl) that the
owner node pushes on every tick for all the connected calls it holds, in one
script (renew.lua); if the owner dies, the reaper (any node) frees the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from acd import metrics
from acd.outage import REDIS, report
from acd.routing.base import RouterBase

logger = logging.getLogger("acd.routing.service")

# A node that has not renewed its heartbeat for this long is taken for dead: its
# callback tasks are taken over, offers for its other calls are not sent to it.
NODE_TTL_MS = 30_000
ALIVE_TTL_S = 6 * 3600  # as long as a call's re-adoption record


class NodeLife(RouterBase):
    if TYPE_CHECKING:  # defined by the other parts of Router
        async def _inbox_loop(self) -> None: ...

        async def leave_empty(self) -> int: ...

    async def start(self) -> None:
        """Start the offer bus, the tick (reaper + sweep), the inbox reader and the
        kick listener."""
        self._stopping = False
        self.bus.start()
        self._beating = False
        await self.redis.hsetnx(self.keys.nodes, self.node_id, self.clock.ms())
        # When this node (a previous life of it) last ticked: calls that ended
        # while it was down were last seen then (see acd.calls.recovery).
        seen = await self.redis.get(self.keys.alive(self.node_id))
        self.resumed_from_ms = int(seen) if seen else None
        await self._heartbeat()
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name=f"router-tick-{self.node_id}"),
            asyncio.create_task(self._inbox_loop(), name=f"router-inbox-{self.node_id}"),
            asyncio.create_task(self._kick_loop(), name=f"router-kick-{self.node_id}"),
        ]
        await self.kick()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: stopping must never hang a shutdown.
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for task in pending:
                logger.warning("router %s: task %s did not stop in 2 s", self.node_id,
                               task.get_name())
        self._tasks.clear()
        for handle in self._exit_timers.values():
            handle.cancel()
        self._exit_timers.clear()
        for task in list(self._background):
            task.cancel()
        await self._stop_bus()

    async def _stop_bus(self) -> None:
        """Stop delivering; offers not delivered yet give their agents back (bounded:
        should Redis be away, their reservations expire instead)."""
        left = await self.bus.stop()
        if not left:
            return
        logger.warning("router %s: %d offers not delivered at stop; releasing their agents",
                       self.node_id, len(left))
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            async with asyncio.timeout(2.0):
                for offer in left:
                    await self.scripts.run("offer_failed", self.clock.ms(), offer.call_id,
                                           offer.reservation_id, offer.agent_id, "0")

    async def kick(self) -> None:
        """Ask every node (us included) to sweep the queues now."""
        await self.redis.publish(self.keys.kick, "match")

    async def reap(self) -> int:
        """Run the reaper until nothing due is left; returns how many items it saw."""
        seen = 0
        for _ in range(100):
            res = await self._run("reap", 200)
            seen += int(res["agents"]) + int(res["calls"])
            for call_id in res.get("orphaned") or []:
                logger.warning("call %s: its owner stopped renewing it; agent freed",
                               call_id)
                self._drop_connected(call_id)
            if not res["more"]:
                break
        return seen

    async def renew(self) -> int:
        """Push the on_call deadline of the agents on this node's connected calls
        (one script call); returns how many are still on their call."""
        for call_id, offer in list(self._unconfirmed.items()):
            if self._connected.get(call_id, ("", ""))[1] != offer.reservation_id:
                del self._unconfirmed[call_id]  # over meanwhile
                continue
            res = await self._run("offer_answered", offer.call_id, offer.reservation_id,
                                  offer.agent_id)
            del self._unconfirmed[call_id]
            if res["connected"]:
                self._connected[call_id] = (offer.agent_id, offer.reservation_id)
            logger.warning("call %s: agent %s's answer recorded late (%s)", call_id,
                           offer.agent_id, "on call" if res["connected"] else "offer gone")
        if not self._connected:
            return 0
        held = [[c, a, r] for c, (a, r) in self._connected.items()]
        res = await self._run("renew", json.dumps(held, separators=(",", ":")))
        for call_id in res.get("gone") or []:
            self._drop_connected(call_id)
        return int(res["renewed"])

    async def sweep(self) -> int:
        """The safety net: waiting calls look for free agents. Bounded per call
        (settings.scan_limit calls examined); successive sweeps go round the queues."""
        res = await self._run("sweep", self._sweep_cursor)
        self._sweep_cursor = int(res.get("cursor") or 1)
        return int(res["matched"])

    async def _tick_loop(self) -> None:
        while not self._stopping:
            try:
                # Poll the wake-up flag rather than wait_for(Event.wait()): on
                # Python 3.11 that pattern can swallow a cancel and hang stop().
                deadline = asyncio.get_running_loop().time() + self.clock.real(
                    self.settings.tick)
                while not self._wake.is_set():
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        break
                    await asyncio.sleep(min(0.02, left))
                self._wake.clear()
                await self._heartbeat()
                await self.renew()  # first: our own agents must not look orphaned
                await self.leave_empty()
                await self.reap()
                await self.sweep()
                self._ticks += 1
                if self._ticks % 5 == 0:
                    await self.agents.refresh_known()  # the agents' last known states
                self.redis_ok = True
                REDIS.ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.redis_ok = False
                report(logger, exc, "router %s: tick", self.node_id)
                await asyncio.sleep(0.5)

    async def _kick_loop(self) -> None:
        """Listen for kicks; after a Redis outage, subscribe again (the tick sweeps
        meanwhile, so a missed kick only delays a match by one tick)."""
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.kick)
                self._wake.set()  # kicks may have been missed while away
                while not self._stopping:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report(logger, exc, "router %s: kick listener", self.node_id)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _heartbeat(self) -> None:
        """Say this node is alive, and check that Redis still has its data (this
        node's sentinel key, set at start, never expires). Should the sentinel be
        gone (Redis restarted empty), `on_lost` restores what acd knows. Should only
        the previous beat have lapsed (Redis away, a stalled loop), other nodes may
        have taken this node for dead and released its waiting calls: `on_revived`
        lets the call room queue them again."""
        sentinel = self.keys.sentinel(self.node_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.node(self.node_id), "1", px=NODE_TTL_MS, get=True)
            pipe.exists(sentinel)
            pipe.set(self.keys.alive(self.node_id), str(self.clock.ms()), ex=ALIVE_TTL_S)
            was, kept, _ = await pipe.execute()
        if not kept:
            await self.redis.set(sentinel, str(self.clock.ms()))
            await self.redis.hsetnx(self.keys.nodes, self.node_id, self.clock.ms())
            if self._beating:
                self.restores += 1
                metrics.REDIS_RESTORES.inc()
                logger.warning("router %s: Redis lost its data (restarted empty?); restoring "
                               "agents and queueing this node's calls again", self.node_id)
                if self.on_lost is not None:
                    await self.on_lost()
                return
        if was is None and self._beating and self.on_revived is not None:
            logger.warning("router %s: its heartbeat had lapsed; queueing its calls again",
                           self.node_id)
            await self.on_revived()
        self._beating = True

    async def last_seen_ms(self, node_id: str) -> int | None:
        """When `node_id` last ticked, None when unknown. For this node: its
        previous life's last tick, read at start."""
        if node_id == self.node_id:
            return self.resumed_from_ms
        seen = await self.redis.get(self.keys.alive(node_id))
        return int(seen) if seen else None

    async def node_alive(self, node_id: str) -> bool:
        """Another node whose heartbeat has not lapsed (this node: True)."""
        if not node_id or node_id == self.node_id:
            return node_id == self.node_id
        return bool(await self.redis.exists(self.keys.node(node_id)))

    def connected_agents(self) -> dict[str, tuple[str, str, str]]:
        """Agent -> (call, reservation, queue) of the connected calls this node holds."""
        out: dict[str, tuple[str, str, str]] = {}
        for call_id, (agent_id, res) in self._connected.items():
            out[agent_id] = (call_id, res, self._connected_queue.get(call_id, ""))
        return out

    async def restore_agents(self) -> int:
        """Write the agents back after Redis lost its data (AgentService.restore)."""
        return await self.agents.restore(self.connected_agents(),
                                         int(self.settings.on_call_ttl * 1000))
