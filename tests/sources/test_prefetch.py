"""The prefetching wrapper keeps order, ends, and passes failures through in place."""

import threading

import pytest

from edge.frames import SourceError
from edge.sources.prefetch import PrefetchSource
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
