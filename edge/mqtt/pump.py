"""The journal pump: sends journaled buckets in order, acks them in the journal on PUBACK.

The journal, not paho's memory, is the queue: a bucket leaves the journal only when the
broker acknowledged it. Each new link starts over from the oldest unacknowledged bucket.
"""

from __future__ import annotations

import functools
import logging
import threading

from paho.mqtt.reasoncodes import ReasonCode
from pydantic import ValidationError

from edge.journal import Journal
from edge.messages import Bucket
from edge.mqtt.connection import Connection
from edge.mqtt.throttle import ThrottledLog

log = logging.getLogger(__name__)


class JournalPump:
    """Moves buckets from the journal to the broker; thread-safe."""

    def __init__(
        self, journal: Journal, topic: str, connection: Connection, refusals: ThrottledLog
    ) -> None:
        self._journal = journal
        self._topic = topic
        self._connection = connection
        self._refusals = refusals
        self._lock = threading.Lock()
        self._sent: set[int] = set()  # ids sent on the current link and not yet answered

    def restart(self) -> None:
        """A new link: everything unacknowledged is sent again, oldest first."""
        with self._lock:
            self._sent.clear()

    @property
    def unacknowledged(self) -> int:
        """Buckets sent on this link that the broker has not accepted."""
        with self._lock:
            return len(self._sent)

    def pump(self) -> None:
        """Send every journal entry not yet sent on this link, oldest first."""
        with self._connection.sending():
            for entry in self._journal.pending():
                with self._lock:
                    # acknowledged since the snapshot (paho's thread): sent and accepted
                    if entry.id in self._sent or entry.id not in self._journal:
                        continue
                    self._sent.add(entry.id)
                if not self._valid(entry.id, entry.payload):
                    continue
                sent = self._connection.publish(
                    self._topic,
                    entry.payload,
                    retain=False,
                    on_ack=functools.partial(self._answered, entry.id),
                )
                if not sent:
                    with self._lock:
                        self._sent.discard(entry.id)
                    return

    def _valid(self, entry_id: int, payload: bytes) -> bool:
        try:
            Bucket.model_validate_json(payload)
        except ValidationError:
            log.warning("journal: discarded an entry that is not a counts bucket")
            self._journal.ack(entry_id)
            return False
        return True

    def _answered(self, entry_id: int, reason: ReasonCode) -> None:
        if reason.is_failure:
            # The broker answered but did not accept (MQTT 5, e.g. "Not authorized"): the
            # bucket stays in the journal and is sent again on the next link, not now.
            self._refusals.warning(
                "refused",
                "the broker refused a publish (%s); check its ACL lets this sensor write its "
                "topics (%d refused so far)",
                reason.getName(),
                self._refusals.total("refused") + 1,
            )
            return
        with self._lock:  # one step for a pump walking its snapshot: acked, then not sent
            self._journal.ack(entry_id)
            self._sent.discard(entry_id)
