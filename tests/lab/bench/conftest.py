"""The benchmark's peers are the `bench` extra: without them these tests fail, never skip."""

from __future__ import annotations

import pytest

from lab.bench.peers import PeersMissingError, require_peers


@pytest.fixture(scope="session")
def peers() -> dict[str, str]:
    """Versions of supervision, trackers and norfair; fails naming the install command."""
    try:
        return require_peers()
    except PeersMissingError as error:
        pytest.fail(f"{error} (the benchmark tests need them)", pytrace=False)
