"""A bad venue.toml (or password file, history path, listen address): one sentence, exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[venue]
name = "main"
site = "hq"
timezone = "Europe/Berlin"
capacity = 100
warn = 80
reset_at = "04:00"

[[entrances]]
sensor = "door-1"
line = "entrance"

[http]
listen = "127.0.0.1:{port}"

[history]
path = "{folder}/history.sqlite"
"""


def run_venue(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "venue", "--config", str(config)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("capacity = 100", 'capacity = 100\ncolour = "red"'), "venue.colour: unknown key"),
        (("warn = 80", "warn = 120"), "warn (120) must not exceed capacity (100)"),
        (("Europe/Berlin", "Europe/Atlantis"), "unknown time zone 'Europe/Atlantis'"),
        (('reset_at = "04:00"', 'reset_at = "4 am"'), 'reset_at must be a local time "HH:MM"'),
        (('reset_at = "04:00"', 'reset_at = "25:00"'), 'reset_at must be a local time "HH:MM"'),
        (
            ("capacity = 100", 'capacity = "many"'),
            "venue.capacity: Input should be a valid integer",
        ),
        (('sensor = "door-1"', 'sensor = "door 1"'), "entrances[0].sensor: use 1 to 64 letters"),
        (('listen = "127.0.0.1:{port}"', 'listen = "localhost"'), 'listen must be "HOST:PORT"'),
        (("[[entrances]]", "[[entrances]]\ndoor = 1"), "entrances[0].door: unknown key"),
        (('name = "main"', 'name = "main'), "not valid TOML"),
        (("[history]", "[http.x]\n[history]"), "http.x: unknown key"),
    ],
)
def test_a_bad_venue_toml_is_one_sentence_and_exit_2(tmp_path: Path, change, says: str) -> None:
    text = GOOD.replace(change[0], change[1]).format(port=1, folder=tmp_path)
    config = tmp_path / "venue.toml"
    config.write_text(text)
    result = run_venue(config)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_missing_file_password_and_busy_port(tmp_path: Path) -> None:
    assert "no such file" in run_venue(tmp_path / "nope.toml").stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = tmp_path / "venue.toml"
        config.write_text(GOOD.format(port=port, folder=tmp_path))
        result = run_venue(config)
        assert result.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
        assert "Traceback" not in result.stderr
    config.write_text(
        GOOD.format(port=port, folder=tmp_path).replace(
            "[history]", f'password_file = "{tmp_path}/missing"\n\n[history]'
        )
    )
    result = run_venue(config)
    assert result.returncode == 2
    assert "password file" in result.stderr and "does not exist" in result.stderr
    (tmp_path / "file").write_text("")
    config.write_text(GOOD.format(port=port, folder=tmp_path / "file" / "sub"))
    result = run_venue(config)
    assert result.returncode == 2, result.stderr
    assert "cannot open the history file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_example_config_is_valid() -> None:
    from venue.config import load_config

    config = load_config(ROOT / "firmware" / "venue.example.toml")
    assert config.venue.capacity >= config.venue.warn
