"""Fixtures of the real-Asterisk tier.

`asterisk`         one throwaway Asterisk per session (harness.AsteriskInstance:
                   ari_url, user, password, sip_host, sip_port, log_path, env(), cli()).
`sipp_agents`      factory: start the SIPp agent phones (answer / noanswer / busy).
`sipp_caller`      factory: start one SIPp caller; returns a sipp.Sipp to await.
`ari_probe`        a raw ARI client that records a trace (ari_probe.AriProbe).
`rest`             a raw ARI client for REST look-ups only (no events socket).
`trace_dir`        where ari_probe saves its trace (<test name>.jsonl): tests/asterisk/traces
                   with ACD_RECORD_TRACES=1, else the test's tmp_path.

The tier skips with one message unless ../shared/asterisk/install.sh exists and we
are root; with ACD_REQUIRE_ASTERISK=1 it fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.asterisk import harness, sipp
from tests.asterisk.ari_probe import AriProbe

TRACES = Path(__file__).resolve().parent / "traces"

CallerFactory = Callable[..., sipp.Sipp]
AgentsFactory = Callable[..., dict[str, sipp.Sipp]]


@pytest.fixture(scope="session")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.AsteriskInstance]:
    reason = harness.skip_reason()
    if reason is not None:
        if os.environ.get("ACD_REQUIRE_ASTERISK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    harness.ensure_installed()
    harness.ensure_prompts()
    inst = harness.start_asterisk(tmp_path_factory.mktemp("asterisk"))
    try:
        errors = inst.error_lines(inst.startup_log)
        if errors:
            pytest.fail("Asterisk logged errors at start-up:\n" + "\n".join(errors))
        yield inst
    finally:
        inst.stop()


@pytest.fixture
def sipp_agents(asterisk: harness.AsteriskInstance, tmp_path: Path) -> Iterator[AgentsFactory]:
    """start(ring=0.5, talk=None, behaviours=("answer", "noanswer", "busy")):
    one SIPp phone per behaviour at the address the agents' contacts point to
    (agent100-279 answer after `ring` s and hang up after `talk` s if given,
    agent280-289 ring until cancelled, agent290-299 answer 486 Busy)."""
    started: list[sipp.Sipp] = []

    def start(ring: float = 0.5, talk: float | None = None,
              behaviours: Sequence[str] = ("answer", "noanswer", "busy")) -> dict[str, sipp.Sipp]:
        phones: dict[str, sipp.Sipp] = {}
        for b in behaviours:
            ip, port = asterisk.phones[b]
            p = sipp.phone(tmp_path / "sipp", b, ip, port, ring=ring, talk=talk).start()
            started.append(p)
            phones[b] = p
        return phones

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def sipp_caller(asterisk: harness.AsteriskInstance, tmp_path: Path) -> Iterator[CallerFactory]:
    """start(exten="100", caller_id="+15551", caller_name="Caller",
    dtmf=((2.0, "1"),), hold=10.0, scenario="caller.xml", source_ip="127.0.0.2"):
    one SIPp call; `await call.wait()` gives its SippResult. Use source_ip
    harness.BENCH_CALLER_IP to go straight to app_queue."""
    started: list[sipp.Sipp] = []

    def start(**kwargs: object) -> sipp.Sipp:
        name = f"caller{len(started) + 1}"
        call = sipp.caller(tmp_path / "sipp", name, asterisk.sip_host, asterisk.sip_port,
                           **kwargs)  # type: ignore[arg-type]
        started.append(call.start())
        return call

    yield start
    for c in started:
        c.stop()


@pytest.fixture
async def rest(asterisk: harness.AsteriskInstance) -> AsyncIterator[AriProbe]:
    async with AriProbe(asterisk.ari_url, asterisk.user, asterisk.password) as probe:
        yield probe


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    return TRACES if os.environ.get("ACD_RECORD_TRACES") == "1" else tmp_path / "traces"


@pytest.fixture
async def ari_probe(asterisk: harness.AsteriskInstance, trace_dir: Path,
                    request: pytest.FixtureRequest) -> AsyncIterator[AriProbe]:
    """Saves what it saw to trace_dir/<test name>.jsonl at the end, pass or fail."""
    async with AriProbe(asterisk.ari_url, asterisk.user, asterisk.password) as probe:
        try:
            yield probe
        finally:
            await probe.disconnect()
            name = request.node.name.removeprefix("test_").replace("[", "_").rstrip("]")
            probe.save_trace(trace_dir / f"{name}.jsonl")
