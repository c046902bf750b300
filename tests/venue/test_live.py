"""The venue server with three sensor processes and a real broker: the figure is Σ(in - out)."""

from __future__ import annotations

from tests.venue.conftest import SensorProcess, VenueProcess, occupancy_of


def start_all(sensors: dict[str, SensorProcess], venue: VenueProcess) -> None:
    venue.start()
    for sensor in sensors.values():
        sensor.start()
    venue.wait_for(
        lambda s: all(v["online"] for v in s["sensors"].values()) and not s["uncertain"],
        "every sensor online",
    )


def test_occupancy_is_the_sum_over_entrances(sensors, make_venue) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(5, 1)
    sensors["s2"].cross(3, 0)
    sensors["s3"].cross(0, 2)  # reversed: its 'out' is people coming in
    expected = occupancy_of(sensors)
    assert expected == 9
    state = venue.wait_for(lambda s: s["raw_occupancy"] == expected, "occupancy 9")
    assert state["occupancy"] == 9
    assert state["entrances"]["s3/door"] == {"sensor": "s3", "line": "door", "in": 2, "out": 0}
    assert state["level"] == "warn"
