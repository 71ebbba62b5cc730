"""Demo back-ends the example flows ask over HTTP: orders, a CRM, a payment service.

They stand in for the web services a real contact center would call, so that
`ivr_flows/` works out of the box (the REST API mounts them under `/demo`) and
tests can serve the same routes on an ephemeral port (`DemoServer`):

    GET  /demo/orders/{number}   {"order", "status", "delivery": {"days"}}; 404 unknown
    GET  /demo/crm/{caller}      {"account": {"name", "manager", "tier"}}; 404 unknown
    POST /demo/payments          {"card", "expiry", "caller"} -> 201 {"id", "status"};
                                 402 {"status": "declined", "reason"} for a bad card

The payment service never logs, stores or echoes the card number: it checks it
(length, Luhn, expiry) and forgets it. What it keeps of a payment (`Payment`) is
its id, the caller and how many digits the card had.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from acd.api.access import PUBLIC, allow
from acd.api.body import parse_json, read_body
from acd.errors import InvalidRequest

logger = logging.getLogger(__name__)

DEMO_PREFIX = "/demo"


@dataclass(frozen=True, slots=True)
class Order:
    status: str  # new | paid | packing | shipped | cancelled
    delivery_days: int | None = None


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    manager: str | None = None  # the account manager's agent id
    tier: str = "gold"


@dataclass(frozen=True, slots=True)
class Payment:
    """What the demo keeps of an accepted payment: never the card number."""

    payment_id: str
    caller: str
    card_digits: int


DEFAULT_ORDERS: dict[str, Order] = {
    "123456": Order("shipped", 3),
    "234567": Order("packing"),
    "345678": Order("paid"),
    "456789": Order("new"),
    "567890": Order("cancelled"),
}

# Key clients by calling number; managers are agent ids of config/acd.yaml.
DEFAULT_ACCOUNTS: dict[str, Account] = {
    "+33140000001": Account("Dupont SA", manager="100"),
    "+15550100": Account("Acme Corp", manager="101"),
    "+442071000001": Account("Smith & Sons", manager=None, tier="silver"),
}

_DIGITS = re.compile(r"^[0-9]{13,19}$")
_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])[0-9]{2}$")


def luhn_ok(number: str) -> bool:
    """The card-number check digit test."""
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass
class DemoBackends:
    """The demo services' data; tests give their own and read `payments` back."""

    orders: dict[str, Order] = field(default_factory=lambda: dict(DEFAULT_ORDERS))
    accounts: dict[str, Account] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    payments: list[Payment] = field(default_factory=list)
    requests: int = 0
    next_payment: int = 100001

    # ------------------------------------------------------------- handlers

    async def order(self, request: web.Request) -> web.Response:
        self.requests += 1
        number = request.match_info["number"]
        found = self.orders.get(number)
        if found is None:
            return _json({"error": "unknown order", "order": number}, 404)
        body: dict[str, Any] = {"order": number, "status": found.status}
        if found.delivery_days is not None:
            body["delivery"] = {"days": found.delivery_days}
        return _json(body, 200)

    async def crm(self, request: web.Request) -> web.Response:
        self.requests += 1
        caller = request.match_info["caller"]
        account = self.accounts.get(caller)
        if account is None:
            return _json({"error": "not a known account"}, 404)
        return _json({"caller": caller, "account": {
            "name": account.name, "manager": account.manager, "tier": account.tier}}, 200)

    async def pay(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            body = parse_json(await read_body(request))
        except InvalidRequest as exc:
            return _json({"status": "declined", "reason": exc.message}, 400)
        if not isinstance(body, dict):
            return _json({"status": "declined", "reason": "the body is not an object"}, 400)
        card = body.get("card")
        expiry = body.get("expiry")
        caller = body.get("caller")
        # Whatever happens, the card number is neither logged nor echoed back.
        if not isinstance(card, str) or not _DIGITS.match(card) or not luhn_ok(card):
            logger.info("demo payment declined: invalid card number")
            return _json({"status": "declined", "reason": "invalid card number"}, 402)
        if not isinstance(expiry, str) or not _EXPIRY.match(expiry):
            logger.info("demo payment declined: invalid expiry")
            return _json({"status": "declined", "reason": "invalid expiry"}, 402)
        payment = Payment(str(self.next_payment), str(caller or ""), len(card))
        self.next_payment += 1
        self.payments.append(payment)
        logger.info("demo payment %s accepted", payment.payment_id)
        return _json({"id": payment.payment_id, "status": "accepted"}, 201)


def _json(body: Mapping[str, Any], status: int) -> web.Response:
    return web.json_response(dict(body), status=status)


def add_demo_routes(
    app: web.Application, backends: DemoBackends | None = None, prefix: str = DEMO_PREFIX
) -> DemoBackends:
    """Add the demo services under `prefix` to `app`; returns their data."""
    demo = backends or DemoBackends()
    app.router.add_get(f"{prefix}/orders/{{number}}", _public(demo.order))
    app.router.add_get(f"{prefix}/crm/{{caller}}", _public(demo.crm))
    app.router.add_post(f"{prefix}/payments", _public(demo.pay))
    return demo


def _public(method: Callable[[web.Request], Awaitable[web.Response]]
            ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The demo services stand in for other companies' systems: anyone may call them."""
    @allow(PUBLIC)
    async def handler(request: web.Request) -> web.Response:
        return await method(request)
    handler.__doc__ = method.__doc__
    return handler


class DemoServer:
    """The demo services on their own port (tests: port 0 picks a free one)."""

    def __init__(self, backends: DemoBackends | None = None) -> None:
        self.backends = backends or DemoBackends()
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL flows use, e.g. http://127.0.0.1:41234/demo."""
        return f"http://{self.host}:{self.port}{DEMO_PREFIX}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        add_demo_routes(app, self.backends)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
