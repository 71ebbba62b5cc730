"""Registry: lookups, reload, refusing broken files, live calls keep their version."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from acd.ivr.actions import Digit
from acd.ivr.engine import IvrContext, start, step
from acd.ivr.registry import FlowRegistry
from tests.ivr.driver import T0

FLOWS = Path(__file__).parents[2] / "ivr_flows"

V1 = """name: main
default: true
numbers: ["100"]
start: menu
nodes:
  menu: {type: menu, prompt: acd-welcome, options: {1: sales}}
  sales: {type: queue, queue: sales}
"""
V2 = V1.replace("queue: sales}", "queue: sales_v2}")
BROKEN = V1.replace("type: queue", "type: queu")


def test_examples_by_number(tmp_path: Path) -> None:
    reg = FlowRegistry(FLOWS)
    assert reg.load()
    for number, name in [("100", "main"), ("101", "hotline"), ("102", "order_status"),
                         ("103", "key_clients"), ("104", "payment"), ("190", "emergency"),
                         ("999", "main")]:
        flow = reg.for_number(number)
        assert flow is not None and flow.name == name
    assert set(reg.snapshot()) == set(reg.flows)
    empty = FlowRegistry(tmp_path)
    assert empty.load() and empty.for_number("100") is None


def test_reload_keeps_old_version_for_live_calls(tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(V1)
    reg = FlowRegistry(tmp_path)
    assert reg.load()
    old = reg.for_number("100")
    assert old is not None
    state, _ = start(old, IvrContext("c", "555", "100"), T0)

    assert reg.load() and reg.for_number("100") is old  # unchanged file: same object

    path.write_text(V2)
    assert reg.load()
    new = reg.for_number("100")
    assert new is not None and new is not old and new.version != old.version
    _, actions = step(state, Digit("1"), T0)  # the live call still runs version 1
    assert [getattr(a, "queue", None) for a in actions][-1] == "sales"
    state2, _ = start(new, IvrContext("c2", "555", "100"), T0)
    _, actions = step(state2, Digit("1"), T0)
    assert [getattr(a, "queue", None) for a in actions][-1] == "sales_v2"


def test_broken_file_is_refused_and_previous_version_stays(tmp_path: Path) -> None:
    path = tmp_path / "main.yaml"
    path.write_text(V1)
    reg = FlowRegistry(tmp_path)
    reg.load()
    good = reg.for_number("100")
    path.write_text(BROKEN)
    assert not reg.load()
    assert reg.for_number("100") is good
    assert [(e.line, e.message, e.suggestion) for e in reg.errors] == [
        (7, "unknown node type 'queu'", "queue")]
    path.write_text(V2)
    assert reg.load() and reg.errors == []
    assert reg.for_number("100") is not good


def test_new_file_clashing_with_one_in_force_is_refused(tmp_path: Path) -> None:
    (tmp_path / "z_main.yaml").write_text(V1)
    reg = FlowRegistry(tmp_path)
    reg.load()
    main = reg.for_number("100")
    # a_*.yaml sorts first, but the flow in force wins the clash
    (tmp_path / "a_other.yaml").write_text(V1.replace("name: main", "name: other")
                                           .replace("default: true\n", ""))
    assert not reg.load()
    assert reg.for_number("100") is main and reg.get("other") is None
    assert [Path(e.file).name for e in reg.errors] == ["a_other.yaml"]


def test_changed_file_clashing_keeps_its_previous_version(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(V1)
    other = tmp_path / "other.yaml"
    other.write_text("name: other\nnumbers: ['200']\nstart: h\nnodes:\n  h: {type: hangup}\n")
    reg = FlowRegistry(tmp_path)
    reg.load()
    before = reg.for_number("200")
    other.write_text("name: other\nnumbers: ['100']\nstart: h\nnodes:\n  h: {type: hangup}\n")
    assert not reg.load()
    assert reg.for_number("200") is before
    flow = reg.for_number("100")
    assert flow is not None and flow.name == "main"


async def test_watch_reloads_changed_files(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "main.yaml", tmp_path / "main.yaml")
    reg = FlowRegistry(tmp_path)
    reg.load()
    first = reg.for_number("100")
    stop = asyncio.Event()
    reloaded = asyncio.Event()
    task = asyncio.create_task(reg.watch(stop, lambda r: reloaded.set(), debounce_ms=50))
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        (tmp_path / "main.yaml").write_text(V2)
        await asyncio.wait_for(reloaded.wait(), 10)
        assert reg.for_number("100") is not first
        reloaded.clear()
        (tmp_path / "main.yaml").write_text(BROKEN)
        await asyncio.wait_for(reloaded.wait(), 10)
        assert reg.errors and reg.errors[0].message == "unknown node type 'queu'"
        flow = reg.for_number("100")
        assert flow is not None and flow.nodes["sales"].queue == "sales_v2"  # type: ignore[union-attr]
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
