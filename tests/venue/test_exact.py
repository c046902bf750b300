"""Exact occupancy across restarts of everything, with real processes and a real broker.

Each test ends by closing every sensor's open bucket (as a sensor does each minute) and
asserting the venue's figure equals Σ over entrances of the crossings the sensors made.
"""

from __future__ import annotations

import time

from tests.venue.conftest import SensorProcess, VenueProcess, occupancy_of
from tests.venue.test_live import start_all


def settle(sensors: dict[str, SensorProcess], venue: VenueProcess, what: str) -> dict:
    for sensor in sensors.values():
        sensor.do("bucket")
    expected = occupancy_of(sensors)
    return venue.wait_for(lambda s: s["raw_occupancy"] == expected, f"{what}: occupancy {expected}")


def test_venue_server_restarted_mid_day(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(4, 1)
    sensors["s2"].cross(2, 0)
    sensors["s3"].cross(1, 3)
    settle(sensors, venue, "before the restart")
    venue.stop()
    # While the venue server is away: crossings, a reboot, a line reset.
    sensors["s1"].cross(2, 0)
    sensors["s1"].do("bucket")
    sensors["s2"].cross(1, 1)
    sensors["s2"].do("reboot")
    sensors["s2"].cross(1, 0)
    sensors["s3"].cross(0, 2)
    sensors["s3"].do("reset")
    sensors["s3"].cross(0, 1)
    venue.start()
    state = settle(sensors, venue, "after the restart")
    assert state["raw_occupancy"] == 4 - 1 + 2 + 2 + 1 - 1 + 1 + (3 - 1) + 2 + 1


def test_venue_server_killed_mid_day(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(3, 0)
    settle(sensors, venue, "before the kill")
    venue.kill()
    sensors["s1"].cross(2, 1)
    sensors["s1"].do("bucket")
    sensors["s2"].cross(1, 0)
    venue.start()
    settle(sensors, venue, "after kill -9 and a start")


def test_sensor_rebooted_and_line_reset_stay_exact_live(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(6, 1)
    sensors["s1"].do("reboot")  # a new boot: its totals start from 0
    sensors["s1"].cross(1, 0)
    sensors["s2"].cross(4, 0)
    sensors["s2"].do("reset")  # the line's totals drop to 0, resets + 1
    sensors["s2"].cross(2, 1)
    expected = occupancy_of(sensors)
    # Live, from the state messages alone (no bucket closed since the start):
    venue.wait_for(lambda s: s["raw_occupancy"] == expected, f"live occupancy {expected}")
    settle(sensors, venue, "with the buckets")


def test_broker_down_30_seconds(sensors, make_venue, vbroker) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(5, 0)
    sensors["s3"].cross(0, 4)
    settle(sensors, venue, "before the outage")
    vbroker.stop()
    down_since = time.monotonic()
    sensors["s1"].cross(2, 1)
    sensors["s1"].do("bucket")
    sensors["s2"].cross(3, 0)
    sensors["s3"].cross(1, 0)
    sensors["s3"].do("bucket")
    time.sleep(max(0.0, 30 - (time.monotonic() - down_since)))
    vbroker.start()
    settle(sensors, venue, "after the broker came back")
    assert "connected to the broker" in venue.log().split("lost the broker")[-1]


def test_sensor_offline_keeps_counts_and_marks_the_figure(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(3, 0)
    sensors["s2"].cross(2, 0)
    venue.wait_for(lambda s: s["raw_occupancy"] == 5, "occupancy 5")
    sensors["s2"].do("exit")  # a clean stop: offline at once
    state = venue.wait_for(lambda s: not s["sensors"]["s2"], "s2 offline")
    assert state["uncertain"] is True
    assert state["raw_occupancy"] == 5  # its counts are kept
    assert state["entrances"]["s2/door"]["in"] == 2
