"""Recording and agent-assisted payment on the real Asterisk (#17): acd in-process,
SIPp caller and agent phones, real Redis and PostgreSQL.

- A recorded call (queue policy `always`) paused and resumed by the agent: the file
  Asterisk wrote (its WAV header) is as long as the talk time less the paused
  interval (+-0.5 s), and as the `recordings` row says.
- The agent-assisted payment with real RFC 4733 keys from the caller's SIPp (a pcap
  of the card number of its own: tests/asterisk/dtmf_pcap.py): the payment goes
  through, the caller comes back to the agent, the recording's paused interval
  covers every key, and the card number is in no log line (acd's, Asterisk's), Redis
  key or value, PostgreSQL row, spool file or the recording's file name.

Hygiene after each: no channel, no bridge (so no snoop) left in Asterisk.
"""

from __future__ import annotations

import asyncio
import json
import os
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from acd.api.demo import DemoServer
from acd.ari import events as ev
from acd.calls.service import CallService
from tests.asterisk import record_pay_twin as twin
from tests.asterisk.acd_runner import AcdRun, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.dtmf_pcap import DtmfSource
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.record_pay_twin import CARD, EXPIRY
from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.test_acd_scenarios import settled
from tests.conftest import REDIS_URL
from tests.e2e.leaks import every_log, file_texts, find_secret, log_texts, pg_texts, redis_texts

pytestmark = pytest.mark.asterisk

Starter = Callable[..., AbstractAsyncContextManager[AcdRun]]
SameOnSim = Callable[[str, AcdRun], Awaitable[None]]


