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
        if block.startswith(("name:", "ivr:")):
            continue  # the file layout or the configuration, not a node
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


REPO = Path(__file__).parents[2]


def test_validate_with_no_arguments_checks_the_shipped_flows_against_the_shipped_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.delenv("ACD_CONFIG", raising=False)
    done = subprocess.run([sys.executable, "-m", "acd", "ivr", "validate"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (
        0, "6 flow(s) ok, 0 error(s), 0 warning(s)\n", "")


def test_validate_against_a_configuration_that_lacks_what_flows_use(tmp_path: Path) -> None:
    config = tmp_path / "acd.yaml"
    config.write_text("queues:\n  - {name: sales}\n  - {name: support}\n")
    out, err = io.StringIO(), io.StringIO()
    assert validate_cmd([str(FLOWS)], out, err, config=str(config)) == 1
    lines = err.getvalue().splitlines()
    assert f"{FLOWS}/emergency.yaml:15:5: node 'queue': queue 'medical_emergency' is not " \
           "defined in the configuration (queues:)" in lines
    assert f"{FLOWS}/key_clients.yaml:34:5: node 'key_queue': chain 'key_client' is not " \
           "defined in the configuration (routing.chains:)" in lines
    assert f"{FLOWS}/hotline.yaml:11:5: node 'blocked': list 'blocked' is not declared in the " \
           "configuration (ivr.lists:)" in lines
    assert f"{FLOWS}/hotline.yaml:32:5: node 'hours': schedule 'hotline' is not declared in " \
           "the configuration (ivr.schedules:)" in lines
    assert any(line.startswith(f"{FLOWS}/order_status.yaml:30:5: node 'lookup': url refused: ")
               for line in lines)
    # The same files, the flows alone: clean.
    assert validate_cmd([str(FLOWS)], io.StringIO(), io.StringIO(), use_config=False) == 0


def test_validate_checks_prompts_against_an_installed_sounds_folder(tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    (sounds / "en").mkdir(parents=True)
    for name in ("acd-welcome", "acd-goodbye"):
        (sounds / "en" / f"{name}.wav").write_bytes(b"")
    err = io.StringIO()
    assert validate_cmd([str(FLOWS / "main.yaml")], io.StringIO(), err,
                        sounds_dir=str(sounds)) == 1
    # The menu's invalid_prompt is not written: the engine's default, still checked.
    assert err.getvalue() == (
        f"{FLOWS / 'main.yaml'}:9:3: node 'welcome': prompt 'sound:acd-invalid' is not "
        "installed in the sounds folder\n")


def test_validate_with_a_missing_config() -> None:
    err = io.StringIO()
    assert validate_cmd([str(FLOWS)], io.StringIO(), err, config="/nonexistent.yaml") == 1
    assert err.getvalue() == "configuration: /nonexistent.yaml: no such configuration file\n"
