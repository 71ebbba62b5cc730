"""HTTP plumbing shared by the ARI and /sim routes: parameters, answers, auth, errors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from acd.sim.core import World
from acd.sim.errors import AriReply
from acd.sim.model import JsonDict, dumps

WORLD = web.AppKey("sim_world", World)
JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Params(dict[str, Any]):
    """Query string and JSON body merged, as ARI accepts either; `variables` apart."""

    variables: dict[str, str]
    media_list: list[str]

    def media(self) -> list[str]:
        out: list[str] = []
        for item in self.media_list:
            out.extend(m for m in item.split(",") if m)
        return out


async def params(request: web.Request) -> Params:
    p = Params()
    p.media_list = request.query.getall("media", [])
    p.update({k: v for k, v in request.query.items()})
    p.variables = {}
    if request.can_read_body:
        try:
            body = json.loads(await request.text() or "null")
        except ValueError:
            raise AriReply(400, "Invalid JSON body") from None
        if isinstance(body, dict):
            variables = body.pop("variables", None)
            if isinstance(variables, dict):
                p.variables = {str(k): str(v) for k, v in variables.items()}
            for key, value in body.items():
                p[key] = value if isinstance(value, dict | list) else str(value)
            if "media" in body and not p.media_list:
                media = body["media"]
                p.media_list = [str(m) for m in media] if isinstance(media, list) else [str(media)]
    return p


def json_ok(body: str | JsonDict | list[Any], status: int = 200) -> web.Response:
    text = body if isinstance(body, str) else dumps(body)
    return web.Response(status=status, text=text, content_type=JSON)


def created(body: JsonDict) -> web.Response:
    return json_ok(body, 201)


def no_content() -> web.Response:
    return web.Response(status=204)


def _auth_ok(request: web.Request, secret: str | None) -> bool:
    if secret is None:
        return True
    key = request.query.get("api_key")
    if key is not None:
        return key == secret
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        return base64.b64decode(header[6:]).decode() == secret
    except (binascii.Error, UnicodeDecodeError):
        return False


def make_middleware(secret: str | None, count: Callable[[], None]) -> Any:
    """Authentication, request counting, and ARI-shaped error answers."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        count()
        if not _auth_ok(request, secret):
            return web.Response(status=401, text='{"message":"Authentication required"}',
                                content_type=JSON,
                                headers={"WWW-Authenticate":
                                         'Basic realm="Asterisk REST Interface"'})
        try:
            return await handler(request)
        except AriReply as reply:
            return json_ok(reply.body(), reply.status)
        except web.HTTPNotFound:
            return json_ok({"message": "Resource not found"}, 404)
        except web.HTTPMethodNotAllowed:
            return json_ok({"message": "Method Not Allowed"}, 405)

    return middleware
