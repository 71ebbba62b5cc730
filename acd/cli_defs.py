"""`acd define ...`: agents, skills and queues changed at run time through the API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

Api = Callable[..., int]


def parse_skills(text: str) -> dict[str, int]:
    """`sales:5,support:2` -> {"sales": 5, "support": 2}."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, level = part.partition(":")
        if not name or not level.strip().isdigit():
            raise ValueError(f"skills read like sales:5,support:2 (got {part!r})")
        out[name.strip()] = int(level)
    return out


def add_define_parsers(sub: Any) -> None:
    d = sub.add_parser("define", help="agents, skills and queues at run time (API)")
    ds = d.add_subparsers(dest="define_cmd", required=True)
    ds.add_parser("show", help="the agents and queues in force")
    a = ds.add_parser("agent", help="add or change an agent")
    a.add_argument("agent_id")
    a.add_argument("--name", default="")
    a.add_argument("--endpoint", required=True, help="e.g. PJSIP/agent105")
    a.add_argument("--skills", default="", help="e.g. sales:5,support:2")
    s = ds.add_parser("skills", help="change an agent's skills")
    s.add_argument("agent_id")
    s.add_argument("skills", help="e.g. sales:5,support:2")
    q = ds.add_parser("queue", help="add or change a queue")
    q.add_argument("name")
    q.add_argument("--skills", default="", help="e.g. sales:1")
    q.add_argument("--strategy", default=None)
    q.add_argument("--ring-timeout", type=float, default=None)
    q.add_argument("--wrapup", type=float, default=None)
    ra = ds.add_parser("remove-agent", help="log an agent out and remove them")
    ra.add_argument("agent_id")
    rq = ds.add_parser("remove-queue", help="remove an empty queue")
    rq.add_argument("name")


def run_define(args: argparse.Namespace, api: Api) -> int:
    try:
        if args.define_cmd == "show":
            return api("GET", "/api/definitions")
        if args.define_cmd == "agent":
            return api("PUT", f"/api/definitions/agents/{args.agent_id}",
                       {"name": args.name, "endpoint": args.endpoint,
                        "skills": parse_skills(args.skills)})
        if args.define_cmd == "skills":
            return api("PUT", f"/api/definitions/agents/{args.agent_id}/skills",
                       {"skills": parse_skills(args.skills)})
        if args.define_cmd == "queue":
            body: dict[str, object] = {"skills": parse_skills(args.skills)}
            for key in ("strategy", "ring_timeout", "wrapup"):
                if getattr(args, key) is not None:
                    body[key] = getattr(args, key)
            return api("PUT", f"/api/definitions/queues/{args.name}", body)
        if args.define_cmd == "remove-agent":
            return api("DELETE", f"/api/definitions/agents/{args.agent_id}")
        return api("DELETE", f"/api/definitions/queues/{args.name}")
    except ValueError as exc:
        print(f"acd define: {exc}", file=sys.stderr)
        return 2
