"""The setup page in a real headless Chromium (Debian's, driven by Playwright).

An installer draws a door line with the mouse, flips its direction, draws a zone and
saves: the file holds them and still parses. A zero-length line and a self-intersecting
zone get, on the page, the message the CLI prints for the same file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config, parse_config
from tests.setup import scene
from tests.setup.serving import TOKEN, serving

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "setup.png"

ORIGINAL = """\
# Street camera (this comment must survive the page)
[sensor]
id = "street-1"
site = "leuven"

[[lines]]
name = "entrance"
points = [[0.1, 0.75], [0.4, 0.75]]
inside = [0.25, 0.9]

[detector]
threads = 2  # shared machine
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    return path


@pytest.fixture(scope="module")
def footage() -> list:
    return scene.frames(100)


def canvas_point(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#scene").bounding_box()
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def drag(page, start, end) -> None:
    page.mouse.move(*canvas_point(page, *start))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, *end), steps=8)
    page.mouse.up()


def click_at(page, x: float, y: float) -> None:
    page.mouse.click(*canvas_point(page, x, y))


def save_and_read(page) -> tuple[dict, str, str]:
    """Click Save; the drawing sent, the message shown and its class."""
    message = page.locator("#message")
    done = int(message.get_attribute("data-saves") or 0) + 1
    with page.expect_response("**/api/save") as answer:
        page.click("#save")
    sent = json.loads(answer.value.request.post_data)
    # selectors, not wait_for_function: the page's CSP forbids eval, which that needs
    page.locator(f'#message[data-saves="{done}"]').wait_for()
    return sent, message.inner_text(), message.get_attribute("class")


def cli_message(config_path: Path, sent: dict) -> str:
    """What the CLI says about this file with the drawing in it (load_config's parse)."""
    data = tomllib.loads(config_path.read_text())
    data["lines"], data["zones"] = sent["lines"], sent["zones"]
    with pytest.raises(ConfigError) as raised:
        parse_config(data, str(config_path))
    return str(raised.value)


def near(a, b, tolerance=0.01) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b))


def test_draw_flip_zone_save_and_the_cli_messages(page, detector, footage, config_path, tmp_path):
    with serving(config_path, detector, footage) as base:
        page.goto(f"{base}/?token={TOKEN}")
        page.locator("#scene[data-version]").wait_for()
        assert page.locator("#lines input.name").input_value() == "entrance"

        # a door line across the street, dragged with the mouse, then flipped
        page.click("#tool-line")
        drag(page, (0.5, 0.62), (0.5, 0.98))
        assert page.locator("#lines li").count() == 2
        page.locator("#lines li").nth(1).locator("button.flip").click()
        # drag the line's lower end a little to the right
        page.click("#tool-edit")
        drag(page, (0.5, 0.98), (0.55, 0.97))
        # a zone: four corners, then the first again to close it
        page.click("#tool-zone")
        corners = [(0.05, 0.7), (0.45, 0.7), (0.45, 0.99), (0.05, 0.99)]
        for corner in [*corners, corners[0]]:
            click_at(page, *corner)
        assert page.locator("#zones li").count() == 1

        sent, text, kind = save_and_read(page)
        assert kind == "ok", text
        assert "Saved 2 line(s) and 1 zone(s)" in text and "systemctl restart headcount" in text
        saved = config_path.read_text()
        assert "# Street camera (this comment must survive the page)" in saved
        assert "# shared machine" in saved
        assert config_path.with_name("config.toml.bak").read_text() == ORIGINAL
        config = load_config(config_path)
        entrance, door = config.lines
        assert entrance.points == ((0.1, 0.75), (0.4, 0.75)) and entrance.inside == (0.25, 0.9)
        assert door.name == "line-2"
        assert near(door.points[0], (0.5, 0.62)) and near(door.points[1], (0.55, 0.97))
        (x1, y1), (x2, y2) = door.points
        side = (x2 - x1) * (door.inside[1] - y1) - (y2 - y1) * (door.inside[0] - x1)
        assert side < 0, "flipped: 'in' is to the right of the line (as drawn, downwards)"
        (zone,) = config.zones
        assert len(zone.polygon) == 4
        assert all(near(p, q) for p, q in zip(zone.polygon, corners))

        # the preview counts the walkers crossing the new line, on the page
        crossed = re.compile(r"(in|out) [1-9]")
        page.locator("#lines li").nth(1).locator(".count", has_text=crossed).wait_for(
            timeout=90_000
        )

        # the README's screenshot: the street without its people, live dots, the drawing
        page.locator('#scene[data-dots]:not([data-dots="0"])').wait_for()
        target = SCREENSHOT if os.environ.get("HEADCOUNT_UPDATE_SCREENSHOT") else tmp_path / "s.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000

        # a zero-length line: a click without a drag
        page.click("#tool-line")
        click_at(page, 0.7, 0.4)
        sent, text, kind = save_and_read(page)
        assert kind == "error"
        assert "lines[2]: the two points of a line must differ" in text
        assert text == cli_message(config_path, sent)
        page.locator("#lines li").nth(2).locator("button.delete").click()

        # a self-intersecting zone (a bow tie), after two stray corners dropped with Esc
        page.click("#tool-zone")
        click_at(page, 0.2, 0.2)
        click_at(page, 0.3, 0.2)
        page.keyboard.press("Escape")
        bow_tie = [(0.6, 0.3), (0.9, 0.6), (0.9, 0.3), (0.6, 0.6)]
        for corner in [*bow_tie, bow_tie[0]]:
            click_at(page, *corner)
        sent, text, kind = save_and_read(page)
        assert len(sent["zones"]) == 2 and len(sent["lines"]) == 2
        assert len(sent["zones"][1]["polygon"]) == 4
        assert kind == "error", f"a self-intersecting zone was accepted: {text}"
        assert "zones[1].polygon" in text
        assert text == cli_message(config_path, sent)
        assert load_config(config_path) == config, "a refused drawing changes nothing"
