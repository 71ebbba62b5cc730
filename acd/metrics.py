"""acd's own figures for Prometheus (`GET /metrics`).

Counters and histograms are fed where things happen (the ARI client, the routing
scripts, the event stream, the call room, reconciliation); gauges of state kept
elsewhere (calls waiting per queue, agents by state, the row writer's backlog)
are read when /metrics is scraped (`refresh`), so they cost nothing meanwhile.
Series are process-wide (one acd per process in production).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from acd.app import App

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CALLS = Counter("acd_calls", "Calls ended, by outcome", ["outcome"])
CALLS_WAITING = Gauge("acd_calls_waiting", "Calls waiting in each queue", ["queue"])
AGENTS = Gauge("acd_agents", "Agents in each state", ["state"])
EVENT_LAG = Histogram("acd_event_lag_seconds",
                      "From reading an ARI event off the socket to its handler", buckets=_FAST)
ARI_REQUESTS = Histogram("acd_ari_request_seconds", "ARI REST requests, by method",
                         ["method"], buckets=_FAST)
ARI_ERRORS = Counter("acd_ari_errors", "ARI REST requests that failed, by HTTP status "
                     "('none': no answer)", ["status"])
REDIS_SCRIPTS = Histogram("acd_redis_script_seconds", "Routing Lua scripts, by name",
                          ["script"], buckets=_FAST)
WRITER_BACKLOG = Gauge("acd_row_writer_backlog", "Rows waiting to be written to PostgreSQL")
WRITER_SPOOLED = Gauge("acd_row_writer_spooled_rows",
                       "Rows the writer spooled to disk since it started")
RECONCILIATIONS = Counter("acd_reconciliations", "Reconciliations of acd's calls with "
                          "Asterisk and routing")
RECONCILED = Counter("acd_reconciled", "What reconciliations fixed, by kind", ["kind"])
REDIS_RESTORES = Counter("acd_redis_restores", "Times Redis was found without its data "
                         "and acd restored it")


async def refresh(app: App) -> None:
    """Read the gauges of state kept elsewhere (called on each scrape)."""
    if app.writer is not None:
        WRITER_BACKLOG.set(app.writer.rows_pending)
        WRITER_SPOOLED.set(app.writer.rows_spooled)
    if app.router is None or app.agents is None:
        return
    try:
        for name in app.router.queues:
            CALLS_WAITING.labels(name).set(await app.router.waiting(name))
        counts: dict[str, int] = {}
        for view in await app.agents.list():
            counts[view.state] = counts.get(view.state, 0) + 1
        for state in ("logged_out", "available", "reserved", "ringing", "on_call",
                      "wrap_up", "break"):
            AGENTS.labels(state).set(counts.get(state, 0))
    except Exception:  # Redis away: the gauges keep their last values
        return
