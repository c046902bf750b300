"""Store-and-forward journal: closed count buckets the broker has not acknowledged yet.

One append-only file of framed records in one folder (the only place the sensor writes):

    magic "HJ" | kind (1 byte) | id (u64) | length (u32) | crc32 (u32) | payload

`kind` is ENTRY (a message to deliver), ACK (delivered), DROP (a bucket that was not kept:
evicted by a full journal, or never written because the disk was full), REPORTED (`id`
drops were published in `state`) or CARRY (`id` drops not yet published, written by
compaction). The crc covers kind, id, length and payload. On open, a record that fails
its crc (a torn write at the end, or a flipped byte anywhere) costs only itself: the scan
resynchronises at the next magic that starts a record with a good crc. Each record is
written with one `write` on an `O_APPEND` descriptor.

Fsync policy: an ENTRY is fsynced before `append` returns, so a bucket handed to the
journal survives kill -9 and power loss. ACK records are written but not fsynced: losing
one only means that bucket is sent again, which consumers dedupe by (`boot`, `seq`).
Compaction writes the live entries to a temporary file, fsyncs it, renames it over the
journal and fsyncs the folder, so it is atomic.

A full disk never stops the sensor: an entry that cannot be written is kept in memory
(still bounded by `max_messages`) and written when space returns; failed ACKs and
compactions are retried later. What could not be kept is counted in `dropped`, which is
carried across boots until a `state` carrying it was acknowledged (`reported`).

Bounded: beyond `max_messages` undelivered entries the oldest is dropped and counted.
One process at a time: the folder is locked while open. Why this format and not SQLite
(WAL): a quarter of the SD-card writes and no loss beyond a damaged record, measured by
benchmarks/journal_store.py (figures in broker_config/CONTRACT.md, Delivery).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOG_NAME = "journal.log"
TMP_NAME = "journal.log.tmp"
LOCK_NAME = "journal.lock"

MAGIC = b"HJ"
ENTRY, ACK, DROP, REPORTED, CARRY = 1, 2, 3, 4, 5
_KINDS = frozenset((ENTRY, ACK, DROP, REPORTED, CARRY))
_HEADER = struct.Struct(">2sBQII")
_CRC_PART = struct.Struct(">BQI")
MAX_PAYLOAD = 64 * 1024
_MIN_COMPACT_DEAD = 128
_RETRY_EVERY = 16  # after a failed write or compaction, try again every this many calls
_NO_ENTRY = 0  # ids start at 1, so a DROP with id 0 names no entry (a bucket never written)
# The lock file's first bytes hold the drops the log could not record (a full disk): the
# block is allocated at open, so overwriting it needs no free space.
_SLOT = struct.Struct(">2sQI")
_SLOT_MAGIC = b"HD"


class JournalError(Exception):
    """The journal folder cannot be used; the message says what to do (exit status 2)."""


@dataclass(frozen=True)
class Entry:
    """One undelivered message: its journal id (ascending in append order) and bytes."""

    id: int
    payload: bytes


def _record(kind: int, entry_id: int, payload: bytes = b"") -> bytes:
    crc = zlib.crc32(_CRC_PART.pack(kind, entry_id, len(payload)) + payload)
    return _HEADER.pack(MAGIC, kind, entry_id, len(payload), crc) + payload


def _records(data: bytes) -> Iterator[tuple[int, int, bytes] | int]:
    """Yield (kind, id, payload) per good record, or the count of bytes skipped as damaged."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, kind, entry_id, length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        good = magic == MAGIC and kind in _KINDS and length <= MAX_PAYLOAD and end <= len(data)
        payload = data[offset + _HEADER.size : end] if good else b""
        if good and zlib.crc32(_CRC_PART.pack(kind, entry_id, length) + payload) == crc:
            yield kind, entry_id, payload
            offset = end
            continue
        following = data.find(MAGIC, offset + 1)
        following = len(data) if following < 0 else following
        yield following - offset
        offset = following
    if offset < len(data):
        yield len(data) - offset


@dataclass
class Replay:
    """What a journal file holds: live entries by id, drops not yet published, damage."""

    live: dict[int, bytes] = field(default_factory=dict)
    unreported: int = 0
    records: int = 0
    top: int = 0
    damaged_bytes: int = 0
    damaged_spans: int = 0


