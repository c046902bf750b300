"""Decode the next frames while the detector works on this one.

A video file or stream is decoded by the CPU; LiteRT releases the GIL while it runs,
so a reader thread that keeps a couple of frames ready lets decoding overlap inference
on a multi-core board. Frames stay in memory, in order, at most `depth` of them.
"""

from __future__ import annotations

import queue
import threading

from edge.frames import Frame, FrameSource, SourceError

_END = object()


class PrefetchSource:
    """Wraps a FrameSource; `read()` returns what the inner source returned, in order.

    A SourceError raised by the inner source reaches the caller at the same place in
    the sequence, so a transient failure is re-opened by the pipeline as usual.
    """

    def __init__(self, inner: FrameSource, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, got {depth}")
        self.inner = inner
        self.depth = depth
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> None:
        self.inner.open()
        self._stop.clear()
        self._queue = queue.Queue(self.depth)
        self._thread = threading.Thread(target=self._run, name="frames", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.inner.read()
            except SourceError as error:
                self._put(error)
                return
            if frame is None:
                self._put(_END)
                return
            if not self._put(frame):
                return

    def read(self) -> Frame | None:
        if self._thread is None:
            raise SourceError("the source is not open")
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)  # later reads keep answering "the end"
            return None
        if isinstance(item, SourceError):
            raise item
        assert isinstance(item, Frame)
        return item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.inner.close()
