"""The aiohttp key under which the API finds acd's App (one place, no import cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from acd.app import App

APP_KEY: web.AppKey[App] = web.AppKey("acd", object)  # type: ignore[arg-type]
