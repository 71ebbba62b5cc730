"""`make run`'s demo contact center: callers arriving on the simulator.

Callers dial 100, listen to the welcome, press 1 (sales) or 2 (support), wait,
talk to an agent whose simulated phone answers, and hang up; a few give up while
waiting. A status line every few seconds shows queues and agents.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.app import App

logger = logging.getLogger("acd.demo")


class Demo:
    def __init__(self, app: App, seed: int | None = None) -> None:
        self.app = app
        self.rng = random.Random(seed)
        self._tasks: list[asyncio.Task[None]] = []
        self.placed = 0

    async def start(self) -> None:
        sim = self.app.simulator
        assert sim is not None
        s = self.app.settings.sim
        for agent in self.app.settings.agents:
            tech, _, resource = agent.endpoint.partition("/")
            sim.set_endpoint(tech, resource, "answer", answer_after=s.demo_agents_answer_after,
                             hangup_after=s.demo_talk_time * self.rng.uniform(0.6, 1.4))
        self._tasks = [asyncio.create_task(self._callers()), asyncio.create_task(self._status())]
        logger.info("demo: callers dial 100 about %.0f times a minute", s.demo_calls_per_minute)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _callers(self) -> None:
        sim = self.app.simulator
        clock = self.app.clock
        assert sim is not None and clock is not None
        per_minute = self.app.settings.sim.demo_calls_per_minute
        while True:
            self.placed += 1
            number = f"+1555{self.rng.randint(1000000, 9999999)}"
            digit = self.rng.choice("12")
            patience = self.rng.choice([None, None, None, 25.0])
            channel_id = sim.place_call(number, "100", caller_name=f"Caller {self.placed}",
                                        dtmf=[(self.rng.uniform(1.5, 3.5), digit)],
                                        hangup_after=patience)
            logger.info("demo: %s dials 100 (channel %s) and will press %s%s", number,
                        channel_id, digit, "" if patience is None else
                        f", giving up after {patience:.0f} s")
            await clock.sleep(self.rng.expovariate(per_minute / 60.0))

    async def _status(self) -> None:
        clock = self.app.clock
        assert clock is not None
        while True:
            await clock.sleep(10.0)
            try:
                assert self.app.agents is not None and self.app.calls is not None
                agents = await self.app.agents.list()
                states: dict[str, int] = {}
                for a in agents:
                    states[a.state] = states.get(a.state, 0) + 1
                live = len(self.app.calls.calls)
                logger.info("status: %d live calls, %d started, %d ended; agents %s", live,
                            self.app.calls.calls_started, self.app.calls.calls_ended,
                            ", ".join(f"{k}={v}" for k, v in sorted(states.items())))
            except Exception as exc:
                logger.info("status unavailable: %s", exc)


async def demo_users(app: App) -> list[tuple[str, str, str]]:
    """`make run`'s people: an admin, a supervisor and one user per agent, each with
    a fresh random password (set again on every demo start). (name, role, password)."""
    import secrets

    people = app.people
    assert people is not None
    made: list[tuple[str, str, str]] = []
    wanted: list[tuple[str, str, str | None]] = [("admin", "admin", None),
                                                  ("supervisor", "supervisor", None)]
    wanted += [(f"agent{a.id}", "agent", a.id) for a in app.settings.agents]
    for name, role, agent_id in wanted:
        password = secrets.token_urlsafe(9)
        if await people.users.get(name) is None:
            await people.users.add(name, role, password, agent_id)
        else:
            await people.users.set_password(name, password)
        made.append((name, role, password))
    return made
