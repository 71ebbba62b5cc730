"""One pydantic model per node type.

Each validates one YAML node (the loader maps their errors back to a file, line
and column). `edges()` lists every node a node can lead to, with the field it
came from, so that the loader, the graph and the analysis agree on the shape of
a flow.

By kind: `prompts` talk with the caller, `branches` decide where the flow goes,
`handoffs` hand the call on (queue, transfer, subflow, hang-up); `base` holds
what they share. `acd.ivr.model` gathers them into the `Node` union.
"""

from __future__ import annotations

from acd.ivr.nodes.base import (
    DIGITS,
    GOODBYE,
    INVALID,
    QUEUE_EXIT_REASONS,
    WEEKDAYS,
    Edge,
    NodeBase,
)
from acd.ivr.nodes.branches import (
    Case,
    GotoNode,
    HttpNode,
    ListNode,
    ScheduleNode,
    SetNode,
    SwitchNode,
    TimeRange,
    parse_range,
)
from acd.ivr.nodes.handoffs import (
    HangupNode,
    QueueAnnounce,
    QueueCallback,
    QueueNode,
    ReturnNode,
    SubflowNode,
    TransferNode,
)
from acd.ivr.nodes.prompts import (
    CollectNode,
    LanguageNode,
    MenuNode,
    PlayNode,
    SayNode,
    VoicemailNode,
)

__all__ = [
    "DIGITS",
    "GOODBYE",
    "INVALID",
    "QUEUE_EXIT_REASONS",
    "WEEKDAYS",
    "Case",
    "CollectNode",
    "Edge",
    "GotoNode",
    "HangupNode",
    "HttpNode",
    "LanguageNode",
    "ListNode",
    "MenuNode",
    "NodeBase",
    "PlayNode",
    "QueueAnnounce",
    "QueueCallback",
    "QueueNode",
    "ReturnNode",
    "SayNode",
    "ScheduleNode",
    "SetNode",
    "SubflowNode",
    "SwitchNode",
    "TimeRange",
    "TransferNode",
    "VoicemailNode",
    "parse_range",
]
