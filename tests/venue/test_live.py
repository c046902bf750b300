"""The venue server with three sensor processes and a real broker: the figure is Σ(in - out)."""

from __future__ import annotations

from tests.venue.conftest import SensorProcess, VenueProcess, areas_toml, occupancy_of


def start_all(sensors: dict[str, SensorProcess], venue: VenueProcess) -> None:
    venue.start()
    for sensor in sensors.values():
        sensor.start()
    venue.wait_for(
        lambda s: all(s["sensors"].values()) and not s["uncertain"],
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


def test_the_venue_server_over_tls(sensors, make_venue, vbroker, vlab) -> None:
    venue = make_venue()
    venue.doc["mqtt"].update(  # type: ignore[union-attr]
        {"port": vbroker.tls_port, "tls": {"ca": str(vlab.dir / "ca.crt")}}
    )
    venue.config.write_text(areas_toml(dict(venue.doc)))
    start_all(sensors, venue)
    sensors["s1"].cross(2, 0)
    sensors["s3"].cross(0, 1)
    venue.wait_for(
        lambda s: s["raw_occupancy"] == occupancy_of(sensors) == 3, "occupancy 3 over TLS"
    )
