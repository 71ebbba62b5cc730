"""Broken flows (each with its own message, file and line), warnings, cross-flow checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.ivr.loader import FlowError, check_flow, load_flow, load_folder

BROKEN = Path(__file__).parent / "broken"
FLOWS = Path(__file__).parents[2] / "ivr_flows"

# file, line, column, node, message (exact, without the location), suggestion
CASES = [
    ("unknown_type", 5, 5, "menu1", "unknown node type 'manu'", "menu"),
    ("bad_target", 9, 10, "menu", "target 'suport' does not exist", "support"),
    ("unknown_field", 6, 5, "hello", "unknown field 'promt'", "prompt"),
    ("missing_next", 4, 3, "hello", "missing field 'next'", None),
    ("bad_start", 2, 8, None, "start node 'welcom' does not exist", "welcome"),
    ("yaml_syntax", 6, 4, None,
     "YAML syntax: expected <block end>, but found '<block mapping start>'", None),
    ("duplicate_node", 6, 3, "a", "node id 'a' is used twice (first on line 4)", None),
    ("bad_menu_key", 8, 7, "m", "field 'options': option '12' is not a single key of 0-9, * or #",
     None),
    ("negative_timeout", 8, 14, "m", "field 'timeout': input should be greater than 0", None),
    ("bad_expression", 7, 9, "s",
     "condition 'caller == \"555\" and': expected a value but found the end at position 20",
     None),
    ("code_injection", 7, 9, "s",
     "condition '__import__(\"os\").system(\"id\")': unexpected character '.' at position 17",
     None),
    ("unknown_function", 7, 9, "s",
     "condition 'open(\"/etc/passwd\") == \"x\"': unknown function 'open' "
     "(known: startswith, endswith, contains) at position 1", None),
    ("bad_timezone", 6, 15, "s",
     "field 'timezone': unknown time zone 'Europe/Pari' (e.g. 'Europe/Paris')", None),
    ("bad_hours", 8, 7, "s",
     "field 'hours': '18:00-08:00' ends before it starts (split ranges that cross midnight)",
     None),
    ("bad_weekday", 8, 7, "s",
     "field 'hours.monday': 'monday' is not one of mon, tue, wed, thu, fri, sat, sun", "mon"),
    ("bad_holiday", 8, 15, "s", "field 'holidays': holiday '2026-02-30' is not a real date", None),
    ("bad_regex", 8, 14, "c", "field 'pattern': pattern is not a valid regular expression: "
     "unterminated character set at position 1", None),
    ("min_over_max", 4, 3, "c", "min_digits (8) > max_digits (4)", None),
    ("secret_in_url", 13, 5, "pay", "a '${secret.…}' value may only be a whole value of an http "
     "body (never a URL, parameter, header or prompt)", None),
    ("secret_not_masked", 13, 12, "pay", "'card' is not the variable of a masked collect", None),
    ("endless_loop", 4, 3, "a",
     "endless loop: a -> b -> a never waits for the caller and never leaves", None),
    ("transfer_two_targets", 4, 3, "t", "give exactly one of endpoint, extension or number", None),
    ("bad_method", 6, 13, "h", "field 'method': 'PUT' is not one of GET, POST", None),
    ("body_on_get", 4, 3, "h", "a body needs method: POST", None),
    ("unknown_top_key", 3, 1, None, "unknown top-level key 'numbrs'", "numbers"),
    ("missing_name", 1, 1, None, "missing top-level key 'name'", None),
    ("bad_interpolation", 6, 5, "q", "'${' without a closing '}'", None),
    ("bad_exit_reason", 8, 7, "q", "field 'on_exit': unknown exit reason 'timeout' "
     "(one of max_wait, callback, no_agents, full, default)", None),
    ("bad_say_as", 7, 9, "s", "field 'as': 'numbr' is not one of number, digits, duration, date",
     "number"),
    ("no_type", 4, 3, "a", "missing field 'type'", None),
    ("bad_url", 6, 10, "h",
     "field 'url': the url must start with http:// or https:// and a host name", None),
]


def test_every_broken_file_has_a_case() -> None:
    assert {p.stem for p in BROKEN.glob("*.yaml")} == {c[0] for c in CASES}
    assert len(CASES) >= 20


@pytest.mark.parametrize(("name", "line", "column", "node", "message", "hint"), CASES,
                         ids=[c[0] for c in CASES])
def test_broken_flow(
    name: str, line: int, column: int, node: str | None, message: str, hint: str | None
) -> None:
    path = BROKEN / f"{name}.yaml"
    with pytest.raises(FlowError) as info:
        load_flow(path)
    e = info.value
    assert (e.file, e.line, e.column, e.node, e.message, e.suggestion) == (
        str(path), line, column, node, message, hint)
    assert e.errors == [e]


def test_error_text_reads_like_a_compiler() -> None:
    e = FlowError("ivr_flows/main.yaml", 12, 5, "menu1", "unknown node type 'manu'", "menu")
    assert str(e) == (
        "ivr_flows/main.yaml:12:5: node 'menu1': unknown node type 'manu' (did you mean 'menu'?)"
    )
    assert e.to_dict()["details"]["line"] == 12


def test_several_errors_in_one_file_are_all_reported(tmp_path: Path) -> None:
    text = """name: x
