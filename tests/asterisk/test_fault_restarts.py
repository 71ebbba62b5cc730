"""Issue #12's restarts on the real Asterisk (the simulator's are tests/e2e/
test_redis_restart.py and test_restart_recovery.py).

- Redis (one of the test's own, without persistence) restarted empty under traffic:
  acd restores its agents, logins and waiting callers within 5 s without restarting,
  calls keep being connected, no agent gets two calls.
- acd killed with SIGKILL (a process of its own, `acd run`) with one call talking
  and two waiting; callers and an agent hang up while no acd runs. The restarted acd
  writes one `calls` row for every call that reached acd and serves who stayed.
- acd stopped (as if killed: nothing cleaned up) while an agent consults another
  (#17): the new acd hangs the consulted agent up, puts the first agent back with
  the caller and destroys the consult bridge; one row per leg, one for the call.

Each ends with hygiene: no channel, no bridge left in Asterisk, no SIPp call open.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from acd.api.health import health_report
from tests.asterisk.acd_runner import AcdRun, acd_settings, acd_settings_data, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.faults import Charges, OwnRedis
from tests.asterisk.harness import AsteriskInstance, stop_process
from tests.asterisk.test_acd_scenarios import assert_hygiene, settled
from tests.asterisk.test_acd_transfers import ask, on_call_with_a1, wait_bridged

pytestmark = pytest.mark.asterisk

PRESS_SALES = [(2.0, "2")]  # see acd_runner.FLOW
RESTORED_WITHIN = 5.0  # seconds, the bound
Starter = Callable[..., AbstractAsyncContextManager[AcdRun]]
THREE_AGENTS = [
    {"id": "a1", "name": "Alice", "endpoint": "PJSIP/agent100", "skills": {"sales": 5},
     "login": True},
    {"id": "a2", "name": "Bob", "endpoint": "PJSIP/agent101", "skills": {"sales": 3},
     "login": True},
    {"id": "a3", "name": "Carol", "endpoint": "PJSIP/agent102", "skills": {"sales": 1},
     "login": True},
]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    r = OwnRedis(tmp_path / "redis")
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def acd(asterisk: AsteriskInstance, rest: AriProbe, redis_prefix: str, redis_client: object,
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Starter:
    """acd(**settings) -> async context manager giving an in-process AcdRun; on
    leaving, Asterisk holds nothing."""
    asterisk.mark_log()
    asterisk.reset_taskprocessors()

    def start(**over: Any) -> AbstractAsyncContextManager[AcdRun]:
        @asynccontextmanager
        async def running() -> AsyncIterator[AcdRun]:
            settings = acd_settings(asterisk.ari_url, asterisk.user, asterisk.password,
                                    redis_prefix, pg_dsn, tmp_path / "real", **over)
            async with running_acd(settings, monkeypatch) as run:
                yield run
                await settled(rest, run)
        return running()
    return start


async def rows_of(pg: asyncpg.Pool | asyncpg.Connection, numbers: list[str],
                  since: datetime) -> dict[str, list[asyncpg.Record]]:
    rows = await pg.fetch("SELECT * FROM calls WHERE caller_number = ANY($1::text[]) "
                          "AND started_at >= $2 ORDER BY started_at", numbers, since)
    out: dict[str, list[asyncpg.Record]] = {n: [] for n in numbers}
    for r in rows:
        out[r["caller_number"]].append(r)
    return out


async def test_redis_restarted_empty_mid_traffic(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, own_redis: OwnRedis,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd(redis_url=own_redis.url, agents=THREE_AGENTS) as h:
        agents, router = h.app.agents, h.app.router
        assert agents is not None and router is not None
        await agents.set_break("a2", "meeting")
        await agents.set_break("a3", "coaching")
        charges = Charges.watch(h)
        talking = sipp_caller(caller_id="+15558101", dtmf=PRESS_SALES, hold=7.0)
        await h.wait_agent("a1", "on_call")
        waiting = sipp_caller(caller_id="+15558102", dtmf=PRESS_SALES, hold=7.0)

        async def queued(n: int = 1) -> bool:
            return await router.waiting("sales") == n
        await h.wait_for(queued, "a caller waiting in sales")

        own_redis.restart_empty()  # shutdown nosave: every key is gone
        back = asyncio.get_running_loop().time()
        third = sipp_caller(caller_id="+15558103", dtmf=PRESS_SALES, hold=4.0)

        async def restored() -> bool:
            try:
                views = {v.id: v for v in await agents.list()}
            except Exception:
                return False
            return (len(views) == 3 and views["a1"].state == "on_call"
                    and (views["a2"].state, views["a2"].reason) == ("break", "meeting")
                    and (views["a3"].state, views["a3"].reason) == ("break", "coaching"))
        await h.wait_for(restored, "agents restored", timeout=RESTORED_WITHIN)
        await h.wait_for(queued, "the waiting caller queued again", timeout=RESTORED_WITHIN)
        took = asyncio.get_running_loop().time() - back
        assert took <= RESTORED_WITHIN, f"restored {took:.2f} s after Redis came back"
        assert router.restores >= 1

        # Calls keep being connected, and a1 (talking) gets no second call.
        await agents.available("a2")
        await h.wait_agent("a2", "on_call")
        await h.wait_for(queued, "the third caller waiting")
        await agents.available("a3")
        await h.wait_agent("a3", "on_call")
        assert await h.agent_state("a1") == "on_call"
        for call in (talking, waiting, third):
            assert (await call.wait(timeout=15)).ok
        await h.wait_for(lambda: len(h.ended) == 3, "the three calls to end")
        assert h.app.writer is not None
        await h.app.writer.flush()
        ids = list(h.ended.values())
        rows = await h.pg.fetch("SELECT call_id, outcome, agent_id FROM calls "
                                "WHERE call_id = ANY($1::text[])", ids)
        assert sorted((r["outcome"], r["agent_id"]) for r in rows) == [
            ("answered", "a1"), ("answered", "a2"), ("answered", "a3")]
        legs = await h.pg.fetch("SELECT agent_id, count(*) AS n FROM legs WHERE kind='agent' "
                                "AND call_id = ANY($1::text[]) GROUP BY agent_id "
                                "ORDER BY agent_id", ids)
        assert [(r["agent_id"], r["n"]) for r in legs] == [("a1", 1), ("a2", 1), ("a3", 1)]
        for agent in ("a1", "a2", "a3"):
            await h.wait_agent(agent, "available")
        await charges.assert_none(h, ("a1", "a2", "a3"))
        assert health_report(h.app)[1] == 200
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


@asynccontextmanager
async def acd_process(config: dict[str, Any], workdir: Path) -> AsyncIterator[
        subprocess.Popen[bytes]]:
    """`acd run` as a process of its own, until the test kills it (or we stop it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "acd.yaml"
    path.write_text(yaml.safe_dump(config))
    log = workdir / "acd.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "acd", "run", "--config", str(path)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        # The calls app, not only the phones app: a call reaching Stasis(acd) before
        # acd listens goes to the dialplan's fallback.
        connected = f"ARI events connected to {config['ari']['url'].replace('http', 'ws')}" \
            f"/ari/events?app={config['ari']['app']}&"
        while connected not in log.read_text(errors="replace"):
            assert proc.poll() is None and loop.time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)
        yield proc
    except BaseException:
        print("acd (process) log:\n" + log.read_text(errors="replace")[-5000:])
        raise
    finally:
        stop_process(proc)