def _scan(data: bytes) -> Replay:
    """Replay every good record of a journal file, skipping damaged ones."""
    replay = Replay()
    for item in _records(data):
        if isinstance(item, int):
            replay.damaged_bytes += item
            replay.damaged_spans += 1
            continue
        kind, entry_id, payload = item
        replay.records += 1
        if kind == ENTRY:
            replay.live[entry_id] = payload
        elif kind == ACK:
            replay.live.pop(entry_id, None)
        elif kind == DROP:
            replay.live.pop(entry_id, None)
            replay.unreported += 1
        elif kind == REPORTED:
            replay.unreported = max(0, replay.unreported - entry_id)
        else:
            replay.unreported = entry_id
        if kind in (ENTRY, ACK, DROP):
            replay.top = max(replay.top, entry_id)
    replay.live = dict(sorted(replay.live.items()))
    return replay


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_slot(fd: int) -> int:
    data = os.pread(fd, _SLOT.size, 0)
    if len(data) < _SLOT.size:
        return 0
    magic, count, crc = _SLOT.unpack(data)
    return int(count) if magic == _SLOT_MAGIC and zlib.crc32(data[2:10]) == crc else 0


def _write_slot(fd: int, count: int) -> bool:
    data = _SLOT.pack(_SLOT_MAGIC, count, zlib.crc32(struct.pack(">Q", count)))
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    except OSError:
        return False
    return True


def _unusable(directory: Path, error: OSError) -> JournalError:
    return JournalError(
        f"cannot use the journal folder {directory} ({error.strerror}); "
        "set [journal] dir to a folder this user may read and write"
    )


