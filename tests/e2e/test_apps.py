"""Callers spread over several ARI applications (extensions.conf ACD_APPS), all served
by one acd on one events socket, through the simulator with Redis and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Harness, e2e_settings, running_harness

PRESS_SALES = [(1.0, "1")]


async def test_calls_in_two_apps_are_served_and_survive_reconciliation(
    redis_prefix: str, pg_dsn: str, tmp_path: Path,
) -> None:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path)
    settings.ari.app, settings.ari.apps = "acd-0", ["acd-1"]
    async with running_harness(settings, cls=Harness) as h:
        assert h.app.stream is not None
        first = h.sim.place_call("+15552001", "100", dtmf=PRESS_SALES)
        second = h.sim.place_call("+15552002", "100", dtmf=PRESS_SALES)
        assert {h.sim.world.channels[c].app for c in (first, second)} == {"acd-0", "acd-1"}
        await h.wait_agent("a1", "on_call")
        await h.wait_agent("a2", "on_call")
        # The reconciler lists every app acd serves: neither call is taken for gone.
        done = await h.app.calls.reconciler.run("test")  # type: ignore[union-attr]
        assert done is not None and done.calls_ended == 0 and done.legs_hung_up == 0
        await h.clock.sleep(1.0)
        for ch in (first, second):
            h.sim.remote_hangup(ch)
        for ch in (first, second):
            call = await h.call(await h.finished(ch))
            assert call["outcome"] == "answered"
        await h.wait_agent("a1", "available")
        await h.wait_agent("a2", "available")
        await h.assert_clean()
