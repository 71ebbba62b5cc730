"""Flow settings: deployment values (a service's base URL...) kept out of the nodes.

A flow declares them with their defaults and uses them as `${settings.name}`:

    settings:
      demo_url: http://127.0.0.1:8080/demo
    nodes:
      lookup: {type: http, url: "${settings.demo_url}/orders/${order_number}", ...}

They are replaced when the file is loaded, before it is validated, so a call
never sees the reference and a URL keeps its `://` (call variables in a URL are
escaped; settings are not: they are the operator's, not the caller's). A
deployment overrides a default with `ACD_FLOW_<NAME>` in the environment
(`ACD_FLOW_DEMO_URL=https://crm.internal/demo`) or `FlowRegistry(settings=...)`.
The values are part of the flow's version, so changing one reloads the flow.
A value may use another setting (`${settings.api_url}/demo`, one level deep);
acd always supplies `api_url`, the address of its own REST API (api.host, api.port).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from acd.ivr.problems import suggest

SETTINGS_ENV_PREFIX = "ACD_FLOW_"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_REF = re.compile(r"\$\{\s*settings\.([^}\s]*)\s*\}")

Path_ = tuple[str, ...]
# doc.error(path, message, suggestion, at_value=...)
Report = Callable[..., None]


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Flow settings from the environment: `ACD_FLOW_DEMO_URL=...` sets `demo_url`."""
    env = os.environ if env is None else env
    n = len(SETTINGS_ENV_PREFIX)
    return {
        k[n:].lower(): v for k, v in env.items() if k.startswith(SETTINGS_ENV_PREFIX) and k[n:]
    }


def flow_digest(text: str, resolved: Mapping[str, str]) -> str:
    """The version hash: the file's text, plus its settings' values when it has any."""
    data = text if not resolved else text + "\0" + json.dumps(dict(resolved), sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:12]


def apply_settings(data: Any, overrides: Mapping[str, str], report: Report) -> dict[str, str]:
    """Replace `${settings.x}` in every text under `nodes` of a parsed flow (in place).

    Returns the values used. Problems go to `report(path, message, suggestion,
    at_value=...)` with the path of the offending key or value.
    """
    if not isinstance(data, dict):
        return {}
    declared = data.get("settings")
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        report(("settings",), "'settings' must be a mapping of name -> default value",
               None, at_value=True)
        declared = {}
    resolved: dict[str, str] = {}
    for name, default in declared.items():
        key = str(name)
        if not _NAME.match(key):
            report(("settings", key),
                   f"setting name '{key}' must be lower-case letters, digits and '_'", None)
        elif isinstance(default, bool) or not isinstance(default, str | int | float):
            report(("settings", key), f"setting '{key}' must have a text or number default",
                   None, at_value=True)
        else:
            resolved[key] = str(overrides.get(key, default))
    _settings_in_settings(resolved, report)
    if "nodes" in data:
        data["nodes"] = _substitute(data["nodes"], ("nodes",), resolved, report)
    return resolved


def _settings_in_settings(resolved: dict[str, str], report: Report) -> None:
    # A setting's value may use another setting, one level deep:
    #   api_url: http://127.0.0.1:8080          (acd fills it from api.host/api.port)
    #   orders_url: ${settings.api_url}/demo/orders
    raw = dict(resolved)
    for key, value in raw.items():
        if "${" not in value:
            continue

        def one(m: re.Match[str], key: str = key) -> str:
            name = m.group(1)
            if name in raw and "${" not in raw[name]:
                return raw[name]
            report(("settings", key), f"setting '{key}' uses '${{settings.{name}}}', which is "
                   "not a declared setting with a plain value", suggest(name, raw),
                   at_value=True)
            return m.group(0)

        resolved[key] = _REF.sub(one, value)


def _substitute(value: Any, path: Path_, resolved: Mapping[str, str], report: Report) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in resolved:
                return resolved[name]
            report(path, f"'${{settings.{name}}}' is not declared under 'settings'",
                   suggest(name, resolved), at_value=True)
            return m.group(0)

        return _REF.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, str(k)), resolved, report) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, str(i)), resolved, report) for i, v in enumerate(value)]
    return value
