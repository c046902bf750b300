from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.journal.disk import FullDisk, full_disk


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    with full_disk(tmp_path, monkeypatch) as d:
        yield d
