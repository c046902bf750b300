"""Where counts go: the Sink boundary, and the stdout sink (one JSON object a line)."""

from __future__ import annotations

import sys
from typing import Protocol, TextIO, runtime_checkable

from edge.messages import Bucket, Snapshot


@runtime_checkable
class Sink(Protocol):
    """Receives every published message; a sink must not lose a closed bucket."""

    def publish_snapshot(self, snapshot: Snapshot) -> None: ...

    def publish_bucket(self, bucket: Bucket) -> None: ...

    def close(self) -> None:
        """Flush and release; called once at a clean exit, after the last bucket."""
        ...


class StdoutSink:
    """Writes snapshots (and, if asked, buckets) as JSON lines to a text stream."""

    def __init__(self, stream: TextIO | None = None, *, buckets: bool = False) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._buckets = buckets

    def publish_snapshot(self, snapshot: Snapshot) -> None:
        self._stream.write(snapshot.to_json() + "\n")
        self._stream.flush()

    def publish_bucket(self, bucket: Bucket) -> None:
        if self._buckets:
            self._stream.write(bucket.to_json() + "\n")
            self._stream.flush()

    def close(self) -> None:
        self._stream.flush()
