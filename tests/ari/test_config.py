from __future__ import annotations

import pytest

from acd.ari.config import AriConfig
from acd.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "rest", "ws"),
    [
        ("http://127.0.0.1:8088", "http://127.0.0.1:8088/ari", "ws://127.0.0.1:8088/ari/events"),
        ("https://pbx.example:8089/", "https://pbx.example:8089/ari",
         "wss://pbx.example:8089/ari/events"),
        ("http://h/prefix", "http://h/prefix/ari", "ws://h/prefix/ari/events"),
    ],
)
def test_urls(url: str, rest: str, ws: str) -> None:
    config = AriConfig(url=url)
    assert config.rest_base == rest
    assert config.ws_base == ws


@pytest.mark.parametrize(
    "url",
    ["ftp://h", "127.0.0.1:8088", "http://u:sekrit@h:8088", "http://h/ari", "http://h?x=1", ""],
)
def test_bad_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        AriConfig(url=url)
    assert "sekrit" not in str(info.value) and "sekrit" not in repr(info.value.details)


@pytest.mark.parametrize(("field", "value"), [("app", ""), ("timeout", 0.0)])
def test_bad_values(field: str, value: object) -> None:
    with pytest.raises(ConfigError):
        AriConfig(**{field: value})  # type: ignore[arg-type]


def test_auth_modes() -> None:
    basic = AriConfig(user="u", password="p")
    assert basic.auth_headers() == {"Authorization": "Basic dTpw"}
    assert basic.auth_params() == {}
    keyed = AriConfig(api_key="u:k")
    assert keyed.auth_headers() == {}
    assert keyed.auth_params() == {"api_key": "u:k"}
    assert AriConfig().auth_headers() == {} and AriConfig().auth_params() == {}


def test_repr_and_scrub_hide_secrets() -> None:
    config = AriConfig(user="u", password="p@ss word", api_key="u:k&y")
    for text in (repr(config), str(config)):
        assert "p@ss word" not in text and "k&y" not in text
        assert "user='u'" in text
    scrubbed = config.scrub("a p@ss word b u%3Ak%26y c u:k&y d cDpwQHNzIHdvcmQ=")
    assert scrubbed == "a *** b *** c *** d cDpwQHNzIHdvcmQ="
    assert "dTpwQHNzIHdvcmQ=" not in config.scrub("Basic dTpwQHNzIHdvcmQ=")
