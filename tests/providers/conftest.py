"""Fixtures for the provider tests (plain helpers live in ``fakes.calls``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sluicegate.providers.http import HttpClient


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """The shared HTTP client the providers call upstreams with."""
    client = HttpClient.create()
    yield client
    await client.close()
