"""Typed keys for what each request carries (the Gateway's own: sluicegate.gateway)."""

from __future__ import annotations

from aiohttp import web

REQUEST_ID = web.RequestKey("request_id", str)
