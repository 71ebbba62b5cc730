"""The switch expression language: a table of truths, and refusal of anything else."""

from __future__ import annotations

import pytest

from acd.ivr.expr import ExprError, parse, truth

ENV = {"caller": "+33612", "dialled": "100", "tier": "gold", "count": "12", "empty": "",
       "hour": "9", "zip": "007"}

TRUTHS = [
    ('caller == "+33612"', True),
    ("caller != '+33612'", False),
    ('startswith(caller, "+33")', True),
    ('endswith(caller, "12") and contains(caller, "36")', True),
    ("count > 9", True),  # numeric: 12 > 9
    ('count > "9"', False),  # textual: "12" < "9"
    ("count >= 12 and count <= 12.0", True),
    ("count < 12", False),
    ("hour < 10", True),
    ('zip == 7', True),
    ('zip == "7"', False),
    ('tier == 3', False),  # not a number: unequal
    ('tier != 3', True),
    ('tier < 3', False),
    ('tier in ["gold", "silver"]', True),
    ('tier not in ["gold", "silver"]', False),
    ("count in [1, 12, 30]", True),
    ("dialled in []", False),
    ('not tier == "gold"', False),
    ('not (tier == "gold") or caller == "+33612"', True),
    ('tier == "gold" and (dialled == "200" or dialled == "100")', True),
    ("empty", False),
    ("tier", True),
    ("unknown_name", False),
    ('unknown_name == ""', True),
    ("true and not false", True),
    ("1 == 1.0", True),
    ('"a\\"b" == \'a"b\'', True),
    ("not not tier", True),
    ("tier == 'gold' or", None),
]


@pytest.mark.parametrize(("text", "expected"), TRUTHS)
def test_truth(text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(ExprError):
            truth(text, ENV)
    else:
        assert truth(text, ENV) is expected


REFUSED = [
    ('__import__("os").system("id")', "unexpected character '.'"),
    ("caller.__class__", "unexpected character '.'"),
    ('eval("1")', "unknown function 'eval'"),
    ('exec("import os")', "unknown function 'exec'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("caller; import os", "unexpected character ';'"),
    ("caller + 1", "unexpected character '+'"),
    ("lambda: 1", "unexpected character ':'"),
    ("[x for x in y]", "expected a value"),
    ("caller[0]", "unexpected '['"),
    ("{}", "unexpected character '{'"),
    ("caller == `id`", "unexpected character '`'"),
    ("a = 1", "unexpected character '='"),
    ("tier in [caller]", "expected a text or number in the list"),
    ("startswith(caller)", "startswith() takes 2 arguments"),
    ("(" * 60 + "1" + ")" * 60, "nested too deeply"),
    ("not " * 60 + "1", "nested too deeply"),
    ("x" * 1001, "longer than 1000"),
    ("", "expected a value"),
    ("'unterminated", "unexpected character"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(text)
    assert message in str(info.value)


def test_error_position() -> None:
    with pytest.raises(ExprError) as info:
        parse('tier == "gold" && caller')
    assert info.value.position == 15
