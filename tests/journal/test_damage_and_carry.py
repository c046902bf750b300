"""Damage costs only the damaged record (item 2); `dropped` outlives the boot that dropped
buckets until a `state` carrying it was acknowledged (item 3)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from edge.journal import _HEADER, LOG_NAME, Journal


def payloads(journal: Journal) -> list[bytes]:
    return [e.payload for e in journal.pending()]


def crash(journal: Journal) -> None:
    """Leave the files as a kill -9 would (close() would compact)."""
    os.close(journal._fd)
    os.close(journal._lock_fd)


def written(folder: Path, n: int) -> tuple[bytes, list[bytes]]:
    j = Journal(folder, 1000)
    items = [b'{"bucket": %d, "pad": "%s"}' % (i, b"x" * (i % 7)) for i in range(n)]
    for item in items:
        j.append(item)
    crash(j)
    return (folder / LOG_NAME).read_bytes(), items


def record_span(data: bytes, index: int) -> tuple[int, int]:
    offset = 0
    for _ in range(index):
        length = _HEADER.unpack_from(data, offset)[3]
        offset += _HEADER.size + length
    return offset, offset + _HEADER.size + _HEADER.unpack_from(data, offset)[3]


def test_every_flipped_byte_of_a_middle_record_costs_only_that_record(tmp_path: Path) -> None:
    data, items = written(tmp_path / "original", 61)
    start, end = record_span(data, 30)
    for offset in range(start, end):
        for bit in (0, 7):
            folder = tmp_path / f"flip-{offset}-{bit}"
            folder.mkdir()
            damaged = bytearray(data)
            damaged[offset] ^= 1 << bit
            (folder / LOG_NAME).write_bytes(bytes(damaged))
            j = Journal(folder, 1000)
            assert payloads(j) == items[:30] + items[31:], f"flip at {offset - start}"
            j.close()


@pytest.mark.parametrize("seed", range(20))
def test_random_damage_anywhere_loses_only_the_records_it_touches(
    tmp_path: Path, seed: int
) -> None:
    data, items = written(tmp_path / "original", 61)
    rng = random.Random(seed)
    damaged = bytearray(data)
    hit = set()
    for _ in range(3):
        offset = rng.randrange(len(data))
        damaged[offset] ^= 1 << rng.randrange(8)
        hit |= {i for i in range(61) if record_span(data, i)[0] <= offset < record_span(data, i)[1]}
    (tmp_path / LOG_NAME).write_bytes(bytes(damaged))
    j = Journal(tmp_path, 1000)
    assert payloads(j) == [item for i, item in enumerate(items) if i not in hit]
    j.close()


def test_a_torn_write_in_the_middle_is_skipped(tmp_path: Path) -> None:
    data, items = written(tmp_path / "original", 10)
    start, end = record_span(data, 4)
    (tmp_path / LOG_NAME).write_bytes(data[: start + 9] + data[end:])  # half a record, then more
    j = Journal(tmp_path, 1000)
    assert payloads(j) == items[:4] + items[5:]
    j.close()


def test_dropped_is_carried_across_boots_until_reported(tmp_path: Path) -> None:
    j = Journal(tmp_path, 10)
    for i in range(13):
        j.append(b"b%d" % i)
    assert j.dropped == 3
    j.close()  # the boot ends before any state was published
    second = Journal(tmp_path, 10)
    assert second.dropped == 3
    second.append(b"more")  # one more drop in this boot
    assert second.dropped == 4
    crash(second)  # and this one is killed: the count must survive that too
    third = Journal(tmp_path, 10)
    assert third.dropped == 4
    third.reported(4)  # a state with dropped=4 was acknowledged
    assert third.dropped == 4  # this boot keeps saying so
    third.append(b"again")
    assert third.dropped == 5
    third.reported(5)
    third.close()
    fourth = Journal(tmp_path, 10)
    assert fourth.dropped == 0
    fourth.close()


def test_a_report_survives_compaction(tmp_path: Path) -> None:
    j = Journal(tmp_path, 10)
    for i in range(12):
        j.append(b"b%d" % i)
    j.reported(1)
    for entry in j.pending():
        j.ack(entry.id)
    j.close()
    again = Journal(tmp_path, 10)
    assert again.dropped == 1
    again.close()
