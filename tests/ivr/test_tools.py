"""`acd ivr validate` and `acd ivr graph`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from acd.ivr.cli import graph_cmd, validate_cmd

FLOWS = Path(__file__).parents[2] / "ivr_flows"
BROKEN = Path(__file__).parent / "broken"


def test_validate_clean_folder() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert validate_cmd([str(FLOWS)], out, err) == 0
    assert out.getvalue() == "6 flow(s) ok, 0 error(s), 0 warning(s)\n"
    assert err.getvalue() == ""


def test_validate_reports_like_a_compiler() -> None:
    out, err = io.StringIO(), io.StringIO()
    path = BROKEN / "unknown_type.yaml"
    assert validate_cmd([str(FLOWS / "main.yaml"), str(path)], out, err) == 1
    assert err.getvalue() == (
        f"{path}:5:5: node 'menu1': unknown node type 'manu' (did you mean 'menu'?)\n")
    assert out.getvalue() == "1 flow(s) ok, 1 error(s), 0 warning(s)\n"


def test_validate_warnings_do_not_fail(tmp_path: Path) -> None:
    flow = tmp_path / "w.yaml"
    flow.write_text("name: w\nstart: h\nnodes:\n  h: {type: hangup}\n  x: {type: hangup}\n")
    err = io.StringIO()
    assert validate_cmd([str(flow)], io.StringIO(), err) == 0
    assert err.getvalue() == (
        f"{flow}:5:3: warning: node 'x': unreachable: no path from the start leads here\n")


def test_validate_missing_path() -> None:
    err = io.StringIO()
    assert validate_cmd(["/nonexistent/x.yaml"], io.StringIO(), err) == 1
    assert "no such file or folder" in err.getvalue()


def test_graph_mermaid() -> None:
    out = io.StringIO()
    assert graph_cmd(str(FLOWS / "main.yaml"), "mermaid", out) == 0
    text = out.getvalue()
    assert text.startswith("flowchart TD\n  start(((start))) --> n_welcome\n")
    assert '  n_welcome -->|"1"| n_sales\n' in text
    assert '  n_welcome -->|"timeout"| n_goodbye\n' in text
    assert '  n_sales(["sales<br/>queue: sales"])\n' in text


def test_graph_dot() -> None:
    out = io.StringIO()
    assert graph_cmd(str(FLOWS / "hotline.yaml"), "dot", out) == 0
    text = out.getvalue()
    assert text.startswith('digraph "hotline" {')
    assert '  n_hours -> n_holiday [label="holiday"];' in text
    assert "  n_key_clients -> n_goodbye [label=\"return\"];" in text
    assert text.rstrip().endswith("}")


@pytest.mark.parametrize(("path", "fmt", "code"), [
    (BROKEN / "bad_target.yaml", "mermaid", 1),
    (FLOWS / "main.yaml", "png", 2),
])
def test_graph_failures(path: Path, fmt: str, code: int) -> None:
    assert graph_cmd(str(path), fmt, io.StringIO()) == code


def test_readme_examples_are_valid(tmp_path: Path) -> None:
    """Every node example in ivr_flows/README.md loads (targets stubbed with hangups)."""
    import re

    import yaml

    from acd.ivr.loader import check_flow
    from acd.ivr.model import NODE_TYPES

    text = (FLOWS / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    nodes: dict[str, object] = {}
    for block in blocks:
        if block.startswith("name:"):
            continue  # the file layout, not a node
        data = yaml.safe_load(block)
        nodes.update(data)
    assert {n["type"] for n in nodes.values()} == set(NODE_TYPES)  # type: ignore[index]
    nodes["card_entry"] = {"type": "collect", "prompt": "p", "variable": "card",
                           "masked": True, "next": "pay"}
    flow_text = yaml.safe_dump({"name": "doc", "start": "hello", "nodes": nodes})
    for _ in range(3):  # stub the targets the examples name
        _, errors, _ = check_flow(tmp_path / "doc.yaml", text=flow_text)
        missing = {e.message.split("'")[1] for e in errors if "does not exist" in e.message}
        if not missing:
            break
        nodes.update({m: {"type": "hangup"} for m in missing})
        flow_text = yaml.safe_dump({"name": "doc", "start": "hello", "nodes": nodes})
    assert [str(e) for e in errors] == []
