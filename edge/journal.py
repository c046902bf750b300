"""Store-and-forward journal: closed count buckets the broker has not acknowledged yet.

One append-only file of framed records in one folder (the only place the sensor writes):

    magic "HJ" | kind (1 byte) | id (u64) | length (u32) | crc32 (u32) | payload

`kind` is ENTRY (a message to deliver), ACK (delivered) or DROP (evicted because the
journal was full). The crc covers kind, id, length and payload, so a record cut short by a
crash or power loss is detected on open and it and anything after it are discarded (the
log says how many bytes); every record before it is intact because each record is written
with one `write` on an `O_APPEND` descriptor.

Fsync policy: an ENTRY is fsynced before `append` returns, so a bucket handed to the
journal survives kill -9 and power loss. ACK and DROP records are written but not
fsynced: losing one to a power cut only means that bucket is sent again, which consumers
dedupe by (`boot`, `seq`). Compaction writes the live entries to a temporary file, fsyncs
it, renames it over the journal and fsyncs the folder, so it is atomic.

Bounded: beyond `max_messages` undelivered entries the oldest is dropped and counted in
`dropped`. One process at a time: the folder is locked while open.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOG_NAME = "journal.log"
TMP_NAME = "journal.log.tmp"
LOCK_NAME = "journal.lock"

MAGIC = b"HJ"
ENTRY, ACK, DROP = 1, 2, 3
_HEADER = struct.Struct(">2sBQII")
_CRC_PART = struct.Struct(">BQI")
MAX_PAYLOAD = 64 * 1024
_MIN_COMPACT_DEAD = 128


class JournalError(Exception):
    """The journal folder cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Entry:
    """One undelivered message: its journal id (ascending in append order) and bytes."""

    id: int
    payload: bytes


def _record(kind: int, entry_id: int, payload: bytes = b"") -> bytes:
    crc = zlib.crc32(_CRC_PART.pack(kind, entry_id, len(payload)) + payload)
    return _HEADER.pack(MAGIC, kind, entry_id, len(payload), crc) + payload


def _scan(data: bytes) -> tuple[OrderedDict[int, bytes], int, int, int]:
    """Replay records: (live entries in order, records read, largest id, good length)."""
    live: OrderedDict[int, bytes] = OrderedDict()
    offset = records = top = 0
    while offset + _HEADER.size <= len(data):
        magic, kind, entry_id, length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if magic != MAGIC or kind not in (ENTRY, ACK, DROP) or length > MAX_PAYLOAD:
            break
        if end > len(data):
            break
        payload = data[offset + _HEADER.size : end]
        if zlib.crc32(_CRC_PART.pack(kind, entry_id, length) + payload) != crc:
            break
        if kind == ENTRY:
            live[entry_id] = payload
        else:
            live.pop(entry_id, None)
        top = max(top, entry_id)
        records += 1
        offset = end
    return live, records, top, offset


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """A bounded, crash-safe FIFO of undelivered messages; thread-safe."""

    def __init__(self, directory: str | os.PathLike[str], max_messages: int = 10_000) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages}")
        self._dir = Path(os.path.abspath(directory))  # the privacy guard checks absolute paths only
        self._max = max_messages
        self._lock = threading.Lock()
        self._dropped = 0
        self._lock_fd = -1
        self._fd = -1
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self._dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise JournalError(
                f"cannot use the journal folder {self._dir} ({error.strerror}); "
                "set [journal] dir to a folder this user may write"
            ) from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise JournalError(
                f"the journal folder {self._dir} is in use by another process; "
                "give each sensor its own [journal] dir"
            ) from None
        path = self._dir / LOG_NAME
        data = path.read_bytes() if path.exists() else b""
        self._live, self._records, self._next_id, good = _scan(data)
        self._next_id += 1
        if good < len(data):
            log.warning(
                "journal: discarded %d bytes of a torn or corrupt record at the end of %s",
                len(data) - good,
                path,
            )
        self._compact(force=good < len(data) or self._records > len(self._live))

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def dropped(self) -> int:
        """Entries evicted by a full journal since this journal was opened."""
        return self._dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def pending(self) -> list[Entry]:
        """Undelivered entries, oldest first."""
        with self._lock:
            return [Entry(i, p) for i, p in self._live.items()]

    def append(self, payload: bytes) -> int:
        """Store a message durably (fsynced) and return its id; evicts the oldest if full."""
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(f"journal payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            self._check_open()
            out = b""
            while len(self._live) >= self._max:
                oldest, _ = self._live.popitem(last=False)
                out += _record(DROP, oldest)
                self._records += 1
                self._dropped += 1
                log.warning(
                    "journal full (%d messages): dropped the oldest bucket (%d dropped so far)",
                    self._max,
                    self._dropped,
                )
            entry_id = self._next_id
            self._next_id += 1
            out += _record(ENTRY, entry_id, payload)
            try:
                _write_all(self._fd, out)
                os.fsync(self._fd)
            except OSError as error:
                raise JournalError(
                    f"cannot write the journal in {self._dir} ({error.strerror}); "
                    "free space there or point [journal] dir elsewhere"
                ) from None
            self._live[entry_id] = payload
            self._records += 1
            self._compact()
            return entry_id

    def ack(self, entry_id: int) -> bool:
        """Mark an entry delivered; False if it was not pending (already acked or dropped)."""
        with self._lock:
            if self._fd < 0 or entry_id not in self._live:
                return False
            del self._live[entry_id]
            try:
                _write_all(self._fd, _record(ACK, entry_id))
            except OSError as error:
                log.warning("journal: could not record a delivery (%s)", error.strerror)
            self._records += 1
            self._compact()
            return True

    def close(self) -> None:
        """Compact, fsync and release the folder; idempotent."""
        with self._lock:
            if self._fd < 0:
                return
            self._compact(force=self._records > len(self._live))
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _check_open(self) -> None:
        if self._fd < 0:
            raise JournalError("the journal is closed")

    def _compact(self, *, force: bool = False) -> None:
        """Rewrite the file with only live entries once dead records outnumber them."""
        dead = self._records - len(self._live)
        if not force and self._fd >= 0 and dead < max(_MIN_COMPACT_DEAD, len(self._live)):
            return
        tmp = self._dir / TMP_NAME
        data = b"".join(_record(ENTRY, i, p) for i, p in self._live.items())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._dir / LOG_NAME)
        dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self._dir / LOG_NAME, os.O_WRONLY | os.O_APPEND)
        self._records = len(self._live)
