"""A flow setting may use another (one level), and acd supplies `api_url` from config."""

from __future__ import annotations

from typing import Any

import pytest

from acd.config import Settings, api_base_url
from acd.ivr.flow_settings import apply_settings


def _apply(declared: dict[str, Any], overrides: dict[str, str]) -> tuple[dict[str, str],
                                                                          list[str], Any]:
    problems: list[str] = []
    data = {"settings": declared, "nodes": {"n": {"url": "${settings.orders_url}/x"}}}
    resolved = apply_settings(data, overrides,
                              lambda path, message, *_a, **_k: problems.append(message))
    return resolved, problems, data["nodes"]["n"]["url"]


@pytest.mark.parametrize(("overrides", "url"), [
    ({}, "http://127.0.0.1:8080/demo/orders/x"),
    ({"api_url": "http://10.0.0.5:9000"}, "http://10.0.0.5:9000/demo/orders/x"),
    ({"orders_url": "https://orders.internal"}, "https://orders.internal/x"),
])
def test_a_setting_uses_api_url(overrides: dict[str, str], url: str) -> None:
    declared = {"api_url": "http://127.0.0.1:8080",
                "orders_url": "${settings.api_url}/demo/orders"}
    _, problems, got = _apply(declared, overrides)
    assert problems == [] and got == url


@pytest.mark.parametrize("declared", [
    {"orders_url": "${settings.nope}/demo"},
    {"a": "${settings.orders_url}", "orders_url": "${settings.a}/x"},  # a cycle
])
def test_a_setting_using_an_unknown_or_indirect_setting_is_refused(
        declared: dict[str, str]) -> None:
    _, problems, _ = _apply(declared, {})
    assert problems and "not a declared setting with a plain value" in problems[0]


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", 8080, "http://127.0.0.1:8080"), ("0.0.0.0", 9090, "http://127.0.0.1:9090"),
    ("::", 8081, "http://127.0.0.1:8081"), ("::1", 8080, "http://[::1]:8080"),
    ("acd.internal", 80, "http://acd.internal:80"),
])
def test_api_base_url(host: str, port: int, url: str) -> None:
    assert api_base_url(Settings.model_validate({"api": {"host": host, "port": port}})) == url
