"""What /health answers: ARI, Redis and PostgreSQL, each on its own, from state acd
already keeps (no round trip per request: a load balancer may ask every second)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acd.app import App


def health_report(acd: App) -> tuple[dict[str, Any], int]:
    """The body and status: 200 `ok` when all three are reachable, else 503
    `degraded` naming which is not. ARI: the events socket is connected. Redis:
    the router's last tick reached it. PostgreSQL: the row writer's last attempt
    reached it (rows are kept meanwhile)."""
    checks = {
        "ari": bool(acd.stream is not None and acd.stream.connected),
        "redis": bool(acd.router is not None and acd.router.redis_ok),
        "postgresql": bool(acd.writer is not None and acd.writer.healthy),
    }
    ok = all(checks.values())
    body: dict[str, Any] = {
        "status": "ok" if ok else "degraded",
        "checks": {name: "ok" if up else "down" for name, up in checks.items()},
        "ari_connected": checks["ari"],
        "node_id": acd.node_id,
    }
    return body, 200 if ok else 503