async def test_acd_killed_with_calls_up_loses_no_row(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, redis_prefix: str,
        redis_client: object, pg_dsn: str, sipp_caller: CallerFactory,
        sipp_agents: AgentsFactory, tmp_path: Path) -> None:
    phones = sipp_agents(ring=0.5, talk=4.0, behaviours=("answer",))
    phone = phones["answer"]
    config = acd_settings_data(asterisk.ari_url, asterisk.user, asterisk.password,
                               redis_prefix, pg_dsn, tmp_path / "real")
    config["agents"][1]["login"] = False  # a1 serves every caller, one at a time
    since = datetime.now(UTC)
    numbers = ["+15559201", "+15559202", "+15559203"]
    pg = await asyncpg.connect(pg_dsn)
    try:
        async with acd_process(config, tmp_path / "first") as proc:
            talking = sipp_caller(caller_id=numbers[0], dtmf=PRESS_SALES, hold=4.0)
            await asyncio.sleep(1.0)  # a1 is offered the first caller first
            leaving = sipp_caller(caller_id=numbers[1], dtmf=PRESS_SALES, hold=3.0)
            staying = sipp_caller(caller_id=numbers[2], dtmf=PRESS_SALES, hold=30.0)

            async def all_in() -> bool:
                got = await pg.fetch("SELECT event, count(*) AS n FROM queue_events "
                                     "WHERE at >= $1 GROUP BY event", since)
                n = {r["event"]: r["n"] for r in got}
                return n.get("enter", 0) >= 3 and n.get("connect", 0) >= 1
            await wait(all_in, "one call connected and two waiting")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
            early = [f"{s.name}: {m}" for s, m in ((talking, "acd:local-bye"),
                                                    (leaving, "acd:local-bye"),
                                                    (phone, "acd:agent-local-bye"))
                     if m in s.markers()]
            assert not early, f"hung up before acd was killed (machine too slow?): {early}"
            for call in (talking, leaving):
                assert (await call.wait(timeout=15)).ok
            await phone.wait_marker("acd:agent-local-bye")
            await asyncio.sleep(0.5)

        async with acd() as h:
            assert h.app.writer is not None
            writer = h.app.writer

            async def written() -> bool:
                await writer.flush()
                rows = await rows_of(pg, numbers[:2], since)
                return all(len(r) == 1 for r in rows.values())
            await h.wait_for(written, "rows for the calls that ended while acd was down")
            rows = await rows_of(pg, numbers[:2], since)
            first, second = rows[numbers[0]][0], rows[numbers[1]][0]
            assert (first["outcome"], first["agent_id"]) == ("answered", "a1")
            assert second["outcome"] == "abandoned" and second["wait_ms"] > 0
            # The caller who stayed is served by the new acd, by a1 once free (a2 is
            # logged out); the agent hangs up after 4 s.
            assert (await staying.wait(timeout=20)).ok
            await h.wait_for(lambda: len(h.ended) == 1, "the staying caller's call to end")
            await writer.flush()
            rows = await rows_of(pg, numbers, since)
            assert {n: len(r) for n, r in rows.items()} == dict.fromkeys(numbers, 1)
            assert (rows[numbers[2]][0]["outcome"], rows[numbers[2]][0]["agent_id"]) == (
                "answered", "a1")
            await h.wait_agent("a1", "available")
            assert await h.agent_state("a2") == "logged_out"
            assert h.app.agents is not None
            assert (await h.app.agents.get("a1")).missed_in_row == 0
            await h.assert_acd_clean()
    finally:
        await pg.close()
    await assert_hygiene(asterisk, rest, phones)


