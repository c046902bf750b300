"""The prefetching wrapper keeps order, ends, and passes failures through in place."""

import threading

import pytest

from edge.frames import SourceError
from edge.sources.prefetch import PrefetchSource, ReaderError
from tests.fakes.core import ListSource


def read_all(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame.index)
    return frames


def test_frames_arrive_in_order_and_the_end_repeats():
    source = PrefetchSource(ListSource(50), depth=2)
    source.open()
    assert read_all(source) == list(range(50))
    assert source.read() is None
    source.close()


def test_a_transient_failure_arrives_in_place_and_reopening_continues():
    inner = ListSource(20, fail_at=7)
    source = PrefetchSource(inner)
    source.open()
    seen = [source.read().index for _ in range(7)]
    with pytest.raises(SourceError) as info:
        source.read()
    assert info.value.transient
    source.close()
    source.open()
    assert seen + read_all(source) == list(range(20))
    source.close()
    assert inner.opened == 2 and inner.closed == 2


def test_close_stops_the_reader_even_when_nobody_reads():
    source = PrefetchSource(ListSource(10_000), depth=1)
    source.open()
    source.read()
    source.close()
    assert not any(t.name == "frames" and t.is_alive() for t in threading.enumerate())


def test_reading_before_open_is_an_error():
    with pytest.raises(SourceError, match="not open"):
        PrefetchSource(ListSource(1)).read()


class Exploding:
    """A source whose read raises something other than SourceError at frame `at`."""

    def __init__(self, at: int) -> None:
        self.inner = ListSource(100)
        self.at = at

    def open(self):
        self.inner.open()

    def read(self):
        frame = self.inner.read()
        if frame is not None and frame.index == self.at:
            raise ValueError("bad\nstride")
        return frame

    def close(self):
        self.inner.close()


def test_any_other_error_in_the_reader_reaches_the_caller_as_reader_failed():
    source = PrefetchSource(Exploding(at=3))
    source.open()
    assert [source.read().index for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ReaderError, match=r"^the frame reader failed \(ValueError: bad stride\)$"):
        source.read()
    source.close()


class Hanging:
    """A source whose read never returns until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = False

    def open(self):
        pass

    def read(self):
        self.release.wait()
        return None

    def close(self):
        self.closed = True


def test_stop_ends_a_wait_on_a_hung_reader_and_its_source_is_left_alone():
    stop = threading.Event()
    inner = Hanging()
    source = PrefetchSource(inner, stop=stop, poll_seconds=0.01)
    source.open()
    threading.Timer(0.05, stop.set).start()
    assert source.read() is None  # would wait forever without `stop`
    inner.release.set()
    source.close()
    assert inner.closed  # the reader stopped once released, so the source was closed
