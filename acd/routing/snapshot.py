"""The routing picture for the API: queues, their calls, agents (pure).

Each waiting call says whether it is a callback task (`callback`, with its failed
attempts and, while a retry delay runs, `not_before_ms`), so a wallboard can tell
callers on the line from customers to call back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from acd.agents.model import AgentView
from acd.agents.phone import DEVICES, REGISTRATIONS, Phone, offerable
from acd.routing import policy
from acd.routing.model import QueueDef


def _ready(a: AgentView, q: QueueDef | None) -> bool:
    reg = a.phone_registration if a.phone_registration in REGISTRATIONS else "unknown"
    dev = a.phone_device if a.phone_device in DEVICES else "unknown"
    phone = Phone(reg, dev)
    return a.state == "available" and offerable(phone, q.ring_in_use if q else False)


def build_snapshot(queues: Mapping[str, QueueDef], calls: Mapping[str, str],
                   stats: Mapping[str, str], agents: Sequence[AgentView],
                   now_ms: int) -> dict[str, Any]:
    by_queue: dict[str, list[dict[str, Any]]] = {name: [] for name in queues}
    for raw in calls.values():
        rec = json.loads(raw)
        by_queue.setdefault(rec["q"], []).append(rec)
    out: list[dict[str, Any]] = []
    for name, recs in sorted(by_queue.items()):
        q = queues.get(name)
        waiting = sorted((r for r in recs if r.get("st") == "waiting"),
                         key=lambda r: (float(r["score"]), r["id"]))
        aht = stats.get(f"{name}:aht")
        staffed = [a for a in agents if a.state not in ("logged_out", "break")
                   and (q is None or all(a.skills.get(s, 0) >= lvl
                                         for s, lvl in q.skills.items()))]
        out.append({
            "name": name,
            "strategy": q.strategy if q else None,
            "waiting": len(waiting),
            # Callback tasks are among the waiting: they keep a caller's place.
            "callbacks": sum(1 for r in waiting if r.get("cb")),
            "offered": sum(1 for r in recs if r.get("st") == "offered"),
            "connected": sum(1 for r in recs if r.get("st") == "connected"),
            "agents_staffed": len(staffed),
            "agents_available": sum(1 for a in staffed if a.state == "available"),
            # ...of whom the phone can take a call now (registered, reachable, free).
            "agents_ready": sum(1 for a in staffed if _ready(a, q)),
            "average_handle_s": round(float(aht) / 1000, 1) if aht else None,
            "calls": [{
                "call_id": r["id"], "position": i + 1, "priority": r.get("prio", 0),
                "caller": r.get("caller", ""), "waited_s": round((now_ms - r["enq"]) / 1000, 1),
                "owner": r.get("owner"),
                "callback": bool(r.get("cb")), "callback_attempts": int(r.get("cba") or 0),
                "not_before_ms": int(r["nb"]) if int(r.get("nb") or 0) > now_ms else None,
                "expected_wait_s": policy.expected_wait(i + 1, float(aht) if aht else None,
                                                        len(staffed)),
            } for i, r in enumerate(waiting)],
        })
    return {"queues": out, "agents": [a.model_dump(mode="json") for a in agents]}
