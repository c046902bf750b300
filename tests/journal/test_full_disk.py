"""A full disk never stops counting or delivery (issue 12 item 1): a small tmpfs filled to
the last byte (or ENOSPC injected where mounting is not possible)."""

from __future__ import annotations

import logging
import os

import pytest

from edge.journal import Journal
from tests.journal.disk import FullDisk

PAD = b"." * 5000  # more than a page: a write needs a new block of the full disk


def payloads(journal: Journal) -> list[bytes]:
    return [e.payload.rstrip(b".") for e in journal.pending()]


def test_appends_and_acks_on_a_full_disk_never_raise(
    disk: FullDisk, caplog: pytest.LogCaptureFixture
) -> None:
    j = Journal(disk.path, 1000)
    first = [j.append(b"before-%d" % i) for i in range(3)]
    disk.fill()
    with caplog.at_level(logging.WARNING, logger="edge.journal"):
        held = [j.append(b"held-%d" % i + PAD) for i in range(300)]
        for entry_id in first + held[:200]:  # enough acks to ask for compaction
            assert j.ack(entry_id)
    assert payloads(j) == [b"held-%d" % i for i in range(200, 300)]
    assert caplog.text.count("cannot write") == 1, "said once, not per bucket"
    assert "free space there" in caplog.text
    disk.free()
    j.append(b"after")
    j.close()
    again = Journal(disk.path, 1000)
    assert payloads(again) == [b"held-%d" % i for i in range(200, 300)] + [b"after"]
    assert again.dropped == 0
    again.close()


def test_buckets_never_written_are_counted_as_dropped_for_the_next_boot(disk: FullDisk) -> None:
    j = Journal(disk.path, 1000)
    j.append(b"kept")
    disk.fill()
    for i in range(5):
        j.append(b"lost-%d" % i + PAD)
    j.close()  # still full: the count goes to the block reserved for it at open
    disk.free()
    again = Journal(disk.path, 1000)
    assert payloads(again) == [b"kept"]
    assert again.dropped == 5
    again.close()


def test_opens_on_a_full_disk_and_delivers_what_it_holds(disk: FullDisk) -> None:
    j = Journal(disk.path, 1000)
    ids = [j.append(b"bucket-%d" % i) for i in range(200)]
    for entry_id in ids[:150]:
        j.ack(entry_id)  # dead records, so the next open wants to compact
    j._compact = lambda force=False: None  # type: ignore[method-assign,misc]  # keep them on disk
    j.close()
    disk.fill()
    again = Journal(disk.path, 1000)  # compaction fails: must not raise
    assert payloads(again) == [b"bucket-%d" % i for i in range(150, 200)]
    for entry in again.pending():
        assert again.ack(entry.id)
    again.append(b"while-full" + PAD)
    assert payloads(again) == [b"while-full"]
    again.close()


def test_a_write_cut_short_by_a_full_disk_leaves_no_damaged_record(
    disk: FullDisk, caplog: pytest.LogCaptureFixture
) -> None:
    j = Journal(disk.path, 1000)
    j.append(b"first")
    disk.fill()
    j.append(b"second" + PAD)  # part of it may fit in the file's last block
    disk.free()
    j._fd, fd = -1, j._fd  # a kill -9 now: no compaction, files as they are
    os.close(fd)
    os.close(j._lock_fd)
    with caplog.at_level(logging.WARNING, logger="edge.journal"):
        again = Journal(disk.path, 1000)
    assert payloads(again) == [b"first"]
    assert "damaged" not in caplog.text
    again.close()