async def test_a_consult_under_way_is_ended_by_the_restarted_acd(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, redis_prefix: str,
        pg_dsn: str, sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    settings = acd_settings(asterisk.ari_url, asterisk.user, asterisk.password,
                            redis_prefix, pg_dsn, tmp_path / "real", wrapup=2)
    async with running_acd(settings, monkeypatch) as first:
        call, call_id = await on_call_with_a1(first, sipp_caller, hold=14.0)
        assert (await ask(first, call_id, "consult", to="agent:a2"))["state"] == "ringing"
        await first.wait_agent("a2", "on_call")
        await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/agent101"], ["PJSIP/caller"]])
    # (leaving stopped that acd: its calls, channels and bridges left as they were)
    assert len(await rest.bridges()) == 2
    async with acd(wrapup=2) as h:
        await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/caller"]])
        await h.wait_agent("a2", "wrap_up")
        result = await call.wait(timeout=25)
        assert result.ok, result
        await h.wait_for(lambda: call_id in h.ended.values(), "the call to end")
        assert h.app.writer is not None
        await h.app.writer.flush()
        legs = await h.legs(call_id)
        assert sorted((x["kind"], x["agent_id"], x["outcome"]) for x in legs) == [
            ("agent", "a1", "answered"), ("caller", "a1", "answered"),
            ("transfer", "a2", "answered")]
        events = [e for e, _ in await h.queue_events(call_id)]
        assert events.count("consult_end") == 1 and events.count("connect") == 1, events
        assert await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1",
                                   call_id) == 1
        await h.wait_agent("a1", "available")
        await h.wait_agent("a2", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


async def wait(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
