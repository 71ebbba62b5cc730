"""Helpers of the real tier's fault scenarios (tests/asterisk/test_faults*.py).

`ari_gap`    acd reaches Asterisk's HTTP/WebSocket port through a TCP proxy the test
             cuts (tests/store/proxy.py): REST and the events socket go together.
`OwnRedis`   a Redis of the test's own on a free port, without persistence, that the
             test restarts empty (`redis-server --save '' --appendonly no`).
`Charges`    every agent state change acd made, to show none was charged to an agent.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from acd.agents.model import AgentStateChange
from tests.asterisk.acd_runner import AcdRun
from tests.asterisk.harness import free_port, stop_process
from tests.asterisk.sipp import Sipp
from tests.store.proxy import TcpProxy

GAP = 3.0  # the least time ARI is cut for (the run cut it for 3.1 s)
# The events socket's reconnect backoff is capped at 1 s (acd.ari.stream), plus the
# time to connect on a busy machine.
RECONNECT_WITHIN = 1.5


@dataclass
class AriGap:
    """The proxy between acd and Asterisk. `cut()` takes ARI away (connections cut,
    new ones refused); `restore()` brings it back once the gap is long enough."""

    proxy: TcpProxy
    cut_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    async def cut(self, *sipps_not_yet: tuple[Sipp, str]) -> None:
        """Cut ARI. Each (sipp, marker) must not have happened yet: a hang-up meant
        for the gap that came before it would test nothing."""
        await self.proxy.down()
        self.cut_at = asyncio.get_running_loop().time()
        early = [f"{s.name}: {m}" for s, m in sipps_not_yet if m in s.markers()]
        assert not early, f"happened before the gap (machine too slow?): {early}"

    async def restore(self, *after: tuple[Sipp, str], timeout: float = 15.0) -> float:
        """Bring ARI back once every (sipp, marker) was seen and at least GAP s have
        passed since the cut; returns the loop time it came back."""
        for sipp, marker in after:
            await sipp.wait_marker(marker, timeout=timeout)
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self.cut_at + GAP - loop.time()))
        await self.proxy.up()
        return loop.time()


async def reconnected(run: AcdRun, back: float, within: float = RECONNECT_WITHIN) -> None:
    """acd's events socket is up again within `within` s of ARI coming back at `back`."""
    stream = run.app.stream
    assert stream is not None
    await run.wait_for(lambda: stream.connected, "the events socket back", timeout=10)
    took = asyncio.get_running_loop().time() - back
    assert took <= within, f"acd reconnected {took:.2f} s after ARI came back"


@dataclass
class Charges:
    """Agent state changes seen through the agent service's `on_change`."""

    changes: list[AgentStateChange] = field(default_factory=list)

    @classmethod
    def watch(cls, run: AcdRun) -> Charges:
        agents = run.app.agents
        assert agents is not None
        spy = cls()
        logged = agents.on_change

        def seen(change: AgentStateChange) -> None:
            spy.changes.append(change)
            if logged is not None:
                logged(change)
        agents.on_change = seen
        return spy

    async def assert_none(self, run: AcdRun, agent_ids: Iterable[str]) -> None:
        """No agent charged a miss or paused for it."""
        assert run.app.agents is not None
        paused = [c for c in self.changes if c.reason == "missed_offers"]
        assert paused == [], f"agents paused for missed offers: {paused}"
        for agent in agent_ids:
            view = await run.app.agents.get(agent)
            assert view.missed_in_row == 0, f"{agent} charged a miss: {view}"


class OwnRedis:
    """redis-server on a free port, no persistence: a restart loses every key."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while self._cli("ping") != "PONG":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on {self.port} did not start")
            time.sleep(0.02)

    def restart_empty(self) -> None:
        """`redis-cli shutdown nosave`, then start again on the same port."""
        assert self.proc is not None
        self._cli("shutdown", "nosave")
        self.proc.wait(timeout=10)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def _cli(self, *args: str) -> str:
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                             timeout=5, check=False)
        return out.stdout.decode(errors="replace").strip()
