"""A masked entry never shows in clear: not in repr/str of the state, not in the
variables, not in the actions' repr, and it cannot be pickled into a store."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from acd.ivr.actions import HttpRequest
from acd.ivr.engine import reveal
from acd.ivr.handlers import luhn_ok
from acd.ivr.loader import load_flow
from acd.ivr.secret import Secret, json_default, mask
from tests.ivr.driver import Call

CARD = "4539148803436467"  # passes the Luhn check
FLOWS = Path(__file__).parents[2] / "ivr_flows"


def _clear_nowhere(text: str) -> None:
    assert CARD not in text
    assert CARD[:8] not in text  # nor any telling part of it


@pytest.mark.parametrize(("number", "ok"), [
    (CARD, True), ("4111111111111111", True), ("4111111111111112", False),
    ("79927398713", True), ("79927398710", False), ("0", False), ("12a4", False),
])
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


@pytest.mark.parametrize(("value", "masked"), [
    (CARD, "************6467"), ("1234", "****"), ("1234567", "*******"),
    ("12345678", "****5678"), ("", ""),
])
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_payment_flow_keeps_the_card_secret() -> None:
    call = Call(load_flow(FLOWS / "payment.yaml").flow, caller="0612")
    call.do("done")
    for key in CARD[:6]:
        call.do(key)
    assert call.state.collecting_masked
    _clear_nowhere(repr(call.state) + str(call.state))
    assert CARD[:6] not in repr(call.state)
    for key in CARD[6:]:
        call.do(key)
    call.do("#")
    assert not call.state.collecting_masked
    assert call.state.variables["card"] == "************6467"
    for key in "1229":
        call.do(key)
    request = call.last(HttpRequest)
    assert request.method == "POST"
    assert request.json_body is not None
    _clear_nowhere(repr(call.state) + str(call.state) + repr(request) + str(request))
    _clear_nowhere(repr(call.history) + json.dumps(call.state.variables))
    # only the request body, serialised by the runner for the payment service, has it
    body = json.dumps(request.json_body, default=json_default)
    assert json.loads(body) == {"card": CARD, "expiry": "1229", "caller": "0612"}
    assert reveal(call.state, "card") == CARD
    with pytest.raises(TypeError):
        json.dumps(request.json_body)
    with pytest.raises(TypeError):
        pickle.dumps(call.state)
    assert copy.deepcopy(call.state.secrets["card"]) is call.state.secrets["card"]


def test_wrong_card_is_not_kept_and_keys_typed_ahead_stay_secret() -> None:
    call = Call(load_flow(FLOWS / "payment.yaml").flow)
    for key in "4111111111111112#":  # fails Luhn
        call.do(key)
    assert "card" not in call.state.variables and call.state.secrets == {}
    _clear_nowhere(repr(call.state))
    assert "411111111111111" not in repr(call.state) + repr(call.history)


def test_secret_hides_itself() -> None:
    s = Secret(CARD)
    for shown in (repr(s), str(s), f"{s}", f"{s:>20}", "{}".format(s)):  # noqa: UP032
        _clear_nowhere(shown)
    with pytest.raises(AttributeError):
        s._value = "x"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_setting_a_masked_variable_forgets_the_secret() -> None:
    from tests.ivr.driver import flow_of

    flow = flow_of("""
        name: f
        start: c
        nodes:
          c: {type: collect, prompt: p, variable: pin, max_digits: 4, masked: true, next: s}
          s: {type: set, variables: {pin: none}, next: q}
          q: {type: queue, queue: sales}
    """)
    call = Call(flow)
    call.run(["1", "2", "3", "4"])
    assert call.state.variables["pin"] == "none" and reveal(call.state, "pin") is None


def test_keys_before_a_masked_collect_are_secret_too() -> None:
    from tests.ivr.driver import flow_of

    flow = flow_of("""
        name: f
        start: hello
        nodes:
          hello: {type: play, prompt: acd-hello, next: pin}
          pin: {type: collect, prompt: p, variable: pin, max_digits: 4, masked: true, next: q}
          q: {type: queue, queue: sales}
    """)
    call = Call(flow)
    assert call.state.collecting_masked
    call.run(["9", "8", "7"])
    assert call.state.collecting_masked and "987" not in repr(call.state)
    call.do("6")
    assert not call.state.collecting_masked and call.state.variables["pin"] == "****"
