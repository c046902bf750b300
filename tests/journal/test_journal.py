"""The store-and-forward journal: order, acks, bounds, torn records, kill -9, one process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.journal import LOG_NAME, Journal, JournalError


def payloads(journal: Journal) -> list[bytes]:
    return [e.payload for e in journal.pending()]


def test_pending_in_append_order_and_ack_removes(tmp_path: Path) -> None:
    j = Journal(tmp_path, 100)
    ids = [j.append(f"m{i}".encode()) for i in range(5)]
    assert ids == sorted(ids)
    assert j.ack(ids[1]) is True
    assert j.ack(ids[1]) is False
    assert payloads(j) == [b"m0", b"m2", b"m3", b"m4"]
    j.close()


def test_survives_reopen(tmp_path: Path) -> None:
    j = Journal(tmp_path, 100)
    ids = [j.append(f"m{i}".encode()) for i in range(4)]
    j.ack(ids[0])
    j.close()
    again = Journal(tmp_path, 100)
    assert payloads(again) == [b"m1", b"m2", b"m3"]
    new = again.append(b"m4")
    assert new > ids[-1] or new not in ids[1:]
    assert payloads(again) == [b"m1", b"m2", b"m3", b"m4"]
    again.close()


def test_full_journal_drops_oldest_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    j = Journal(tmp_path, 3)
    with caplog.at_level(logging.WARNING, logger="edge.journal"):
        for i in range(5):
            j.append(f"m{i}".encode())
    assert payloads(j) == [b"m2", b"m3", b"m4"]
    assert j.dropped == 2
    assert "dropped the oldest" in caplog.text
    j.close()
    assert payloads(Journal(tmp_path, 3)) == [b"m2", b"m3", b"m4"]


@pytest.mark.parametrize("cut", [1, 5, 19, 20, 24])
def test_torn_last_record_is_skipped(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    j = Journal(tmp_path, 100)
    for i in range(3):
        j.append(f"message-{i}".encode())
    # Keep the journal file as the crash left it: no close (close would compact).
    path = tmp_path / LOG_NAME
    size = path.stat().st_size
    os.truncate(path, size - cut)
    os.close(j._fd)
    os.close(j._lock_fd)
    with caplog.at_level(logging.WARNING, logger="edge.journal"):
        again = Journal(tmp_path, 100)
    assert payloads(again) == [b"message-0", b"message-1"]
    assert "damaged bytes" in caplog.text
    again.append(b"message-3")
    again.close()
    assert payloads(Journal(tmp_path, 100)) == [b"message-0", b"message-1", b"message-3"]


def test_corrupt_last_record_is_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path, 100)
    j.append(b"good")
    j.append(b"bad!")
    path = tmp_path / LOG_NAME
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.close(j._fd)
    os.close(j._lock_fd)
    assert payloads(Journal(tmp_path, 100)) == [b"good"]


def test_garbage_after_records_is_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path, 100)
    j.append(b"good")
    with open(tmp_path / LOG_NAME, "ab") as f:
        f.write(b"\x00\x17garbage")
    os.close(j._fd)
    os.close(j._lock_fd)
    assert payloads(Journal(tmp_path, 100)) == [b"good"]


def test_one_process_at_a_time(tmp_path: Path) -> None:
    j = Journal(tmp_path, 10)
    with pytest.raises(JournalError, match="in use by another process"):
        Journal(tmp_path, 10)
    j.close()
    Journal(tmp_path, 10).close()


def test_unusable_folder_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(JournalError) as info:
        Journal(blocker / "journal", 10)
    message = str(info.value)
    assert "set [journal] dir" in message
    assert "\n" not in message


def test_compaction_bounds_the_file_and_writes_only_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "j"
    j = Journal(folder, 50)
    for i in range(2000):
        j.ack(j.append(f"bucket {i:05d} ".encode() * 4))
    j.append(b"last")
    assert (folder / LOG_NAME).stat().st_size < 200 * 64
    j.close()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["j", "journal.lock", "journal.log"]
    assert payloads(Journal(folder, 50)) == [b"last"]


def test_oversized_payload_is_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path, 10)
    with pytest.raises(ValueError, match="exceeds"):
        j.append(b"x" * (64 * 1024 + 1))
    j.close()


_WRITER = """
import sys
from edge.journal import Journal
j = Journal(sys.argv[1], 1_000_000)
i = 0
while True:
    j.append(b"bucket-%08d" % i + b"." * (i % 97))
    if i % 3 == 0:
        j.ack(j.pending()[0].id)
    print(i, flush=True)
    i += 1
"""


def test_kill_9_loses_no_acknowledged_append(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = -1
    for line in proc.stdout:
        seen = int(line)
        if seen >= 300:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    j = Journal(tmp_path, 1_000_000)
    got = payloads(j)
    numbers = [int(p[7:15]) for p in got]
    for p, n in zip(got, numbers, strict=True):
        assert p == b"bucket-%08d" % n + b"." * (n % 97), "a record came back corrupted"
    # The writer is deterministic, so the journal must equal its state after some step
    # at or beyond the last one it reported (or between that step's append and ack).
    last = max(numbers, default=-1)
    assert last >= seen, "an append that returned before the kill was lost"
    pending: list[int] = []
    states: list[list[int]] = []
    for i in range(last + 1):
        pending.append(i)
        states.append(list(pending))
        if i % 3 == 0:
            pending.pop(0)
            states.append(list(pending))
    assert numbers in states[-3:]
    j.close()


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.binary(max_size=40)),
        st.tuples(st.just("ack"), st.integers(0, 30)),
        st.tuples(st.just("reopen"), st.just(b"")),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_matches_a_bounded_fifo_model(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, object]]
) -> None:
    folder = tmp_path_factory.mktemp("j")
    limit = 5
    j = Journal(folder, limit)
    model: list[tuple[int, bytes]] = []
    dropped = 0
    for op, arg in steps:
        if op == "append":
            assert isinstance(arg, bytes)
            if len(model) >= limit:
                model.pop(0)
                dropped += 1
            model.append((j.append(arg), arg))
        elif op == "ack":
            assert isinstance(arg, int)
            if model:
                entry_id, _ = model.pop(arg % len(model))
                assert j.ack(entry_id)
        else:
            j.close()
            j = Journal(folder, limit)  # dropped is carried: nothing reported it
        assert [(e.id, e.payload) for e in j.pending()] == model
        assert j.dropped == dropped
    j.close()
