"""The setup app's HTTP surface: the token gates everything, the live state carries only
dots and counts, and bad drawings get a sentence, not a traceback."""

from __future__ import annotations

import time

import numpy as np
import pytest
from starlette.testclient import TestClient

from edge.config import load_config
from edge.frames import Frame
from edge.setup.app import MAX_BODY_BYTES, PageContext, build_app
from edge.setup.configfile import ConfigFile
from edge.setup.session import SetupSession
from tests.fakes.core import ScriptedDetector, box_at

TOKEN = "t0ken-for-tests"
CONFIG = """\
[sensor]
id = "s1"

[[lines]]
name = "door"
points = [[0.5, 0.1], [0.5, 0.9]]
inside = [0.7, 0.5]
"""


@pytest.fixture
def client(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    # two people walking right across the door, one frame every 0.1 s
    script = {i: [box_at(0.2 + 0.03 * i, 0.6), box_at(0.25 + 0.03 * i, 0.8)] for i in range(20)}
    session = SetupSession(None, ScriptedDetector(script), load_config(path))
    for i in range(20):
        session.step(Frame(np.full((48, 64, 3), 90, np.uint8), i, i * 0.1))
    session.refresh()
    context = PageContext(session, ConfigFile(path), TOKEN, time.monotonic() + 60)
    with TestClient(build_app(context)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/", "/api/state", "/api/background.png", "/api/drawing"])
@pytest.mark.parametrize("token", [None, "", "t0ken-for-test", TOKEN + "x", TOKEN.upper()])
def test_without_the_token_nothing(client, path, token):
    params = {} if token is None else {"token": token}
    answer = client.get(path, params=params)
    assert (answer.status_code, answer.content) == (404, b"")
    answer = client.get(path, headers={"X-Setup-Token": token or ""})
    assert (answer.status_code, answer.content) == (404, b"")


def test_with_the_token_the_page_and_its_headers(client):
    answer = client.get("/", params={"token": TOKEN})
    assert answer.status_code == 200
    assert "<canvas" in answer.text and "/*SCRIPT*/" not in answer.text
    assert "http" not in answer.text.replace("http-equiv", "")  # nothing from elsewhere
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_the_state_holds_only_dots_and_counts(client):
    state = client.get("/api/state", headers={"X-Setup-Token": TOKEN}).json()
    assert set(state) == {"dots", "lines", "zones", "background", "fps", "seconds_left"}
    assert set(state["background"]) == {"version", "blanked_regions", "unseen_share", "frames"}
    assert state["lines"] == {"door": {"in": 2, "out": 0}}
    assert len(state["dots"]) == 2
    for dot in state["dots"]:
        assert len(dot) == 2 and all(isinstance(v, float) for v in dot)  # a point, not a box
    assert state["dots"] == sorted(state["dots"])


def test_the_background_is_a_png_that_is_never_cached(client):
    answer = client.get("/api/background.png", headers={"X-Setup-Token": TOKEN})
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")
    assert answer.headers["cache-control"] == "no-store"


def test_a_preview_of_a_new_drawing_counts_from_zero(client):
    headers = {"X-Setup-Token": TOKEN}
    drawing = {
        "lines": [{"name": "gate", "points": [[0.9, 0.1], [0.9, 0.9]], "inside": [1.0, 0.5]}]
    }
    assert client.post("/api/preview", json=drawing, headers=headers).json() == {"ok": True}
    assert client.get("/api/state", headers=headers).json()["lines"] == {
        "gate": {"in": 0, "out": 0}
    }


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "the drawing was not understood"),
        (
            b'{"lines": [{"name": "a", "points": [], "inside": [0, 0], "pixels": 1}]}',
            400,
            "the drawing was not understood: lines.0.pixels: Extra inputs are not permitted",
        ),
        (b"{" + b" " * MAX_BODY_BYTES + b"}", 413, "the drawing is too large"),
        (
            b'{"lines": [{"name": "a", "points": [[0.1, 0.1]], "inside": [0, 0]}]}',
            422,
            "lines[0].points",
        ),
    ],
)
def test_bad_drawings_get_a_sentence(client, tmp_path, body, status, says):
    for path in ("/api/preview", "/api/save"):
        answer = client.post(path, content=body, headers={"X-Setup-Token": TOKEN})
        assert answer.status_code == status
        assert says in answer.json()["error"]
        assert "Traceback" not in answer.text
    assert (tmp_path / "config.toml").read_text() == CONFIG
    assert not (tmp_path / "config.toml.bak").exists()


def test_no_log_line_carries_a_position_a_box_or_pixels(tmp_path, caplog):
    import logging
    import re

    caplog.set_level(logging.DEBUG)
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    script = {i: [box_at(0.2 + 0.03 * i, 0.6)] for i in range(20)}
    session = SetupSession(None, ScriptedDetector(script), load_config(path))
    for i in range(20):
        session.step(Frame(np.full((48, 64, 3), 90, np.uint8), i, i * 0.1))
    session.refresh()  # every pixel is under the scripted person: a blank background
    context = PageContext(session, ConfigFile(path), TOKEN, time.monotonic() + 60)
    headers = {"X-Setup-Token": TOKEN}
    with TestClient(build_app(context)) as client:
        client.get("/api/state", headers=headers)
        drawing = {"lines": [{"name": "g", "points": [[0.9, 0.1], [0.9, 0.9]], "inside": [1, 0.5]}]}
        client.post("/api/preview", json=drawing, headers=headers)
        client.post("/api/save", json=drawing, headers=headers)
        client.post("/api/save", json={"lines": []}, headers=headers)
    assert caplog.records, "the run logs something"
    coordinate = re.compile(r"\d\.\d{2,}")
    for record in caplog.records:
        text = record.getMessage()
        assert not coordinate.search(text.replace(str(tmp_path), "")), text
        assert "[[" not in text and "array" not in text, text
