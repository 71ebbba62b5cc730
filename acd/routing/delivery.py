"""Where an offer goes once the bus hands it on: to this node's call room
(`on_offer`), to the owner node's inbox list, or, when the owner is dead, taken
over here. A delivery that fails releases the agent (offer_failed "error").
Part of Router (see acd.routing.base).
"""

from __future__ import annotations

import asyncio
import logging

from acd.outage import report
from acd.routing.base import RouterBase
from acd.routing.model import Offer, QueueRequest

logger = logging.getLogger("acd.routing.service")

INBOX_TTL_MS = 120_000


class Delivery(RouterBase):
    async def _deliver(self, offer: Offer) -> None:
        """The bus's deliverer: never raises (a failure releases the agent, or the
        reservation expires when even that fails)."""
        try:
            if offer.owner == self.node_id:
                await self._deliver_local(offer)
            elif await self._owner_dead(offer.owner):
                await self._take_over(offer)
            else:
                await self._forward(offer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            report(logger, exc, "call %s: offer to %s not delivered; its reservation "
                   "will expire", offer.call_id, offer.agent_id)

    async def _forward(self, offer: Offer) -> None:
        key = self.keys.inbox(offer.owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, offer.model_dump_json())
            pipe.pexpire(key, INBOX_TTL_MS)
            await pipe.execute()
        self.offers_forwarded += 1

    async def _owner_dead(self, owner: str) -> bool:
        """A node that routed once (it registered at start) and whose heartbeat has
        lapsed. A node that never started (tests, tools) is not judged."""
        if not owner or owner == self.node_id:
            return False
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip
            pipe.exists(self.keys.node(owner))
            pipe.hexists(self.keys.nodes, owner)
            alive, routed = await pipe.execute()
        return not alive and bool(routed)

    async def _take_over(self, offer: Offer) -> None:
        """The call's owner is gone. A callback task has nobody on the line: this
        node takes it (and calls the caller back). Any other call is handed to this
        node's call room, which finds no such call and releases it; should its
        caller still be in Asterisk, the node that re-adopts the channel queues it
        again with its original enqueue time."""
        logger.warning("call %s: its node %s is gone; %s here", offer.call_id, offer.owner,
                       "callback taken over" if offer.callback else "offer released")
        if offer.callback:
            req = QueueRequest(call_id=offer.call_id, queue=offer.queue,
                               enqueued_at_ms=offer.enqueued_at_ms)
            await self._enqueue(req, adopt=True)
        await self._deliver_local(offer.model_copy(update={"owner": self.node_id}))

    async def _deliver_local(self, offer: Offer) -> None:
        self.offers_delivered += 1
        try:
            await self.on_offer(offer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            report(logger, exc, "call %s: on_offer failed; releasing agent %s",
                   offer.call_id, offer.agent_id)
            await self.offer_failed(offer, "error")

    async def _inbox_loop(self) -> None:
        """Offers other nodes forwarded for this node's calls go on the bus."""
        key = self.keys.inbox(self.node_id)
        while not self._stopping:
            try:
                item = await self.redis.blpop([key], timeout=1)
                if item is not None:
                    await self.bus.put(Offer.model_validate_json(item[1]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report(logger, exc, "router %s: inbox read", self.node_id)
                await asyncio.sleep(0.5)

    async def drain_inbox(self) -> int:
        """Put the offers waiting in this node's inbox on the bus now (without
        blocking) and wait until they are delivered."""
        key = self.keys.inbox(self.node_id)
        n = 0
        while (raw := await self.redis.lpop(key)) is not None:
            await self.bus.put(Offer.model_validate_json(str(raw)))
            n += 1
        await self.settled()
        return n

    async def settled(self) -> None:
        """Wait until every offer produced so far has been delivered (tools, tests,
        and a stop that wants its offers out)."""
        if not self.bus.running:
            self.bus.start()
        await self.bus.settled()
