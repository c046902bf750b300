"""Config files as users write them: valid minimal ones, and each kind of mistake."""

import pytest

from edge.config import ConfigError, load_config, parse_config

LINE = {"name": "entrance", "points": [[0.1, 0.6], [0.9, 0.6]], "inside": [0.5, 0.9]}


def test_minimal_file_with_sensor_and_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[sensor]\nid = "door-1"\n\n[[lines]]\nname = "entrance"\n'
        "points = [[0.1, 0.6], [0.9, 0.6]]\ninside = [0.5, 0.9]\n"
    )
    config = load_config(path)
    assert config.sensor.id == "door-1"
    assert config.detector.model == "default"
    assert config.publish.bucket_seconds == 60
    assert config.mqtt.port == 1883


def test_design_example_is_valid():
    data = {
        "sensor": {"id": "door-1", "site": "hq"},
        "lines": [LINE],
        "zones": [{"name": "lobby", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}],
        "source": {"uri": "picamera2"},
        "detector": {"model": "default", "threads": 4, "score_threshold": 0.5},
        "mqtt": {
            "host": "localhost",
            "port": 1883,
            "username": "door-1",
            "password_file": "/etc/headcount/mqtt.password",
        },
        "publish": {"bucket_seconds": 60},
    }
    assert parse_config(data).zones[0].name == "lobby"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"lines": [LINE]}, "sensor: required but missing"),
        ({"sensor": {"id": "door 1"}, "lines": [LINE]}, "sensor.id"),
        ({"sensor": {"id": "d"}}, "at least one [[lines]] or [[zones]]"),
        ({"sensor": {"id": "d"}, "lines": [LINE], "detector": {"threads": 0}}, "detector.threads"),
        ({"sensor": {"id": "d"}, "lines": [LINE], "detectr": {}}, "detectr: unknown key"),
        (
            {"sensor": {"id": "d"}, "lines": [{**LINE, "points": [[0.1, 1.6], [0.9, 0.6]]}]},
            "lines[0].points",
        ),
        (
            {"sensor": {"id": "d"}, "lines": [{**LINE, "inside": [0.5, 0.6]}]},
            "'inside' must lie off the line",
        ),
        (
            {"sensor": {"id": "d"}, "lines": [LINE, LINE]},
            "names must be unique, repeated: entrance",
        ),
        (
            {"sensor": {"id": "d"}, "zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]},
            "zones[0].polygon",
        ),
        (
            {"sensor": {"id": "d"}, "lines": [LINE], "detector": {"resize": "crop"}},
            "'stretch' or 'letterbox'",
        ),
        ({"sensor": {"id": "d"}, "lines": [LINE], "mqtt": {"port": 70000}}, "mqtt.port"),
    ],
)
def test_mistakes_name_the_field(data, needle):
    with pytest.raises(ConfigError) as info:
        parse_config(data, "c.toml")
    assert needle in str(info.value)
    assert str(info.value).startswith("c.toml: ")


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sensor\nid=1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
