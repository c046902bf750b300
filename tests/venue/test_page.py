"""The live page in real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
import time

from tests.mqtt.conftest import Subscriber
from tests.venue.conftest import PASSWORD, ROOT, occupancy_of
from tests.venue.test_live import start_all

SCREENSHOT = ROOT / "docs" / "venue.png"


def shown(page) -> int:
    return int(page.locator("#occupancy").inner_text())


def wait_shown(page, value: int, timeout_ms: int = 30_000) -> None:
    page.wait_for_function(
        "v => document.getElementById('occupancy').textContent === String(v)",
        arg=value,
        timeout=timeout_ms,
    )


def wait_level(page, level: str) -> None:
    page.wait_for_function(
        "l => document.getElementById('now').dataset.level === l", arg=level, timeout=30_000
    )


def test_the_page_shows_the_sum_and_updates_live(sensors, make_venue, page, tmp_path) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(3, 1)
    sensors["s2"].cross(2, 0)
    sensors["s3"].cross(1, 2)
    sensors["s1"].do("zone 2")
    sensors["s2"].do("zone 1")
    venue.wait_for(lambda s: s["raw_occupancy"] == occupancy_of(sensors), "the figure")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(venue.url + "/")
    wait_shown(page, occupancy_of(sensors))
    assert shown(page) == 5
    page.wait_for_function("document.getElementById('connection').textContent === 'live'")
    rows = page.locator("#entrances tr").all_inner_texts()
    assert [r.split("\t") for r in rows] == [
        ["s1/door", "3", "1"],
        ["s2/door", "2", "0"],
        ["s3/door", "2", "1"],
    ]
    assert page.locator("#areas tr").all_inner_texts() == ["hall\t3"]
    assert page.locator("#sensors li[data-status=online]").count() == 3
    # Live: a crossing changes the number without a reload.
    marker = page.evaluate("() => (window.__same_page = 1)")
    sensors["s2"].cross(1, 0)
    wait_shown(page, 6)
    assert page.evaluate("() => window.__same_page") == marker
    sensors["s3"].cross(0, 4)  # reversed door: four people in
    wait_shown(page, 10)
    assert shown(page) == occupancy_of(sensors)
    # Accessible names and landmarks a screen reader announces.
    assert page.locator("#occupancy[aria-live=polite]").count() == 1
    assert page.get_by_role("heading", name="Entrances today").count() == 1
    assert page.get_by_label("Password").count() == 1
    # The README's screenshot, taken by this test's own page.
    page.wait_for_function("document.querySelector('#curve canvas') !== null")
    page.wait_for_selector(f"#app[data-drawn='{shown(page)}']")  # the curve has caught up
    # Every asset comes from the venue server itself (no CDN: it works on an offline LAN).
    assert any(url.endswith("/static/uPlot.iife.min.js") for url in requests)
    assert all(url.startswith(venue.url + "/") for url in requests), requests
    target = SCREENSHOT if os.environ.get("HEADCOUNT_UPDATE_SCREENSHOT") else tmp_path / "venue.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    # On a phone: nothing wider than the screen, the number still large.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("document.documentElement.scrollWidth <= 390")
    height = page.eval_on_selector("#occupancy", "e => e.getBoundingClientRect().height")
    assert height >= 60


def test_amber_and_red_at_the_thresholds_and_back_with_hysteresis(
    sensors, make_venue, page, vbroker, vlab
) -> None:
    venue = make_venue()  # capacity 12, warn 8, hysteresis 2
    start_all(sensors, venue)
    alerts = Subscriber(vbroker.host, vbroker.plain_port, "admin", vlab.password("admin"))
    alerts.connect("headcount/hq/venue/main/alert")
    page.goto(venue.url + "/")
    wait_level(page, "ok")
    steps = [  # (crossings in, out, expected figure, expected level)
        (7, 0, 7, "ok"),
        (1, 0, 8, "warn"),
        (3, 0, 11, "warn"),
        (1, 0, 12, "full"),
        (0, 2, 10, "full"),  # within the hysteresis: stays red
        (0, 1, 9, "warn"),
        (0, 3, 6, "warn"),  # within the hysteresis: stays amber
        (0, 1, 5, "ok"),
    ]
    for n_in, n_out, figure, level in steps:
        sensors["s1"].cross(n_in, n_out)
        wait_shown(page, figure)
        wait_level(page, level)
        assert page.locator(f"#now.level-{level}").count() == 1
    colour = page.eval_on_selector("#now", "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(27, 127, 59)"  # green again
    expected = ["warn", "full", "warn", "ok"]
    alerts.wait_for(
        lambda: (
            [a.get("level") for a in alerts.json_on("headcount/hq/venue/main/alert")][-4:]
            == expected
        ),
        "the alert topic's levels",
    )
    alerts.close()


def test_changes_need_the_password(sensors, make_venue, page) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s1"].cross(4, 0)
    page.goto(venue.url + "/")
    wait_shown(page, 4)
    page.locator("#staff summary").click()
    page.locator("#plus").click()
    page.wait_for_function(
        "document.getElementById('staff-result').textContent.includes('password first')"
    )
    page.get_by_label("Password").fill("guess")
    page.locator("#plus").click()
    page.wait_for_function(
        "document.getElementById('staff-result').textContent.startsWith('Refused')"
    )
    page.locator("#reset").click()  # window.confirm is dismissed by default: nothing sent
    assert shown(page) == 4
    assert venue.api()["adjust"] == 0
    for path, body in [
        ("/api/reset", {}),
        ("/api/adjust", {"delta": 3}),
        ("/api/capacity", {"capacity": 5, "warn": 4}),
    ]:
        assert venue.post(path, body, None)[0] == 401
        assert venue.post(path, body, "wrong")[0] == 401
    assert venue.api()["raw_occupancy"] == 4 and venue.api()["capacity"] == 12
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#plus").click()
    wait_shown(page, 5)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#reset").click()
    wait_shown(page, 0)
    sensors["s2"].cross(2, 0)
    wait_shown(page, 2)
    status, answer = venue.post("/api/capacity", {"capacity": 3, "warn": 2}, PASSWORD)
    assert status == 200 and answer["capacity"] == 3 and answer["level"] == "warn"
    wait_level(page, "warn")
    status, answer = venue.post("/api/adjust", {"delta": "x"}, PASSWORD)
    assert status == 400 and "delta" in answer["error"]


def test_a_killed_sensor_is_flagged_within_its_keepalive(sensors, make_venue, page) -> None:
    venue = make_venue()
    start_all(sensors, venue)
    sensors["s2"].cross(3, 0)
    page.goto(venue.url + "/")
    wait_shown(page, 3)
    assert page.locator("#uncertain").is_hidden()
    killed = time.monotonic()
    sensors["s2"].kill()  # no clean exit: the broker publishes its last will
    page.wait_for_selector("#sensors li[data-sensor=s2][data-status=offline]", timeout=60_000)
    flagged = time.monotonic() - killed
    keepalive = sensors["s2"].keepalive
    assert flagged <= 1.5 * keepalive + 2.0, flagged  # the broker's bound, plus delivery
    assert page.locator("#uncertain").is_visible()
    assert "s2 offline" in page.locator("#uncertain").inner_text()
    assert shown(page) == 3  # its counts are kept
