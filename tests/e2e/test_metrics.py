"""/metrics shows acd's own figures, and they move with the traffic; /health says
which dependency is down. Both through the real HTTP handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from acd.api.app import make_api
from tests.e2e.conftest import Harness

PRESS_SALES = [(1.0, "1")]


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client: TestClient = TestClient(TestServer(make_api(harness.app)),  # type: ignore[type-arg]
                                    headers=harness.api_headers)  # /metrics: a supervisor's
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def scrape(api: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[type-arg]
    resp = await api.get("/metrics")
    assert resp.status == 200
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= set(ls))


async def test_metrics_move_with_the_traffic(harness: Harness, api: TestClient) -> None:  # type: ignore[type-arg]
    h = harness
    assert h.app.agents is not None and h.app.router is not None
    before = await scrape(api)
    assert total(before, "acd_agents", state="available") == 3

    await h.app.agents.set_break("a1", "meeting")
    await h.app.agents.set_break("a2", "meeting")
    ch = h.sim.place_call("+15559201", "100", dtmf=PRESS_SALES)
    router = h.app.router

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait")
    during = await scrape(api)
    assert total(during, "acd_calls_waiting", queue="sales") == 1
    assert total(during, "acd_agents", state="break") == 2

    await h.app.agents.available("a1")
    await h.wait_agent("a1", "on_call")
    assert total(await scrape(api), "acd_agents", state="on_call") == 1
    # A socket drop: the reconnect reconciles.
    assert await h.sim.drop_websockets() == 2  # the calls app and the phones app
    await h.wait_for(lambda: bool(h.app.stream and h.app.stream.resyncs >= 2), "a resync")
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    after = await scrape(api)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)
    assert moved("acd_calls_total", outcome="answered") == 1
    assert moved("acd_calls_waiting", queue="sales") == 0
    assert moved("acd_event_lag_seconds_count") > 10
    assert moved("acd_ari_request_seconds_count", method="POST") > 3
    assert moved("acd_ari_request_seconds_count", method="GET") >= 1  # the reconciliation
    assert moved("acd_redis_script_seconds_count", script="enqueue") >= 1
    assert moved("acd_redis_script_seconds_count", script="offer_answered") >= 1
    assert moved("acd_reconciliations_total") >= 1
    assert ("acd_row_writer_backlog", ()) in after
    assert ("acd_row_writer_spooled_rows", ()) in after
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_ari_errors_are_counted_by_status(harness: Harness,
                                                api: TestClient) -> None:  # type: ignore[type-arg]
    h = harness
    assert h.app.ari is not None
    before = await scrape(api)
    with pytest.raises(Exception):  # noqa: B017 - any AriError
        await h.app.ari.get_channel("no-such-channel")
    after = await scrape(api)
    assert total(after, "acd_ari_errors_total", status="404") - total(
        before, "acd_ari_errors_total", status="404") == 1


async def test_health_names_what_is_down(harness: Harness, api: TestClient) -> None:  # type: ignore[type-arg]
    h = harness
    resp = await api.get("/health")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"ari": "ok", "redis": "ok", "postgresql": "ok"}
    assert h.app.stream is not None
    await h.app.stream.stop()  # ARI away
    resp = await api.get("/health")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"ari": "down", "redis": "ok", "postgresql": "ok"}
