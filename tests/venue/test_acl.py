"""The venue block of broker_config/acl on a real mosquitto: who may write the venue's topics."""

from __future__ import annotations

from tests.mqtt.conftest import Subscriber

ATTEMPTS = {  # user -> [(topic, allowed)]
    "venue": [
        ("headcount/hq/s1/state", False),
        ("headcount/hq/s1/cmd/reset", False),
        ("headcount/hq/venue/main/alert", True),
        ("headcount/hq/venue/main/state", True),
    ],
    "s1": [("headcount/hq/venue/main/state", False), ("headcount/hq/s1/status", True)],
    "dashboard": [("headcount/hq/venue/main/cmd/reset", False)],
    "homeassistant": [
        ("headcount/hq/venue/main/cmd/adjust", False),
        ("headcount/hq/venue/main/cmd/reset", True),
    ],
    "admin": [("headcount/hq/venue/main/cmd/adjust", True)],
}


def test_the_venue_user_writes_only_venue_topics_and_admin_sends_venue_commands(
    vbroker, vlab
) -> None:
    watcher = Subscriber(vbroker.host, vbroker.plain_port, "admin", vlab.password("admin"))
    watcher.connect("headcount/#")
    # The broker takes the username as client id (one connection per user), so admin's
    # own attempts and the final marker go through the watcher's connection. A publish
    # is acknowledged once the broker has routed it, so the marker arrives after them all.
    for user, tries in ATTEMPTS.items():
        sender = watcher
        if user != "admin":
            sender = Subscriber(vbroker.host, vbroker.plain_port, user, vlab.password(user))
            sender.connect()
        for topic, _allowed in tries:
            sender.client.publish(topic, f"{user}:{topic}", qos=1).wait_for_publish(10)
        if sender is not watcher:
            sender.close()
    watcher.client.publish("headcount/hq/venue/main/cmd/reset", "end", qos=1).wait_for_publish(10)
    watcher.wait_for(
        lambda: b"end" in watcher.on("headcount/hq/venue/main/cmd/reset"), "the marker"
    )
    received = {payload.decode() for _t, payload, _r in watcher.messages}
    for user, tries in ATTEMPTS.items():
        for topic, allowed in tries:
            assert (f"{user}:{topic}" in received) == allowed, (user, topic)
    watcher.close()
