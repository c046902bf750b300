"""The ledger's arithmetic: lost states, repeated and late buckets, resets and reboots."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from venue.ledger import Entrance, Ledger

DOOR = Entrance("s1", "door")


@dataclass
class Sensor:
    """A sensor's truth and what it publishes; delivery is decided by the test."""

    boot: int = 0
    seq: int = 0
    total: list[int] = field(default_factory=lambda: [0, 0])
    bucket: list[int] = field(default_factory=lambda: [0, 0])
    bucket_start: float = 0.0
    truth: list[int] = field(default_factory=lambda: [0, 0])
    pending: list[tuple[str, int, float, tuple[int, int]]] = field(default_factory=list)

    def state(self) -> tuple[str, int, dict[str, tuple[int, int]]]:
        self.seq += 1
        return (f"b{self.boot}", self.seq, {"door": (self.total[0], self.total[1])})

    def close(self) -> None:
        self.seq += 1
        self.pending.append(
            (f"b{self.boot}", self.seq, self.bucket_start, (self.bucket[0], self.bucket[1]))
        )
        self.bucket_start += 60
        self.bucket = [0, 0]


op = st.one_of(
    st.tuples(st.just("cross"), st.integers(0, 3), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("close"), st.booleans()),
    st.tuples(st.just("deliver"), st.integers(0, 10), st.booleans()),
    st.tuples(st.just("reset"), st.booleans()),
    st.tuples(st.just("reboot"), st.booleans()),
)


def today(ledger: Ledger) -> tuple[int, int]:
    return ledger.entrance_today(DOOR)


@settings(max_examples=300, deadline=None)
@given(st.lists(op, max_size=60))
def test_a_lower_bound_always_and_exact_once_every_bucket_arrived(ops) -> None:
    ledger = Ledger([DOOR])
    ledger.rebase(0.0, {}, set())
    sensor = Sensor()
    seen: set[tuple[str, int]] = set()
    ledger.apply_state("s1", *sensor.state())  # first sight at 0, 0

    def deliver(index: int, repeat: bool) -> None:
        if not sensor.pending:
            return
        boot, seq, start, counts = sensor.pending[index % len(sensor.pending)]
        if not repeat:
            sensor.pending.remove((boot, seq, start, counts))
        if (boot, seq) not in seen:  # the store's dedupe by (boot, seq)
            seen.add((boot, seq))
            ledger.apply_bucket("s1", boot, start, {"door": counts})

    for step in ops:
        match step:
            case ("cross", n_in, n_out, delivered):
                for i, n in enumerate((n_in, n_out)):
                    sensor.total[i] += n
                    sensor.bucket[i] += n
                    sensor.truth[i] += n
                message = sensor.state()
                if delivered:
                    ledger.apply_state("s1", *message)
            case ("close", _):
                sensor.close()
            case ("deliver", index, repeat):
                deliver(index, repeat)
            case ("reset", delivered):
                sensor.total = [0, 0]
                message = sensor.state()
                if delivered:
                    ledger.apply_state("s1", *message)
            case ("reboot", delivered):
                sensor.close()
                sensor.boot += 1
                sensor.seq = 0
                sensor.total = [0, 0]
                message = sensor.state()
                if delivered:
                    ledger.apply_state("s1", *message)
        got = today(ledger)
        assert got[0] <= sensor.truth[0] and got[1] <= sensor.truth[1], (got, sensor.truth)
    sensor.close()
    while sensor.pending:
        deliver(0, False)
    assert today(ledger) == (sensor.truth[0], sensor.truth[1])


def test_live_state_is_exact_before_any_bucket() -> None:
    ledger = Ledger([DOOR])
    ledger.rebase(0.0, {}, set())
    ledger.apply_state("s1", "a", 1, {"door": (10, 4)})  # first sight: counts from here
    ledger.apply_state("s1", "a", 2, {"door": (13, 4)})
    ledger.apply_state("s1", "a", 3, {"door": (0, 0)})  # a line reset
    ledger.apply_state("s1", "a", 4, {"door": (1, 2)})
    ledger.apply_state("s1", "a", 3, {"door": (0, 0)})  # an old state again: ignored
    ledger.apply_state("s1", "b", 1, {"door": (2, 0)})  # a reboot
    assert today(ledger) == (3 + 1 + 2, 2)
    assert ledger.raw_occupancy() == 4


def test_reverse_swaps_in_and_out() -> None:
    door = Entrance("s1", "door", reverse=True)
    ledger = Ledger([door])
    ledger.rebase(0.0, {}, set())
    ledger.apply_state("s1", "a", 1, {"door": (0, 0)})
    ledger.apply_state("s1", "a", 2, {"door": (1, 5)})
    assert ledger.entrance_today(door) == (5, 1)
    assert ledger.raw_occupancy() == 4


def test_a_new_day_counts_only_later_crossings_and_late_buckets_go_to_the_day_they_began() -> None:
    ledger = Ledger([DOOR])
    ledger.rebase(0.0, {}, set())
    ledger.apply_state("s1", "a", 1, {"door": (0, 0)})
    ledger.apply_state("s1", "a", 2, {"door": (7, 2)})
    ledger.rebase(3600.0, {"s1": "a"}, {"s1"})  # the daily reset; s1 is online
    assert ledger.raw_occupancy() == 0
    ledger.apply_bucket("s1", "a", 3540.0, {"door": (7, 2)})  # yesterday's last bucket, late
    assert ledger.raw_occupancy() == 0
    ledger.apply_state("s1", "a", 4, {"door": (9, 2)})
    ledger.apply_bucket("s1", "a", 3600.0, {"door": (2, 0)})
    assert today(ledger) == (2, 0)


def test_a_sensor_offline_at_the_reset_counts_by_its_buckets_that_day() -> None:
    ledger = Ledger([DOOR])
    ledger.rebase(0.0, {}, set())
    ledger.apply_state("s1", "a", 1, {"door": (0, 0)})
    ledger.apply_state("s1", "a", 2, {"door": (3, 0)})
    ledger.rebase(3600.0, {"s1": "a"}, set())  # s1 is not fresh at the reset
    # It comes back: its state holds 2 crossings before the reset and 1 after.
    ledger.apply_state("s1", "a", 9, {"door": (6, 0)})
    assert today(ledger) == (0, 0)  # not split at the reset: wait for the buckets
    ledger.apply_bucket("s1", "a", 3540.0, {"door": (2, 0)})
    ledger.apply_bucket("s1", "a", 3600.0, {"door": (1, 0)})
    assert today(ledger) == (1, 0)


def test_a_boot_first_seen_after_the_reset_that_began_before_it() -> None:
    ledger = Ledger([DOOR])
    ledger.rebase(0.0, {}, set())
    ledger.apply_state("s1", "a", 1, {"door": (0, 0)})
    ledger.rebase(3600.0, {"s1": "a"}, {"s1"})
    ledger.apply_state("s1", "b", 5, {"door": (4, 0)})  # rebooted while we were away
    ledger.apply_bucket("s1", "b", 3540.0, {"door": (3, 0)})  # 3 of them before the reset
    ledger.apply_bucket("s1", "b", 3600.0, {"door": (1, 0)})
    assert today(ledger) == (1, 0)
