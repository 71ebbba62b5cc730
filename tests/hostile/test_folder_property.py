"""The flows folder under any sequence of edits, hostile ones mixed in: after each
reload, every file's latest valid text is in force, a refused file keeps its last
good version in force and is named in the errors, a deleted file's flow is gone,
and no file's fate depends on another's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.ivr.model import QueueNode
from acd.ivr.registry import FlowRegistry
from tests.hostile.flows import ATTACKS

FILES = 3
HOSTILE = {a.id: a.text for a in ATTACKS if a.id in (
    "yaml_alias_bomb", "yaml_deep_flow_sequence", "yaml_merge_key_duplicate",
    "redos_nested_plus", "bidi_override_in_name", "subflow_calls_itself", "not_utf8",
    "transfer_second_dial_string")}

Edit = tuple[int, str, int]  # file, what ("valid", "deleted" or an attack id), version


def valid(i: int, version: int) -> str:
    return (f"name: f{i}\nnumbers: ['{100 + i}']\nstart: a\nnodes:\n"
            f"  a: {{type: queue, queue: q, priority: {version}}}\n")


edits = st.lists(st.tuples(st.integers(0, FILES - 1),
                           st.sampled_from(["valid", "valid", "deleted", *HOSTILE]),
                           st.integers(0, 100)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(edits)
def test_any_sequence_of_edits(steps: list[Edit]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reg = FlowRegistry(folder, settings={})
        in_force: dict[int, int] = {}  # file -> version expected in force
        broken: set[int] = set()
        for i, what, version in steps:
            path = folder / f"f{i}.yaml"
            if what == "deleted":
                path.unlink(missing_ok=True)
                in_force.pop(i, None)
                broken.discard(i)
            elif what == "valid":
                path.write_text(valid(i, version))
                in_force[i] = version
                broken.discard(i)
            else:
                text = HOSTILE[what]
                path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
                broken.add(i)
            assert reg.load() is (not broken)

            for j in range(FILES):
                flow = reg.get(f"f{j}")
                if j in in_force:
                    assert flow is not None, (j, steps)
                    node = flow.nodes["a"]
                    assert isinstance(node, QueueNode) and node.priority == in_force[j]
                else:
                    assert flow is None
            assert {Path(e.file).name for e in reg.errors} == {f"f{j}.yaml" for j in broken}
