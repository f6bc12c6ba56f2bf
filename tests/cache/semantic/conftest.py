"""One embedding model for the whole session: building it takes about a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sluicegate.cache.semantic import LocalEmbedder


@pytest.fixture(scope="session")
def embedder() -> Iterator[LocalEmbedder]:
    local = LocalEmbedder()
    yield local
    local.close()
