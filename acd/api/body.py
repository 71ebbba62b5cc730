"""Bounded request input: JSON bodies, path parameters and the JSON shape of HTTP errors.

Everything an API client sends is checked here before a handler sees it, so no body
can exhaust the event loop (size is capped while reading, nesting depth is measured
by a linear scan before `json.loads` recurses), no lone surrogate or control
character reaches Redis, Lua or PostgreSQL, and every path parameter has a bounded
length and a plain charset. Refusals are `InvalidRequest` (400) or aiohttp's 413,
with an `error_id`; aiohttp's own HTTP errors (unknown route, method not allowed)
get the same JSON shape from `http_errors_middleware`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientPayloadError, web
from aiohttp.web_protocol import RequestPayloadError

from acd.errors import InvalidRequest

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_STRING = 1024
MAX_ITEMS = 1000  # keys + array elements over the whole body
MAX_REASON = 64

# Path parameters: what each may hold. Agent ids, list and schedule names are
# identifiers; numbers are what a caller-id can be (digits, +, *, #, and the
# "anonymous"-style words carriers send).
_IDENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NUMBER = re.compile(r"[A-Za-z0-9+*#._-]{1,64}")
PARAM_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "agent_id": (_IDENT, "letters, digits, '_', '.', '-' (1 to 64)"),
    "action": (_IDENT, "letters, digits, '_', '.', '-' (1 to 64)"),
    "name": (_IDENT, "letters, digits, '_', '.', '-' (1 to 64)"),
    "number": (_NUMBER, "digits, letters, '+', '*', '#', '_', '.', '-' (1 to 64)"),
    "caller": (_NUMBER, "digits, letters, '+', '*', '#', '_', '.', '-' (1 to 64)"),
}
_DEFAULT_RULE = (_NUMBER, "digits, letters, '+', '*', '#', '_', '.', '-' (1 to 64)")

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refuse_constant(name: str) -> Any:
    raise InvalidRequest(f"the request body holds {name}, which JSON does not allow",
                         error="non_json_number")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, in one linear pass (no recursion)."""
    depth = deepest = 0
    for m in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _bad_char(s: str) -> str | None:
    for ch in s:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone surrogate (U+{code:04X})"
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n":
            return f"a control character (U+{code:04X})"
        if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
            return f"a bidirectional override (U+{code:04X})"
    return None


def check_text(value: str, where: str, max_len: int = MAX_STRING) -> str:
    """`value` if it is at most `max_len` characters of plain text, else InvalidRequest."""
    if len(value) > max_len:
        raise InvalidRequest(f"{where} is longer than {max_len} characters",
                             field=where, length=len(value), max=max_len)
    bad = _bad_char(value)
    if bad is not None:
        raise InvalidRequest(f"{where} holds {bad}", field=where)
    return value


def _walk(value: Any, where: str, budget: list[int]) -> None:
    # Depth is already bounded by nesting_depth, so this recursion is too.
    budget[0] -= 1
    if budget[0] < 0:
        raise InvalidRequest(f"the request body has more than {MAX_ITEMS} items",
                             max=MAX_ITEMS)
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, f"{where}.<key>" if where else "a key")
            _walk(v, f"{where}.{k}" if where else k, budget)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]", budget)


def parse_json(raw: bytes) -> Any:
    """A JSON value from `raw`, bounded in size, depth, items and string content."""
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest(f"the request body is larger than {MAX_BODY_BYTES} bytes",
                             max=MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"the request body is not UTF-8 (byte {exc.start})",
                             position=exc.start) from exc
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"the request body nests {depth} levels deep; at most "
                             f"{MAX_DEPTH} are allowed", depth=depth, max=MAX_DEPTH)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
    _walk(value, "", [MAX_ITEMS])
    return value


async def read_body(request: web.Request) -> bytes:
    """The body's bytes, refusing (413) as soon as it passes MAX_BODY_BYTES."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES,
                                            actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await request.content.read(16 * 1024)
        except (ClientPayloadError, RequestPayloadError) as exc:
            encoding = request.headers.get("Content-Encoding", "")
            raise InvalidRequest(f"the request body could not be read: {exc}"[:300],
                                 content_encoding=encoding[:40]) from exc
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=size)
        chunks.append(chunk)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when there is none), bounded and checked."""
    if not request.can_read_body:
        return {}
    raw = await read_body(request)
    if not raw.strip():
        return {}
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def reason_text(value: Any) -> str:
    """A break reason: 1 to MAX_REASON characters of plain text."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("a break needs a reason, e.g. {\"reason\": \"lunch\"}",
                             field="reason")
    return check_text(value.strip(), "reason", MAX_REASON)


def check_params(match_info: dict[str, str]) -> None:
    """Refuse a path parameter outside its charset or length (see PARAM_RULES)."""
    for key, value in match_info.items():
        pattern, what = PARAM_RULES.get(key, _DEFAULT_RULE)
        if not pattern.fullmatch(value):
            raise InvalidRequest(f"path parameter {key!r} must be {what}", field=key,
                                 length=len(value))


def _error(status: int, error_id: str, message: str, **details: Any) -> web.Response:
    return web.json_response({"error_id": error_id, "message": message, "details": details},
                             status=status)


_HTTP_IDS = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
             400: "invalid_request", 415: "unsupported_media_type"}


@web.middleware
async def http_errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: path parameters checked before any handler, and aiohttp's own
    HTTP errors (404 unknown route, 405 method...) in the API's JSON error shape."""
    try:
        try:
            check_params(dict(request.match_info))
        except InvalidRequest as exc:
            return _error(400, exc.error_id, exc.message, **exc.details)
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        details: dict[str, Any] = {"method": request.method}
        if isinstance(exc, web.HTTPMethodNotAllowed):
            details["allowed"] = sorted(exc.allowed_methods)
        message = {404: f"no such route: {request.method} {request.path[:200]}",
                   405: f"{request.method} is not allowed on {request.path[:200]}",
                   413: f"the request body is larger than {MAX_BODY_BYTES} bytes"}.get(
                       exc.status, exc.reason)
        resp = _error(exc.status, _HTTP_IDS.get(exc.status, "http_error"), message, **details)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            resp.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        return resp
