"""Saving a drawing: the rest of the file and its comments stay, a backup is kept, and a
bad drawing gets the CLI's own message and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edge.config import ConfigError, load_config
from edge.setup.configfile import ConfigFile, Drawing, LineDraft, ZoneDraft, drawing_of

ORIGINAL = """\
# Front door sensor (installer's notes stay)
[sensor]
id = "door-1"  # on the label
site = "hq"

# the street door
[[lines]]
name = "entrance"
points = [[0.1, 0.6], [0.9, 0.6]]
inside = [0.5, 0.9]
hysteresis = 0.2  # tuned on site

[[lines]]
name = "old"
points = [[0.1, 0.2], [0.9, 0.2]]
inside = [0.5, 0.9]

[mqtt]
host = "broker.local"  # the venue's broker
"""


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    os.chmod(path, 0o640)
    return path


def test_save_replaces_lines_and_zones_and_keeps_the_rest(config_path):
    drawing = Drawing(
        lines=[LineDraft(name="entrance", points=[[0.2, 0.7], [0.8, 0.7]], inside=[0.5, 0.65])],
        zones=[ZoneDraft(name="lobby", polygon=[[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]])],
    )
    file = ConfigFile(config_path)
    config = file.save(drawing)
    text = config_path.read_text()
    for kept in (
        "# Front door sensor",
        "# on the label",
        "# the street door",
        "# tuned on site",
        "# the venue's broker",
    ):
        assert kept in text
    data = tomllib.loads(text)
    assert data["lines"] == [
        {
            "name": "entrance",
            "points": [[0.2, 0.7], [0.8, 0.7]],
            "inside": [0.5, 0.65],
            "hysteresis": 0.2,
        }
    ]
    assert data["zones"] == [
        {"name": "lobby", "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}
    ]
    assert data["mqtt"] == {"host": "broker.local"}
    assert load_config(config_path) == config
    assert file.backup == config_path.with_name("config.toml.bak")
    assert file.backup.read_text() == ORIGINAL
    assert (config_path.stat().st_mode & 0o777) == (file.backup.stat().st_mode & 0o777) == 0o640
    assert drawing_of(config) == drawing
    assert "sudo systemctl restart headcount" in file.saved_message(config)


@pytest.mark.parametrize(
    ("drawing", "expected"),
    [
        (
            Drawing(
                lines=[LineDraft(name="door", points=[[0.3, 0.3], [0.3, 0.3]], inside=[0.3, 0.35])]
            ),
            "lines[0]: the two points of a line must differ",
        ),
        (
            Drawing(
                lines=[LineDraft(name="a door", points=[[0.1, 0.3], [0.9, 0.3]], inside=[0.5, 0.5])]
            ),
            "lines[0].name: use 1 to 64 letters, digits, '_' or '-'",
        ),
        (Drawing(), "(top level): add at least one [[lines]] or [[zones]] entry to count anything"),
    ],
)
def test_a_bad_drawing_gets_the_cli_message_and_writes_nothing(
    config_path, tmp_path, drawing, expected
):
    file = ConfigFile(config_path)
    with pytest.raises(ConfigError) as raised:
        file.save(drawing)
    assert f"{config_path}: {expected}" in str(raised.value)
    assert config_path.read_text() == ORIGINAL
    assert not file.backup.exists()
    # the very message the CLI prints for the same content
    rendered = tmp_path / "cli" / "config.toml"
    rendered.parent.mkdir()
    data = tomllib.loads(ORIGINAL)
    data["lines"] = [d.model_dump() for d in drawing.lines]
    data.pop("zones", None)
    if not data["lines"]:
        del data["lines"]
    rendered.write_text(_toml(data))
    cli = subprocess.run(
        [sys.executable, "-m", "edge.cli", "privacy", "--config", str(rendered)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 2
    assert str(raised.value).replace(str(config_path), str(rendered)) in cli.stderr


def _toml(data: dict) -> str:
    import tomlkit

    return tomlkit.dumps(data)


def test_the_drawing_keeps_other_keys_of_a_line_that_keeps_its_name(config_path):
    file = ConfigFile(config_path)
    text, _ = file.render(
        Drawing(
            lines=[LineDraft(name="entrance", points=[[0.1, 0.5], [0.9, 0.5]], inside=[0.5, 0.9])]
        )
    )
    assert tomllib.loads(text)["lines"][0]["hysteresis"] == 0.2
    assert "old" not in tomllib.loads(text)["lines"][0]["name"]
    assert config_path.read_text() == ORIGINAL  # render writes nothing


def test_setup_loads_a_config_with_nothing_drawn_yet(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[sensor]\nid = "new-1"\n\n[detector]\nthreads = 2\n')
    config = ConfigFile(path).load()
    assert (config.sensor.id, config.lines, config.zones) == ("new-1", [], [])
    assert config.detector.threads == 2
    with pytest.raises(ConfigError, match="add at least one"):
        ConfigFile(path).save(Drawing())  # saving still needs something to count
    path.write_text('[sensor]\nid = "new 1"\n')
    with pytest.raises(ConfigError, match=r"sensor\.id: use 1 to 64 letters"):
        ConfigFile(path).load()


coordinate = st.floats(0.0, 1.0, allow_nan=False).map(lambda v: round(v, 4))
point = st.tuples(coordinate, coordinate)


@st.composite
def lines(draw):
    a, b = draw(point), draw(point)
    assume(abs(a[0] - b[0]) + abs(a[1] - b[1]) > 0.01)
    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    normal = (-(b[1] - a[1]), b[0] - a[0])
    side = draw(st.sampled_from([1, -1])) * 0.02 / max(abs(normal[0]), abs(normal[1]))
    inside = (round(middle[0] + side * normal[0], 4), round(middle[1] + side * normal[1], 4))
    assume(all(0 <= v <= 1 for v in inside))
    cross = (b[0] - a[0]) * (inside[1] - a[1]) - (b[1] - a[1]) * (inside[0] - a[0])
    assume(abs(cross) > 1e-5)
    return [list(a), list(b)], list(inside)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(lines(), min_size=1, max_size=4), st.booleans())
def test_what_is_saved_is_what_was_drawn_and_the_rest_stays(tmp_path, drawn, with_zone):
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    drawing = Drawing(
        lines=[LineDraft(name=f"l{i}", points=p, inside=q) for i, (p, q) in enumerate(drawn)],
        zones=[ZoneDraft(name="z", polygon=[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]])]
        if with_zone
        else [],
    )
    config = ConfigFile(path).save(drawing)
    assert drawing_of(config) == drawing
    assert drawing_of(load_config(path)) == drawing
    text = path.read_text()
    assert "# the venue's broker" in text and "# on the label" in text
    assert tomllib.loads(text)["mqtt"] == {"host": "broker.local"}
