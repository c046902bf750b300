"""The demo's venue server: `headcount venue` for the demo sensor, as its own process.

It reads the demo's broker and serves the live page on a loopback port; the demo prints
the page's URL. Its venue.toml and history live in a temporary folder for the demo's
life. The page is read-only (no password file).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEMO_PAGE_PORT = 8080


def _port(preferred: int) -> int:
    """`preferred` if it is free on loopback, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free loopback port")


def venue_toml(
    *,
    site: str,
    sensor: str,
    lines: list[str],
    zones: list[str],
    host: str,
    port: int,
    protocol: str,
    folder: Path,
    listen: str,
) -> str:
    entrances = "".join(f'[[entrances]]\nsensor = "{sensor}"\nline = "{n}"\n\n' for n in lines)
    areas = "".join(
        f'[[areas]]\nname = "{z}"\nzones = [{{sensor = "{sensor}", zone = "{z}"}}]\n\n'
        for z in zones
    )
    return (
        f'[venue]\nname = "demo"\nsite = "{site}"\ncapacity = 12\nwarn = 8\n'
        'reset_at = "04:00"\n\n'
        f"{entrances}{areas}"
        f'[mqtt]\nhost = "{host}"\nport = {port}\nprotocol = "{protocol}"\n'
        "reconnect_min_seconds = 1\nreconnect_max_seconds = 2\n\n"
        f'[http]\nlisten = "{listen}"\n\n'
        f'[history]\npath = "{folder}/history.sqlite"\n'
    )


@contextmanager
def venue_server(folder: Path, **settings: object) -> Iterator[str]:
    """Start the venue server; yields the page's URL; stops it (SIGTERM) at the end."""
    listen = f"127.0.0.1:{_port(DEMO_PAGE_PORT)}"
    config = folder / "venue.toml"
    config.write_text(venue_toml(folder=folder, listen=listen, **settings))  # type: ignore[arg-type]
    log = open(folder / "venue.log", "wb")  # noqa: SIM115 - the process owns it
    process = subprocess.Popen(
        [sys.executable, "-m", "venue", "--config", str(config)], stdout=log, stderr=log
    )
    log.close()
    url = f"http://{listen}/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(url + "api/venue", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
