"""The journal pump against the interleaving a busy machine produces: the broker's PUBACK for
a bucket arrives (on paho's thread) while the pump walks a snapshot of the journal."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from edge.journal import Entry, Journal
from edge.mqtt.pump import JournalPump
from edge.mqtt.throttle import ThrottledLog
from tests.mqtt.test_sink import bucket

ACCEPTED = ReasonCode(PacketTypes.PUBACK, identifier=0)


class Link:
    """A ready connection: every publish is queued; acks come only when the test says."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.acks: list[Callable[[ReasonCode], None]] = []

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        yield

    def publish(
        self, topic: str, payload: bytes, *, retain: bool, on_ack: Callable[[ReasonCode], None]
    ) -> bool:
        self.sent.append(payload)
        self.acks.append(on_ack)
        return True


class AckedAfterSnapshot(Journal):
    """A journal whose `pending()` lets `hook` run just after taking its snapshot, as paho's
    thread may between the pump's snapshot and its walk over it."""

    hook: Callable[[], None] = staticmethod(lambda: None)

    def pending(self) -> list[Entry]:
        entries = super().pending()
        self.hook()
        return entries


def test_an_ack_during_the_walk_does_not_send_that_bucket_again(tmp_path: Path) -> None:
    journal = AckedAfterSnapshot(tmp_path / "journal")
    link = Link()
    pump = JournalPump(journal, "counts", link, ThrottledLog(logging.getLogger("test")))  # type: ignore[arg-type]
    for seq in (1, 2, 3):
        journal.append(bucket("b1", seq).model_dump_json(by_alias=True).encode())
    pump.pump()
    assert len(link.sent) == 3  # all in flight, none answered yet

    journal.append(bucket("b1", 4).model_dump_json(by_alias=True).encode())
    journal.hook = lambda: link.acks[1](ACCEPTED)  # bucket 2's PUBACK, mid-walk
    pump.pump()
    assert len(link.sent) == 4, "bucket 2 was acknowledged, yet sent again"
    assert [e.id for e in journal.pending()] == [1, 3, 4]
    assert pump.unacknowledged == 3
    journal.close()
