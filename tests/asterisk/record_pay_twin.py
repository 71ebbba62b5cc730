"""The recording and payment scenarios of test_control_record_pay.py: acd's settings
for them, and each scenario again on the ARI simulator (its twin), so that the ARI
event types acd handled per channel role on the real Asterisk (kept in
tests/asterisk/traces/record_pay_<scenario>.jsonl) can be compared with the
simulator's, there and in tests/sim/test_record_pay_traces.py.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from acd.api.demo import DemoServer
from acd.config import Settings
from tests.asterisk.acd_runner import AcdRun, acd_settings, running_acd
from tests.asterisk.conftest import TRACES
from tests.asterisk.sim_twin import fresh_simulator, settled

EXAMPLES = Path(__file__).resolve().parents[2] / "ivr_flows"
CARD = "4111111111111111"
EXPIRY = "1228"
KEY_GAP = 0.3  # seconds between two keys of one string (dtmf_pcap.DtmfSource.write)
FLOW = """\
name: kit_sales
numbers: ["100"]
start: wait
nodes:
  wait:
    type: queue
    queue: sales
    skills: {sales: 1}
"""

# What the caller does, in seconds after acd answered it (SIPp: after "answered").
RECORDING_HOLD = 9.0                   # the caller hangs up
PAUSE_AFTER, PAUSED_FOR = 2.0, 2.5     # after a1 is on call: record_pause, then resume
CARD_AT, EXPIRY_AFTER, PAY_HOLD = 9.0, 8.0, 16.0   # card keys, expiry keys, hang-up


def trace_path(scenario: str) -> Path:
    return TRACES / f"record_pay_{scenario}.jsonl"


def settings(ari_url: str, user: str, password: str, prefix: str, dsn: str, tmp: Path,
             demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """acd on the kit: its sales queue recorded (always), the shipped payment flow
    calling the test's demo payment service."""
    flows = tmp / "flows"
    flows.mkdir(parents=True)
    (flows / "main.yaml").write_text(FLOW)
    shutil.copy(EXAMPLES / "payment.yaml", flows / "payment.yaml")
    monkeypatch.setenv("ACD_FLOW_PAYMENTS_URL", f"{demo.url}/payments")
    return acd_settings(
        ari_url, user, password, prefix, dsn, tmp / "real", flows=str(flows),
        ivr={"http_allow": [f"{demo.url}/"]},
        queues=[{"name": "sales", "skills": {"sales": 1}, "ring_timeout": 5, "wrapup": 1,
                 "recording": "always"}])


async def ask(run: AcdRun, move: str) -> dict[str, Any]:
    """A move on the one call, by its agent a1; the reply's data (it must be ok)."""
    assert run.app.control is not None and run.app.calls is not None
    (call_id,) = run.app.calls.calls
    reply = await run.app.control.ask(call_id, move, {}, by="agent:a1")
    assert reply.ok, reply
    return dict(reply.data)


async def pause_and_resume(run: AcdRun, sleep: Callable[[float], Awaitable[None]]) -> None:
    await run.wait_agent("a1", "on_call", timeout=10)
    await sleep(PAUSE_AFTER)
    assert (await ask(run, "record_pause"))["recording"] == "paused"
    await sleep(PAUSED_FOR)
    assert (await ask(run, "record_resume"))["recording"] == "active"


async def start_payment(run: AcdRun, sleep: Callable[[float], Awaitable[None]]) -> None:
    await run.wait_agent("a1", "on_call", timeout=10)
    await sleep(1.0)
    assert (await ask(run, "payment"))["payment"] == "running"


def paid(run: AcdRun) -> bool:
    calls = run.app.calls.calls if run.app.calls else {}
    return any(c.payment_result is not None for c in calls.values())


@asynccontextmanager
async def demo_server() -> AsyncIterator[DemoServer]:
    server = DemoServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def run_on_simulator(scenario: str, redis_prefix: str, pg_dsn: str, tmp: Path,
                           monkeypatch: pytest.MonkeyPatch) -> AcdRun:
    """`scenario` ("recording" or "payment") played on a fresh simulator."""
    async with fresh_simulator() as (clock, sim, url):
        # The shipped prompts' lengths (config/asterisk/make-prompts.sh): the expiry's
        # prompt is still playing when its first key comes.
        sim.sounds.update({"acd-enter-card-number": 3.93, "acd-enter-expiry": 5.07,
                           "acd-payment-accepted": 3.43})
        sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.5)
        async with demo_server() as demo:
            s = settings(url, "acd", "acd", redis_prefix, pg_dsn, tmp, demo, monkeypatch)
            async with running_acd(s, monkeypatch, clock=clock, simulator=sim) as run:
                if scenario == "recording":
                    sim.place_call("+15551", "100", caller_name="Caller",
                                   hangup_after=RECORDING_HOLD)
                    await pause_and_resume(run, clock.sleep)
                else:
                    keys = [(CARD_AT + i * KEY_GAP, d) for i, d in enumerate(CARD + "#")]
                    keys += [(CARD_AT + EXPIRY_AFTER + i * KEY_GAP, d)
                             for i, d in enumerate(EXPIRY)]
                    sim.place_call("+15551", "100", caller_name="Caller", dtmf=keys,
                                   hangup_after=CARD_AT + EXPIRY_AFTER + PAY_HOLD)
                    await start_payment(run, clock.sleep)
                    await run.wait_for(lambda: paid(run), "the payment's result", 20)
                await run.finished()
                await run.wait_agent("a1", "available")
                await settled(run, sim)
            return run
