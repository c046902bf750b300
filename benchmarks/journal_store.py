"""Measure the journal's store: the hand-made log (edge.journal) against SQLite in WAL mode.

Run as root (it loop-mounts a small ext4 image so the device's own write counter is read):

    sudo .venv/bin/python benchmarks/journal_store.py

Figures: bytes the block device wrote per bucket (append + fsync, then ack), for the
connected case (every bucket acked at once) and an outage (appends only); and what a
reopen recovers after the file is cut at a random point, after one flipped bit at a random
offset, and (SQLite) after one flipped bit in its WAL before a checkpoint (100 trials each).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.journal import Journal

BUCKET = json.dumps(
    {
        "v": 1,
        "site": "hq",
        "sensor": "door-1",
        "boot": "5f0c1a2b",
        "seq": 1235,
        "start": "2026-11-28T15:00:00Z",
        "end": "2026-11-28T15:01:00Z",
        "lines": {"entrance": {"in": 4, "out": 2}},
        "zones": {"lobby": {"mean": 2.4, "max": 5}},
    },
    separators=(",", ":"),
).encode()


class SqliteStore:
    """The alternative: one table, WAL, fsync on insert (synchronous FULL)."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(folder / "journal.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA wal_autocheckpoint=1000")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS entry (id INTEGER PRIMARY KEY, crc INTEGER, payload BLOB)"
        )

    def append(self, payload: bytes) -> int:
        cur = self.db.execute(
            "INSERT INTO entry (crc, payload) VALUES (?, ?)", (zlib.crc32(payload), payload)
        )
        return int(cur.lastrowid or 0)

    def ack(self, entry_id: int) -> None:
        self.db.execute("DELETE FROM entry WHERE id = ?", (entry_id,))

    def pending(self) -> list[bytes]:
        rows = self.db.execute("SELECT crc, payload FROM entry ORDER BY id").fetchall()
        return [p for c, p in rows if zlib.crc32(p) == c]

    def close(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


def sectors_written(device: str) -> int:
    return int(Path(f"/sys/block/{device}/stat").read_text().split()[6])


def device_bytes(mount: Path, device: str, run: Callable[[Path], None]) -> int:
    folder = Path(tempfile.mkdtemp(dir=mount))
    subprocess.run(["sync"], check=True)
    before = sectors_written(device)
    run(folder)
    subprocess.run(["sync"], check=True)
    return (sectors_written(device) - before) * 512


def log_connected(folder: Path, n: int) -> None:
    j = Journal(folder, 10_000)
    for _ in range(n):
        j.ack(j.append(BUCKET))
    j.close()


def log_outage(folder: Path, n: int) -> None:
    j = Journal(folder, 10_000)
    for _ in range(n):
        j.append(BUCKET)
    j.close()


def sqlite_connected(folder: Path, n: int) -> None:
    s = SqliteStore(folder)
    for _ in range(n):
        s.ack(s.append(BUCKET))
    s.close()


def sqlite_outage(folder: Path, n: int) -> None:
    s = SqliteStore(folder)
    for _ in range(n):
        s.append(BUCKET)
    s.close()


def write_cost(n: int = 500) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        image, mount = Path(tmp) / "sd.img", Path(tmp) / "mnt"
        mount.mkdir()
        subprocess.run(["truncate", "-s", "256M", str(image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
        loop = subprocess.run(
            ["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True
        ).stdout.strip()
        subprocess.run(["mount", loop, str(mount)], check=True)
        try:
            device = Path(loop).name
            out = {}
            for name, run in [
                ("log, connected", log_connected),
                ("sqlite, connected", sqlite_connected),
                ("log, outage", log_outage),
                ("sqlite, outage", sqlite_outage),
            ]:
                out[name] = device_bytes(mount, device, lambda f, r=run: r(f, n)) / n
            return out
        finally:
            subprocess.run(["umount", str(mount)], check=True)
            subprocess.run(["losetup", "-d", loop], check=True)


def fill(make: str, folder: Path, n: int) -> Path:
    if make == "log":
        j = Journal(folder, 10_000)
        for i in range(n):
            j.append(BUCKET.replace(b"1235", b"%d" % (1000 + i)))
        j.close()
        return folder / "journal.log"
    s = SqliteStore(folder)
    for i in range(n):
        s.append(BUCKET.replace(b"1235", b"%d" % (1000 + i)))
    s.close()
    return folder / "journal.db"


def recovered(make: str, folder: Path) -> int:
    """Valid buckets a reopen returns (0 when the store cannot be opened at all)."""
    try:
        if make == "log":
            j = Journal(folder, 10_000)
            got = [e.payload for e in j.pending()]
            j.close()
        else:
            s = SqliteStore(folder)
            got = s.pending()
            s.close()
    except Exception:  # a store that cannot open recovers nothing
        return 0
    good = 0
    for p in got:
        try:
            json.loads(p)
            good += 1
        except ValueError:
            pass
    return good


def wal_flip(rng: random.Random, n: int) -> int:
    """SQLite before a checkpoint (buckets still in the WAL, as during an outage shorter
    than 1000 pages): one flipped bit in the WAL; valid buckets a reopen returns."""
    with tempfile.TemporaryDirectory() as tmp:
        live, copy = Path(tmp) / "live", Path(tmp) / "copy"
        live.mkdir()
        copy.mkdir()
        s = SqliteStore(live)
        for i in range(n):
            s.append(BUCKET.replace(b"1235", b"%d" % (1000 + i)))
        for name in ("journal.db", "journal.db-wal"):
            (copy / name).write_bytes((live / name).read_bytes())  # as a crash leaves them
        s.db.close()
        wal = bytearray((copy / "journal.db-wal").read_bytes())
        wal[rng.randrange(32, len(wal))] ^= 1 << rng.randrange(8)
        (copy / "journal.db-wal").write_bytes(bytes(wal))
        return recovered("sqlite", copy)


def damage(trials: int = 100, n: int = 100) -> dict[str, tuple[float, int]]:
    """(mean buckets recovered of n, trials that lost more than one) per store and damage."""
    rng = random.Random(1)
    out: dict[str, tuple[float, int]] = {}
    for make in ("log", "sqlite"):
        for kind in ("cut", "flip"):
            kept: list[int] = []
            for _ in range(trials):
                with tempfile.TemporaryDirectory() as tmp:
                    path = fill(make, Path(tmp), n)
                    data = bytearray(path.read_bytes())
                    if kind == "cut":
                        data = data[: rng.randrange(len(data))]
                    else:
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                    path.write_bytes(bytes(data))
                    kept.append(recovered(make, Path(tmp)))
            lost_more = sum(1 for k in kept if k < n - 1) if kind == "flip" else -1
            out[f"{make}, {kind}"] = (sum(kept) / trials, lost_more)
    kept = [wal_flip(rng, n) for _ in range(trials)]
    out["sqlite, flip in the WAL"] = (sum(kept) / trials, sum(1 for k in kept if k < n - 1))
    return out


def main() -> None:
    logging.disable(logging.WARNING)
    sys.stdout.write(f"bucket payload: {len(BUCKET)} bytes; sqlite {sqlite3.sqlite_version}" + "\n")
    if os.geteuid() == 0:
        for name, value in write_cost().items():
            sys.stdout.write(f"device bytes per bucket, {name}: {value:,.0f}" + "\n")
    for name, (mean, worse) in damage().items():
        extra = f"; trials losing more than the damaged bucket: {worse}" if worse >= 0 else ""
        sys.stdout.write(f"recovered of 100 after {name}: mean {mean:.1f}{extra}" + "\n")


if __name__ == "__main__":
    main()
