"""Where the ARI server is and how to authenticate to it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, urlsplit

from acd.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AriConfig:
    """One ARI server and one Stasis application.

    `url` is the HTTP base *without* `/ari` (the client appends `/ari/...`); http or
    https, and the events WebSocket follows (ws or wss). Authenticate with `user` +
    `password` (HTTP basic) or with `api_key` (`user:password`, sent as the
    `api_key` query parameter ARI documents). Secrets never appear in `repr()`.
    """

    url: str = "http://127.0.0.1:8088"
    app: str = "acd"  # where acd's own channels (agent legs) go
    user: str | None = None
    password: str | None = None
    api_key: str | None = None
    timeout: float = 5.0
    apps: tuple[str, ...] = ()  # more applications served on the same events socket

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Never echo the url back: it might carry credentials.
            raise ConfigError("ARI url must be http(s)://host[:port]", scheme=parts.scheme)
        if parts.username is not None or parts.password is not None:
            raise ConfigError("put ARI credentials in user/password or api_key, not in the url")
        if parts.query or parts.fragment:
            raise ConfigError("ARI url must not carry a query or fragment")
        if parts.path.rstrip("/").endswith("/ari"):
            raise ConfigError("ARI url is the base without /ari (the client appends it)")
        if not self.app or not all(self.apps) or any("," in a for a in (self.app, *self.apps)):
            raise ConfigError("ARI application names must be non-empty, without commas")
        if self.timeout <= 0:
            raise ConfigError("ARI timeout must be positive", timeout=self.timeout)
        object.__setattr__(self, "url", self.url.rstrip("/"))

    def __repr__(self) -> str:
        return (
            f"AriConfig(url={self.url!r}, app={self.app!r}, apps={self.apps!r}, "
            f"user={self.user!r}, "
            f"password={'***' if self.password else None}, "
            f"api_key={'***' if self.api_key else None}, timeout={self.timeout!r})"
        )

    __str__ = __repr__

    @property
    def all_apps(self) -> tuple[str, ...]:
        """`app` first, then the other applications, each once."""
        return tuple(dict.fromkeys((self.app, *self.apps)))

    @property
    def rest_base(self) -> str:
        """`<url>/ari`: every REST path is appended to this."""
        return f"{self.url}/ari"

    @property
    def ws_base(self) -> str:
        """The events WebSocket URL without its query (ws or wss like the url)."""
        return "ws" + self.url[len("http") :] + "/ari/events"

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for basic auth, or none when an api_key is used."""
        if self.api_key is None and self.user is not None:
            return {"Authorization": f"Basic {self._basic_token()}"}
        return {}

    def _basic_token(self) -> str:
        pair = f"{self.user}:{self.password or ''}".encode()
        return base64.b64encode(pair).decode("ascii")

    def auth_params(self) -> dict[str, str]:
        """The `api_key` query parameter, or none when basic auth is used."""
        return {"api_key": self.api_key} if self.api_key is not None else {}

    def secrets(self) -> tuple[str, ...]:
        """Every secret string of this config, for scrubbing text that leaves us."""
        found: list[str] = []
        for secret in (self.password, self.api_key):
            if secret:
                # Longest first, so that scrubbing one form cannot break another.
                found += sorted({quote(secret, safe=""), quote_plus(secret), secret}, key=len,
                                reverse=True)
        if self.user is not None and self.password:
            found.append(self._basic_token())
        return tuple(found)

    def scrub(self, text: str) -> str:
        """`text` with every secret of this config replaced by `***`."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text