@pytest.fixture
def acd(asterisk: AsteriskInstance, rest: AriProbe, redis_prefix: str, redis_client: object,
        pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Starter:
    """acd on the kit, its sales queue recorded (always), the shipped payment flow
    calling a demo payment service of this test's."""
    asterisk.mark_log()

    @asynccontextmanager
    async def start(demo: DemoServer) -> AsyncIterator[AcdRun]:
        s = twin.settings(asterisk.ari_url, asterisk.user, asterisk.password, redis_prefix,
                          pg_dsn, tmp_path, demo, monkeypatch)
        async with running_acd(s, monkeypatch) as run:
            yield run
            await settled(rest, run)
    return start


@pytest.fixture
async def demo() -> AsyncIterator[DemoServer]:
    async with twin.demo_server() as server:
        yield server


@pytest.fixture
def same_on_simulator(redis_prefix: str, pg_dsn: str, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> Callable[[str, AcdRun],
                                                                   Awaitable[None]]:
    """check(scenario, real): keep the real sequences (when none are kept, or with
    ACD_RECORD_TRACES=1), play the scenario on the simulator, and fail where a
    role's sequence differs."""
    async def check(scenario: str, real: AcdRun) -> None:
        path = twin.trace_path(scenario)
        kept = sequences(load_trace(path)) if path.exists() else None
        if kept is None or os.environ.get("ACD_RECORD_TRACES") == "1":
            real.save_trace(path)
        elif stale := differences(kept, real.per_role()):
            pytest.fail(f"{scenario}: the real Asterisk's sequences differ from the kept "
                        f"{path.name} (record again with ACD_RECORD_TRACES=1):\n{stale}",
                        pytrace=False)
        sim = await twin.run_on_simulator(scenario, f"{redis_prefix}-sim", pg_dsn,
                                          tmp_path / "sim", monkeypatch)
        diff = differences(real.per_role(), sim.per_role())
        if diff:
            pytest.fail(f"{scenario}: ARI event sequences differ (real Asterisk | "
                        f"simulator):\n{diff}", pytrace=False)
    return check


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def ms_of(at: str) -> float:
    return datetime.fromisoformat(at).timestamp() * 1000


async def recording_of(run: AcdRun, call_id: str) -> tuple[Any, Any]:
    (row,) = await run.pg.fetch("SELECT * FROM recordings WHERE call_id=$1", call_id)
    call = await run.call(call_id)
    return row, call


def check_length(asterisk: AsteriskInstance, row: Any, call: Any) -> tuple[float, list[Any]]:
    """The file's length against the talk time less the paused intervals (+-0.5 s)."""
    path = asterisk.root / "spool" / "recording" / row["file"]
    assert path.exists(), f"no {path}"
    seconds = wav_seconds(path)
    paused = json.loads(row["paused"])
    paused_s = sum(ms_of(p["to"]) - ms_of(p["from"]) for p in paused) / 1000
    talk_s = call["talk_ms"] / 1000
    print(f"recording {seconds:.3f} s, talk {talk_s:.3f} s, paused {paused_s:.3f} s")
    assert abs(seconds - (talk_s - paused_s)) <= 0.5, (seconds, talk_s, paused_s)
    assert abs(seconds - row["duration_ms"] / 1000) <= 0.5, (seconds, row["duration_ms"])
    return seconds, paused


async def test_a_recording_as_long_as_the_talk_time_less_its_pause(
        acd: Starter, demo: DemoServer, asterisk: AsteriskInstance,
        sipp_agents: AgentsFactory, sipp_caller: CallerFactory,
        same_on_simulator: SameOnSim) -> None:
    sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd(demo) as run:
        caller = sipp_caller(dtmf=(), hold=twin.RECORDING_HOLD)
        await twin.pause_and_resume(run, asyncio.sleep)
        result = await caller.wait()
        assert result.ok, result
        call_id = await run.finished()
        row, call = await recording_of(run, call_id)
        events = [e for e, _ in await run.queue_events(call_id)]
    assert (row["outcome"], row["format"]) == ("done", "wav")
    seconds, paused = check_length(asterisk, row, call)
    assert [p["reason"] for p in paused] == ["agent"]
    assert 2.3 <= (ms_of(paused[0]["to"]) - ms_of(paused[0]["from"])) / 1000 <= 3.5
    assert seconds > 3.0  # talk ~8 s less the pause
    assert events.count("record_pause") == events.count("record_resume") == 1
    await same_on_simulator("recording", run)


async def test_agent_assisted_payment_with_real_keys(
        acd: Starter, demo: DemoServer, asterisk: AsteriskInstance, tmp_path: Path,
        sipp_agents: AgentsFactory, sipp_caller: CallerFactory,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        same_on_simulator: SameOnSim) -> None:
    keys = DtmfSource()
    card = keys.write(tmp_path / "card.pcap", CARD + "#", gap=twin.KEY_GAP)
    expiry = keys.write(tmp_path / "expiry.pcap", EXPIRY, gap=twin.KEY_GAP)
    sipp_agents(ring=0.5, behaviours=("answer",))
    dtmf_at: list[str] = []  # when acd got each key (Asterisk's event timestamps)
    inner = CallService.handle_event

    async def noting(self: CallService, event: ev.Event) -> None:
        if isinstance(event, ev.ChannelDtmfReceived):
            dtmf_at.append(event.timestamp)
        await inner(self, event)
    monkeypatch.setattr(CallService, "handle_event", noting)  # before acd binds it
    with every_log(caplog):
        async with acd(demo) as run:
            # The card 9 s after the answer (the g711a audio is over), the expiry 8 s
            # later (the card's 17 keys take 5 s), then talk with the agent again.
            caller = sipp_caller(dtmf=((twin.CARD_AT, card), (twin.EXPIRY_AFTER, expiry)),
                                 hold=twin.PAY_HOLD)
            await twin.start_payment(run, asyncio.sleep)
            await run.wait_for(lambda: twin.paid(run), "the payment's result", timeout=40)
            status = await twin.ask(run, "status")
            result = await caller.wait()
            assert result.ok, result
            call_id = await run.finished()
            detail = await run.pg.fetchval("SELECT detail FROM queue_events WHERE "
                                           "call_id=$1 AND event='payment'", call_id)
            row, call = await recording_of(run, call_id)
            keys_texts, n = await redis_texts(REDIS_URL, match=f"*{run.prefix}*")
            rows, tables = await pg_texts(run.pg)
        log_lines = log_texts(caplog.records)

    # The keys reached the payment service: the real RFC 4733 digits, all 16.
    (payment,) = demo.backends.payments
    assert payment.card_digits == 16
    assert (status["payment"], status["payment_reference"]) == ("paid", payment.payment_id)
    assert len(dtmf_at) == len(CARD) + 1 + len(EXPIRY), dtmf_at
    assert json.loads(detail) == {"result": "paid", "reference": payment.payment_id}

    # The recording: paused over every key, as long as the talk time less the pause.
    _, paused = check_length(asterisk, row, call)
    (interval,) = paused
    assert interval["reason"] == "payment"
    at = sorted(datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
                for t in dtmf_at)
    assert ms_of(interval["from"]) <= at[0] and at[-1] <= ms_of(interval["to"])

    # The card number, nowhere.
    assert n > 0
    assert {"calls", "legs", "queue_events", "recordings"} <= set(tables)
    files = file_texts(tmp_path / "real" / "spool")
    ast_log = [("asterisk log", asterisk.log_path.read_text(errors="replace"))]
    assert any(call_id[:8] in text for _, text in log_lines)
    leaks = find_secret(CARD, [*log_lines, *keys_texts, *rows, *files, *ast_log])
    assert leaks == [], "the card number in clear:\n" + "\n".join(leaks)
    await same_on_simulator("payment", run)
