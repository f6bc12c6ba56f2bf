"""The ``sluicegate`` CLI in a child process, as a user runs it against a gateway."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from fakes.ledger_load import ADMIN_KEY

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]


class Cli:
    """The CLI in a child process, pointed at one gateway with its admin key."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def run(self, *args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *SLUICEGATE, *args, "--url", self.url, "--admin-key", ADMIN_KEY,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def ok(self, *args: str) -> str:
        code, out, err = await self.run(*args)
        assert code == 0, err
        return out

    async def limits(self, tenant: str) -> dict[str, Any]:
        answer = json.loads(await self.ok("tenant-limits", tenant, "--json"))
        limits: dict[str, Any] = answer["limits"]
        return limits
