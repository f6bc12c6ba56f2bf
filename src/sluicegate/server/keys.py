"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from aiohttp import web

from sluicegate.gateway import Gateway
from sluicegate.group.member import Member

GATEWAY = web.AppKey("gateway", Gateway)
GROUP = web.AppKey("group", Member)  # only in a worker of `serve --workers N` (N > 1)
REQUEST_ID = web.RequestKey("request_id", str)