class Journal:
    """A bounded, crash-safe FIFO of undelivered messages; thread-safe.

    Raises `JournalError` (one sentence) when the folder cannot be used at all: a file or
    folder in the wrong place, no permission, a read-only file system, another process.
    A full disk is not such an error: the journal keeps working from memory.
    """

    def __init__(self, directory: str | os.PathLike[str], max_messages: int = 10_000) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        self._dir = Path(os.path.abspath(directory))  # the privacy guard checks absolute paths only
        self._max = max_messages
        self._lock = threading.Lock()
        self._lock_fd = self._take_folder()
        self._fd = -1
        self._unwritten: set[int] = set()  # live entries held only in memory (disk full)
        self._failing = False  # the last write failed: say it once, retry now and then
        self._calls_since_failure = 0
        try:
            replay = self._read()
            self._fd = self._open_log()
        except JournalError:
            os.close(self._lock_fd)
            raise
        self._live = replay.live
        self._records = replay.records
        self._next_id = replay.top + 1
        self._unlogged = _read_slot(self._lock_fd)  # drops counted but not in the log
        if os.fstat(self._lock_fd).st_size < _SLOT.size:
            _write_slot(self._lock_fd, 0)
        self._carried = replay.unreported + self._unlogged
        self._dropped_now = 0
        self._reported = 0
        self._compact(
            force=bool(replay.damaged_spans or self._unlogged)
            or self._records > len(self._live) + 1
        )

    # --- opening ------------------------------------------------------------------------

    def _take_folder(self) -> int:
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(self._dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise _unusable(self._dir, error) from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock_fd)
            raise JournalError(
                f"the journal folder {self._dir} is in use by another process; "
                "give each sensor its own [journal] dir"
            ) from None
        return lock_fd

    def _read(self) -> Replay:
        path = self._dir / LOG_NAME
        try:
            data = path.read_bytes() if path.exists() or path.is_symlink() else b""
        except IsADirectoryError:
            raise JournalError(
                f"{path} is a folder, where the journal keeps its file; "
                "remove it or set [journal] dir to another folder"
            ) from None
        except OSError as error:
            raise _unusable(self._dir, error) from None
        replay = _scan(data)
        if replay.damaged_spans:
            log.warning(
                "journal: skipped %d damaged bytes in %d place(s) of %s; every other "
                "record was kept (a bucket in a damaged record is lost)",
                replay.damaged_bytes,
                replay.damaged_spans,
                path,
            )
        return replay

    def _open_log(self) -> int:
        """Open the log for appending and check the folder takes new files (not read-only)."""
        try:
            fd = os.open(self._dir / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise _unusable(self._dir, error) from None
        try:
            probe = os.open(self._dir / TMP_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(probe)
            os.unlink(self._dir / TMP_NAME)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                os.close(fd)
                raise _unusable(self._dir, error) from None
        return fd

    # --- reading ------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def dropped(self) -> int:
        """Buckets not kept (journal full, or disk full) and not yet reported in `state`:
        those carried from earlier boots plus every one of this boot."""
        with self._lock:
            return self._carried + self._dropped_now

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def __contains__(self, entry_id: object) -> bool:
        """Whether the entry is still pending (not acknowledged, not dropped)."""
        with self._lock:
            return entry_id in self._live

    def pending(self) -> list[Entry]:
        """Undelivered entries, oldest first."""
        with self._lock:
            return [Entry(i, p) for i, p in self._live.items()]

    # --- writing ------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Keep a message (fsynced to disk when the disk allows) and return its id; evicts
        the oldest entry if the journal is full."""
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"journal payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            self._check_open()
            drops = self._evict()
            entry_id = self._next_id
            self._next_id += 1
            self._live[entry_id] = payload
            self._unwritten.add(entry_id)
            entries = [_record(ENTRY, i, self._live[i]) for i in sorted(self._unwritten)]
            if self._write(b"".join(drops + entries), sync=True):
                self._records += len(drops) + len(entries)
                self._unwritten.clear()
            else:
                self._unlogged += len(drops)
            self._compact()
            return entry_id

    def ack(self, entry_id: int) -> bool:
        """Mark an entry delivered; False if it was not pending (already acked or dropped)."""
        with self._lock:
            if self._fd < 0 or entry_id not in self._live:
                return False
            del self._live[entry_id]
            if entry_id in self._unwritten:
                self._unwritten.discard(entry_id)
            elif self._write(_record(ACK, entry_id), sync=False):
                self._records += 1
            self._compact()
            return True

    def reported(self, dropped: int) -> None:
        """A `state` carrying `dropped` (a value of `self.dropped`) was acknowledged: those
        drops need not be carried into the next boot."""
        with self._lock:
            if self._fd < 0 or dropped <= self._reported:
                return
            if self._write(_record(REPORTED, dropped - self._reported), sync=True):
                self._records += 1
                self._reported = dropped

    def close(self) -> None:
        """Compact, fsync and release the folder; idempotent. Entries that never reached
        the disk are lost here and counted for the next boot if the disk allows."""
        with self._lock:
            if self._fd < 0:
                return
            self._compact(force=bool(self._unwritten) or self._records > len(self._live) + 1)
            lost = len(self._unwritten)
            if lost:
                self._lose_unwritten()
                self._compact(force=True)  # keeps the count of lost buckets if it can
            if self._unlogged:
                _write_slot(self._lock_fd, self._unlogged)
                log.error(
                    "journal: %d buckets were never written to %s and are lost; "
                    "`dropped` in state counts them",
                    lost,
                    self._dir,
                )
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _lose_unwritten(self) -> None:
        for entry_id in sorted(self._unwritten):
            self._live.pop(entry_id, None)
            self._dropped_now += 1
            self._unlogged += 1
        self._unwritten.clear()

    def _evict(self) -> list[bytes]:
        out: list[bytes] = []
        while len(self._live) >= self._max:
            oldest = next(iter(self._live))
            del self._live[oldest]
            written = oldest not in self._unwritten
            self._unwritten.discard(oldest)
            out.append(_record(DROP, oldest if written else _NO_ENTRY))
            self._dropped_now += 1
            log.warning(
                "journal full (%d messages): dropped the oldest bucket (%d dropped so far)",
                self._max,
                self._carried + self._dropped_now,
            )
        return out

    def _check_open(self) -> None:
        if self._fd < 0:
            raise JournalError("the journal is closed")

    def _write(self, data: bytes, *, sync: bool) -> bool:
        """Append records; on failure say so once per episode and return False."""
        if self._failing and not self._due():
            return False
        size = -1
        try:
            size = os.fstat(self._fd).st_size
            _write_all(self._fd, data)
            if sync:
                os.fsync(self._fd)
        except OSError as error:
            if size >= 0:  # leave no torn record behind (shrinking needs no free space)
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
            self._failed(error, "write")
            return False
        if self._failing:
            self._failing = False
            log.warning("journal: writing to %s works again", self._dir)
        return True

    def _due(self) -> bool:
        self._calls_since_failure += 1
        return self._calls_since_failure % _RETRY_EVERY == 0

    def _failed(self, error: OSError, what: str) -> None:
        if not self._failing:
            log.error(
                "journal: cannot %s %s (%s); buckets stay in memory (at most %d) until it "
                "works again: free space there",
                what,
                self._dir,
                error.strerror,
                self._max,
            )
        self._failing = True
        self._calls_since_failure = 0

    def _compact(self, *, force: bool = False) -> None:
        """Rewrite the file with only live entries once dead records outnumber them."""
        dead = self._records - len(self._live)
        if not force and dead < max(_MIN_COMPACT_DEAD, len(self._live)):
            return
        if self._failing and not force and not self._due():
            return
        try:
            self._rewrite()
        except OSError as error:
            self._failed(error, "compact the journal in")
            return
        self._records = len(self._live) + 1
        self._unwritten.clear()
        if self._unlogged and _write_slot(self._lock_fd, 0):
            self._unlogged = 0

    def _rewrite(self) -> None:
        tmp = self._dir / TMP_NAME
        carry = _record(CARRY, self._carried + self._dropped_now - self._reported)
        data = carry + b"".join(_record(ENTRY, i, p) for i, p in self._live.items())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, self._dir / LOG_NAME)
        dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        new_fd = os.open(self._dir / LOG_NAME, os.O_WRONLY | os.O_APPEND)
        os.close(self._fd)
        self._fd = new_fd
