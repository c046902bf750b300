"""Decode the next frames while the detector works on this one.

A video file or stream is decoded by the CPU; LiteRT releases the GIL while it runs,
so a reader thread that keeps a couple of frames ready lets decoding overlap inference
on a multi-core board. Frames stay in memory, in order, at most `depth` of them.
"""

from __future__ import annotations

import logging
import queue
import threading

from edge.frames import Frame, FrameSource, SourceError

log = logging.getLogger(__name__)

_END = object()
_MAX_SHOWN = 200


class ReaderError(RuntimeError):
    """The reader thread stopped with an error other than SourceError: a bug or a broken
    library, not a source the pipeline can re-open. The run must end (exit status 1), so
    that systemd restarts it; the message is one sentence naming the error."""


class PrefetchSource:
    """Wraps a FrameSource; `read()` returns what the inner source returned, in order.

    A SourceError raised by the inner source reaches the caller at the same place in
    the sequence, so a transient failure is re-opened by the pipeline as usual; any
    other exception in the reader reaches it as `ReaderError`. While waiting for a
    frame, `read()` returns None (the end) as soon as `stop` is set, so SIGTERM ends a
    run whose reader hangs.
    """

    def __init__(
        self,
        inner: FrameSource,
        depth: int = 2,
        *,
        stop: threading.Event | None = None,
        poll_seconds: float = 0.25,
    ) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be at least 1, got {depth}")
        self.inner = inner
        self.depth = depth
        self._cancel = stop if stop is not None else threading.Event()
        self._poll = poll_seconds
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
        try:
            self._produce()
        except BaseException as error:  # every failure must reach read()
            log.debug("the frame reader failed", exc_info=True)
            self._put(ReaderError(_sentence(error)))

    def _produce(self) -> None:
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
        item = self._next_item()
        if item is None or item is _END:
            if item is _END:
                self._queue.put(_END)  # later reads keep answering "the end"
            return None
        if isinstance(item, SourceError | ReaderError):
            raise item
        assert isinstance(item, Frame)
        return item

    def _next_item(self) -> object:
        """The reader's next item, or None once `stop` is set while waiting for it."""
        thread = self._thread
        if thread is None:
            raise SourceError("the source is not open")
        while not self._cancel.is_set():
            try:
                return self._queue.get(timeout=self._poll)
            except queue.Empty:
                if not thread.is_alive() and self._queue.empty():
                    raise ReaderError("the frame reader stopped without a word") from None
        return None

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
            if thread.is_alive():
                # Releasing a capture under a read in progress can crash native code.
                log.warning("the frame reader does not stop; leaving its source open")
                return
        self.inner.close()


def _sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    detail = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"the frame reader failed ({detail})"
