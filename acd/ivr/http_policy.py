"""Where an IVR `http` node may send a request: an allow-list, decided without I/O.

A flow's URL carries caller input (digits, variables); without a limit a flow
could reach acd's own API (log an agent out with the caller's digits in the
path), Redis on 127.0.0.1:6379, or a cloud metadata address. So:

- A URL must fall under an entry of `ivr.http_allow` (scheme, host, port and
  path prefix all match): `https://crm.example.com/`,
  `http://10.0.0.5:8080/orders/`, or `api:/demo/` (acd's own API address, from
  `api.host`/`api.port`, under the path `/demo/`: the demo back-ends).
- The address actually connected to is checked too (after DNS resolution, so a
  name that resolves, or re-resolves, somewhere else is refused): loopback,
  link-local, private, shared, multicast and reserved addresses are refused
  unless the entry names that address itself (an IP-literal entry) or the
  address is in `ivr.http_private_networks`.
- acd's own API is refused outside `/demo/`, whatever the list says.
- The connection goes to the address that was checked (see acd/calls/http_guard.py),
  redirects are not followed, and the answer is bounded in size and time.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_RESPONSE_BYTES = 64 * 1024
MAX_TIMEOUT = 10.0
SELF_PREFIX = "api:"
DEMO_PATH = "/demo/"
_PORTS = {"http": 80, "https": 443}
_SHARED = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True, slots=True)
class Rule:
    scheme: str
    host: str  # lower case; an IP address in its compressed form
    port: int
    path: str  # prefix, starts with "/"

    @property
    def literal(self) -> IP | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def covers(self, scheme: str, host: str, port: int, path: str) -> bool:
        return (scheme, host, port) == (self.scheme, self.host, self.port) and (
            path.startswith(self.path) or path + "/" == self.path)


@dataclass(frozen=True)
class HttpPolicy:
    rules: tuple[Rule, ...] = ()
    private_networks: tuple[Net, ...] = ()
    own_api: tuple[str, int] | None = None  # acd's API (host, port)
    max_bytes: int = MAX_RESPONSE_BYTES
    entries: tuple[str, ...] = field(default=(), compare=False)


def _host(raw: str | None) -> str:
    host = (raw or "").lower().strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _self_host(host: str) -> str:
    """Where acd reaches its own API: an API on every address (0.0.0.0, ::) or on
    "localhost" is reached on 127.0.0.1, an address the rule then names itself."""
    h = _host(host)
    if h in ("localhost", "0.0.0.0", "::"):
        return "127.0.0.1"
    return h


def _own_host(host: str) -> str:
    h = _host(host)
    return "127.0.0.1" if h == "localhost" else h


def parse_rule(entry: str, own_api: tuple[str, int] | None) -> Rule:
    """One `ivr.http_allow` entry; ValueError with a readable message when it is wrong."""
    if entry.startswith(SELF_PREFIX):
        path = entry[len(SELF_PREFIX):] or "/"
        if own_api is None:
            raise ValueError(f"{entry!r}: acd's API address is not known here")
        if not path.startswith(DEMO_PATH):
            raise ValueError(f"{entry!r}: only acd's demo back-ends ({DEMO_PATH}) may be "
                             "allowed on acd's own API")
        return Rule("http", _self_host(own_api[0]), own_api[1], path)
    parts = urlsplit(entry if "://" in entry else f"https://{entry}")
    if parts.scheme not in _PORTS or not parts.hostname:
        raise ValueError(f"{entry!r} is not an http(s) URL prefix or a host name")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{entry!r}: an entry is scheme, host, port and path only")
    port = parts.port or _PORTS[parts.scheme]
    return Rule(parts.scheme, _host(parts.hostname), port, parts.path or "/")


def make_policy(entries: Iterable[str], private: Iterable[str] = (),
                own_api: tuple[str, int] | None = None) -> HttpPolicy:
    listed = tuple(entries)
    return HttpPolicy(
        rules=tuple(parse_rule(e, own_api) for e in listed),
        private_networks=tuple(ipaddress.ip_network(n, strict=False) for n in private),
        own_api=(_own_host(own_api[0]), own_api[1]) if own_api else None,
        entries=listed,
    )


def is_public(ip: IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(ip.ipv4_mapped)
    return ip.is_global and not (ip.is_multicast or ip in _SHARED)


def check_url(url: str, policy: HttpPolicy) -> tuple[Rule | None, str | None]:
    """(the rule that allows `url`, None) or (None, why it is refused)."""
    try:
        parts = urlsplit(url)
        port = parts.port or _PORTS.get(parts.scheme, 0)
    except ValueError as e:
        return None, f"not a valid URL: {e}"
    if parts.scheme not in _PORTS or not parts.hostname:
        return None, "only http:// and https:// URLs with a host are allowed"
    if parts.username or parts.password:
        return None, "a URL may not carry a user name or password"
    host, path = _host(parts.hostname), parts.path or "/"
    if "/.." in path or "\\" in path or "%2e" in path.lower() or "%2f" in path.lower():
        return None, "the URL path may not contain '..', '\\' or encoded dots and slashes"
    shown = f"[{host}]" if ":" in host else host
    if _is_own_api(host, port, policy) and not path.startswith(DEMO_PATH):
        return None, f"acd's own API ({shown}:{port}) is never reachable from a flow"
    for rule in policy.rules:
        if rule.covers(parts.scheme, host, port, path):
            literal = rule.literal
            if literal is not None:
                return rule, None  # the operator named this very address
            if _literal(host) is not None:
                return None, address_problem(_literal(host), rule, policy)  # type: ignore[arg-type]
            return rule, None
    where = f"{parts.scheme}://{shown}:{port}{path}"
    listed = ", ".join(policy.entries) or "nothing is listed"
    return None, f"{where} is not in ivr.http_allow ({listed})"


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_own_api(host: str, port: int, policy: HttpPolicy) -> bool:
    if policy.own_api is None or port != policy.own_api[1]:
        return False
    own = policy.own_api[0]
    if host == own or host == "localhost":
        return True
    ip, own_ip = _literal(host), _literal(own)
    if ip is None:
        return False
    # An API bound to every address answers on any local one.
    if own_ip is not None and own_ip.is_unspecified:
        return ip.is_loopback or ip.is_unspecified or ip.is_private
    return ip.is_loopback and own_ip is not None and own_ip.is_loopback


def address_problem(ip: IP, rule: Rule, policy: HttpPolicy) -> str | None:
    """Why connecting to `ip` (which `rule`'s host resolved to) is refused, or None."""
    if rule.literal is not None and ip == rule.literal:
        return None
    if is_public(ip):
        return None
    if any(ip.version == net.version and ip in net for net in policy.private_networks):
        return None
    kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local
            else "private" if ip.is_private else "non-public")
    return (f"{ip} is a {kind} address: not allowed unless listed in ivr.http_allow "
            "or ivr.http_private_networks")