start: a
nodes:
  a: {type: menu, prompt: p, options: {1: nowhere}, on_invalid: elsewhere}
  b: {type: plya, next: a}
"""
    _, errors, _ = check_flow(tmp_path / "x.yaml", text=text)
    assert [(e.line, e.message) for e in errors] == [
        (4, "target 'nowhere' does not exist"),
        (4, "target 'elsewhere' does not exist"),
        (5, "unknown node type 'plya'"),
    ]


WARN_FLOW = """name: w
start: menu
nodes:
  menu:
    type: menu
    prompt: [acd-welcome, acd-welcom]
    options: {1: again}
    on_invalid: again
    on_timeout: again
  again:
    type: play
    prompt: acd-${missing_var}
    next: menu
  orphan:
    type: hangup
  check:
    type: switch
    cases: [{when: vip == "1", goto: orphan}]
    default: orphan
"""


def test_warnings(tmp_path: Path) -> None:
    flow, errors, warnings = check_flow(tmp_path / "w.yaml", {"sound:acd-welcome"},
                                        text=WARN_FLOW)
    assert flow is not None and errors == []
    got = sorted((w.line, w.node, w.message, w.suggestion) for w in warnings)
    assert got == [
        (4, "menu", "loop with no way out: menu, again never reach a hangup, transfer, queue "
         "or voicemail", None),
        (4, "menu", "prompt 'sound:acd-invalid' is not in the sounds list", None),  # default
        (6, "menu", "prompt 'sound:acd-welcom' is not in the sounds list", "sound:acd-welcome"),
        (12, "again", "variable 'missing_var' is never set in this flow", None),
        (14, "orphan", "unreachable: no path from the start leads here", None),
        (16, "check", "unreachable: no path from the start leads here", None),
        (18, "check", "variable 'vip' is never set in this flow", None),
    ]
    assert str(warnings[0]).startswith(f"{tmp_path / 'w.yaml'}:")
    assert ": warning: node '" in str(warnings[0])


def test_example_flows_are_clean() -> None:
    flows, errors, warnings = load_folder(FLOWS)
    assert errors == [] and warnings == []
    assert set(flows) == {"main", "hotline", "order_status", "key_clients", "emergency", "payment"}
    assert flows["main"].default and flows["main"].numbers == ("100",)


def _write(folder: Path, **files: str) -> None:
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)


def test_cross_flow_checks(tmp_path: Path) -> None:
    _write(
        tmp_path,
        a="name: a\nnumbers: ['100']\ndefault: true\nstart: s\nnodes:\n"
          "  s: {type: subflow, flow: bb, next: h}\n  h: {type: hangup}\n",
        b="name: b\nnumbers: ['200', '100']\nstart: h\nnodes:\n  h: {type: hangup}\n",
        c="name: c\ndefault: true\nstart: h\nnodes:\n  h: {type: hangup}\n",
        d="name: b\nstart: h\nnodes:\n  h: {type: hangup}\n",
    )
    flows, errors, _ = load_folder(tmp_path)
    got = sorted((Path(e.file).name, e.line, e.message, e.suggestion) for e in errors)
    assert got == [
        ("a.yaml", 6, "subflow 'bb' is not a known flow", "b"),
        ("b.yaml", 2, "number '100' is already taken by " + str(tmp_path / "a.yaml"), None),
        ("c.yaml", 2, "only one flow may be the default; " + str(tmp_path / "a.yaml")
         + " already is", None),
        ("d.yaml", 1, "flow name 'b' is already used by " + str(tmp_path / "b.yaml"), None),
    ]
    assert flows == {}  # every file takes part in a clash

    (tmp_path / "a.yaml").unlink()
    (tmp_path / "d.yaml").unlink()
    flows, errors, _ = load_folder(tmp_path)
    assert errors == [] and set(flows) == {"b", "c"}


def test_ints_in_yaml_are_read_as_text(tmp_path: Path) -> None:
    flow, errors, _ = check_flow(tmp_path / "n.yaml", text=(
        "name: n\nnumbers: [100, '0800']\nstart: m\nnodes:\n"
        "  m: {type: menu, prompt: p, options: {1: h, 0: h}}\n  h: {type: hangup}\n"))
    assert flow is not None, errors
    assert flow.numbers == ("100", "0800")
    assert set(flow.nodes["m"].options) == {"1", "0"}  # type: ignore[union-attr]
