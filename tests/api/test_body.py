"""acd.api.body: bounded JSON parsing and path-parameter rules (pure, table tests)."""

from __future__ import annotations

from typing import Any

import pytest

from acd.api import body
from acd.errors import InvalidRequest


@pytest.mark.parametrize(("text", "depth"), [
    ("{}", 1), ("1", 0), ('"[[[["', 0), ('{"a": [1, [2]]}', 3),
    ('["\\"[[", [[]]]', 3), ('"\\\\"', 0), ("[" * 5000, 5000), ('{"k": "}}}]]]"}', 1),
])
def test_nesting_depth(text: str, depth: int) -> None:
    assert body.nesting_depth(text) == depth


@pytest.mark.parametrize(("raw", "value"), [
    (b'{"reason": "lunch"}', {"reason": "lunch"}),
    (b'{"a": [1, 2.5, true, null]}', {"a": [1, 2.5, True, None]}),
    ('{"r": "réunion 会议\\ttab"}'.encode(), {"r": "réunion 会议\ttab"}),
    (b'{"pair": "\\ud83d\\ude00"}', {"pair": "\U0001F600"}),  # a real surrogate pair is fine
    (b"[" * 16 + b"]" * 16, [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]),
])
def test_parse_json_accepts(raw: bytes, value: Any) -> None:
    assert body.parse_json(raw) == value


@pytest.mark.parametrize(("raw", "says"), [
    (b"[" * 17 + b"]" * 17, "nests 17 levels"),
    (b"[" * 60_000, "nests 60000"),
    (b'{"a": "\\ud800"}', "lone surrogate (U+D800)"),
    (b'{"a": ["\\udc00"]}', "lone surrogate (U+DC00)"),
    (b'{"a": "x\\u0007"}', "control character (U+0007)"),
    ('{"a": "\u2066x"}'.encode(), "bidirectional override (U+2066)"),
    (b'{"a": Infinity}', "holds Infinity"),
    (b'{"a": -Infinity}', "holds -Infinity"),
    (b"\xc3\x28", "not UTF-8"),
    (b'{"a": ' + b'"' + b"x" * 2000 + b'"}', "longer than 1024"),
    (b"[" + b"0," * 1500 + b"0]", "more than 1000 items"),
    (b'{"a": 1', "not valid JSON"),
    (b"x" * (body.MAX_BODY_BYTES + 1), "larger than"),
])
def test_parse_json_refuses(raw: bytes, says: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        body.parse_json(raw)
    assert says in err.value.message


@pytest.mark.parametrize(("params", "ok"), [
    ({"agent_id": "100"}, True), ({"agent_id": "a.b-c_d"}, True), ({"agent_id": ""}, False),
    ({"agent_id": "a" * 64}, True), ({"agent_id": "a" * 65}, False),
    ({"agent_id": "a b"}, False), ({"agent_id": "１"}, False), ({"name": "vip:x"}, False),
    ({"name": "*"}, False), ({"number": "+15550199"}, True), ({"number": "*67#"}, True),
    ({"number": "anonymous"}, True), ({"number": "1\u202e"}, False),
    ({"caller": "+33 1"}, False), ({"other": "x\x00"}, False),
])
def test_check_params(params: dict[str, str], ok: bool) -> None:
    if ok:
        body.check_params(params)
    else:
        with pytest.raises(InvalidRequest):
            body.check_params(params)


@pytest.mark.parametrize(("value", "result"), [
    ("lunch", "lunch"), ("  coffee  ", "coffee"), (None, None), ("", None), ("   ", None),
    (7, None), ("x" * 64, "x" * 64), ("x" * 65, None), ("a\nb", "a\nb"), ("a\x1bb", None),
])
def test_reason_text(value: Any, result: str | None) -> None:
    if result is None:
        with pytest.raises(InvalidRequest):
            body.reason_text(value)
    else:
        assert body.reason_text(value) == result
