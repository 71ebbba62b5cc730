"""Agents' phones in /metrics (Prometheus text), read from Redis at each scrape.

    acd_agent_phone{agent="100",phone="registered"} 1    one series per agent
    acd_agents_by_phone{phone="unregistered"} 2          agents per phone state
    acd_phone_events_total 17                            phone events handled here

Built per scrape from the agents' records rather than kept in the global
registry: several acd instances may share one process (tests), and the truth is
in Redis, shared by every node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.agents.phone import PHONE_STATES

if TYPE_CHECKING:
    from acd.app import App


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def phone_metrics_text(acd: App) -> str:
    if acd.agents is None:
        return ""
    views = await acd.agents.list()
    counts: dict[str, int] = dict.fromkeys(PHONE_STATES, 0)
    lines = ["# HELP acd_agent_phone The agent's phone as Asterisk reports it (1 = this state).",
             "# TYPE acd_agent_phone gauge"]
    for v in views:
        counts[v.phone] = counts.get(v.phone, 0) + 1
        lines.append(f'acd_agent_phone{{agent="{_label(v.id)}",phone="{_label(v.phone)}"}} 1')
    lines += ["# HELP acd_agents_by_phone Agents whose phone is in this state.",
              "# TYPE acd_agents_by_phone gauge"]
    lines += [f'acd_agents_by_phone{{phone="{state}"}} {n}' for state, n in counts.items()]
    if acd.phones is not None:
        lines += ["# HELP acd_phone_events_total Phone events (endpoint, contact, device) "
                  "this node handled.", "# TYPE acd_phone_events_total counter",
                  f"acd_phone_events_total {acd.phones.events_handled}"]
    return "\n".join(lines) + "\n"
