"""`${name}` interpolation in flow texts, and dotted paths into HTTP responses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

_REF = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"^(secret\.)?[A-Za-z_][A-Za-z0-9_]*$")
SECRET_PREFIX = "secret."


def refs(text: str) -> list[str]:
    """Names referred to in `text` ("secret.card" for a secret reference)."""
    return [m.group(1).strip() for m in _REF.finditer(text)]


def problem(text: str) -> str | None:
    """What is wrong with the `${...}` references in `text`, if anything."""
    for name in refs(text):
        if not _NAME.match(name):
            return f"'${{{name}}}' is not a variable reference like '${{order_number}}'"
    if "${" in _REF.sub("", text):
        return "'${' without a closing '}'"
    return None


def interpolate(
    text: str, env: Mapping[str, str], quote: Callable[[str], str] | None = None
) -> str:
    """Replace every `${name}` by its value ("" when unset); `quote` escapes each value."""

    def one(m: re.Match[str]) -> str:
        value = env.get(m.group(1).strip(), "")
        return quote(value) if quote else value

    return _REF.sub(one, text)


def secret_ref(text: str) -> str | None:
    """`"${secret.card}"` -> "card"; the whole value must be the reference."""
    m = _REF.fullmatch(text.strip())
    if m and m.group(1).strip().startswith(SECRET_PREFIX):
        return m.group(1).strip()[len(SECRET_PREFIX):]
    return None


def extract(body: object, path: str) -> str:
    """Follow `a.b.0.c` through dicts and lists; "" when the path is not there."""
    current: object = body
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit() and (
            -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return ""
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, str):
        return current
    if isinstance(current, int | float):
        return str(current)
    return json.dumps(current, separators=(",", ":"), sort_keys=True)


# Names every call has: interpolation sees the first four, `switch` sees them all.
CALL_NAMES = ("caller", "dialled", "language", "call_id")
TIME_NAMES = ("time", "hour", "minute", "weekday", "date", "day", "month", "year")
