"""A door sensor as a separate process, publishing what the contract models say.

Driven line by line on stdin so a test decides every crossing:

  cross IN OUT   add crossings to the line `door` (state published at once, retained)
  zone N         set zone `room`'s occupancy (state published)
  bucket         close the open bucket and publish it on `counts` (QoS 1)
  reset          reset the line's totals, as a `cmd/reset` would (resets + 1)
  reboot         a clean restart: close the bucket, go offline, come back with a new boot
  exit           close the bucket, publish offline, disconnect, exit 0

Each command is answered with `ok <command>` on stdout once its messages are queued in
paho (QoS 1: sent again after an outage, like the real sensor's journal replay).
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.messages import Bucket, LineTotals, Snapshot, ZoneNow, ZoneStats, iso_ms, iso_s

LINE = "door"
ZONE = "room"


class FakeSensor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.site, self.sensor = args.site, args.sensor
        self.base = f"headcount/{self.site}/{self.sensor}"
        self.args = args
        self.client: mqtt.Client | None = None
        self.new_boot()

    def new_boot(self) -> None:
        self.boot = secrets.token_hex(4)
        self.seq = 0
        self.total_in = self.total_out = 0
        self.resets = 0
        self.zone = 0
        self.bucket_in = self.bucket_out = 0
        self.bucket_start = math.floor(time.time())

    def connect(self) -> None:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"headcount-{self.site}-{self.sensor}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        client.username_pw_set(self.sensor, Path(self.args.password_file).read_text().strip())
        client.will_set(f"{self.base}/status", "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 1)
        client.on_connect = lambda c, u, f, rc, p: c.publish(
            f"{self.base}/status", "online", qos=1, retain=True
        )
        client.max_queued_messages_set(0)
        client.connect_async(self.args.host, self.args.port, keepalive=self.args.keepalive)
        client.loop_start()
        self.client = client

    def publish(self, kind: str, payload: str, retain: bool) -> None:
        assert self.client is not None
        self.client.publish(f"{self.base}/{kind}", payload, qos=1, retain=retain)

    def state(self) -> None:
        self.seq += 1
        snapshot = Snapshot(
            site=self.site,
            sensor=self.sensor,
            ts=iso_ms(time.time()),
            boot=self.boot,
            seq=self.seq,
            frame=self.seq,
            zones={ZONE: ZoneNow(occupancy=self.zone)},
            lines={LINE: LineTotals(in_=self.total_in, out=self.total_out)},
            resets=self.resets or None,
        )
        self.publish("state", snapshot.to_json(), retain=True)

    def bucket(self) -> None:
        self.seq += 1
        end = max(self.bucket_start + 1, math.ceil(time.time()))
        bucket = Bucket(
            site=self.site,
            sensor=self.sensor,
            boot=self.boot,
            seq=self.seq,
            start=iso_s(self.bucket_start),
            end=iso_s(end),
            lines={LINE: LineTotals(in_=self.bucket_in, out=self.bucket_out)},
            zones={ZONE: ZoneStats(mean=float(self.zone), max=self.zone)},
        )
        self.publish("counts", bucket.to_json(), retain=False)
        self.bucket_start, self.bucket_in, self.bucket_out = end, 0, 0

    def close(self) -> None:
        assert self.client is not None
        self.bucket()
        info = self.client.publish(f"{self.base}/status", "offline", qos=1, retain=True)
        info.wait_for_publish(30)
        self.client.disconnect()
        self.client.loop_stop()

    def command(self, words: list[str]) -> bool:
        match words:
            case ["cross", n_in, n_out]:
                self.total_in += int(n_in)
                self.total_out += int(n_out)
                self.bucket_in += int(n_in)
                self.bucket_out += int(n_out)
                self.state()
            case ["zone", n]:
                self.zone = int(n)
                self.state()
            case ["bucket"]:
                self.bucket()
            case ["state"]:
                self.state()
            case ["reset"]:
                self.total_in = self.total_out = 0
                self.resets += 1
                self.state()
            case ["reboot"]:
                self.close()
                self.new_boot()
                self.connect()
                self.state()
            case ["exit"]:
                self.close()
                return False
            case _:
                raise SystemExit(f"fake sensor: unknown command {words}")
        return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site", default="hq")
    parser.add_argument("--sensor", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--keepalive", type=int, default=5)
    sensor = FakeSensor(parser.parse_args())
    sensor.connect()
    sensor.state()
    print("ok start", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        going = sensor.command(words)
        print(f"ok {' '.join(words)}", flush=True)
        if not going:
            return


if __name__ == "__main__":
    main()
