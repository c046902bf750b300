"""The setup app served in this process over a real socket, on the composed street scene."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import uvicorn

from edge.config import load_config
from edge.detections import Detector
from edge.frames import Frame
from edge.setup.app import PageContext, build_app
from edge.setup.configfile import ConfigFile
from edge.setup.session import SetupSession
from tests.setup import scene

TOKEN = "test-token-0123456789abcdef"


class LoopedFootage:
    """The composed frames over and over, at most `fps` a second (a camera's pace)."""

    def __init__(self, frames: list[np.ndarray], fps: float = 8.0) -> None:
        self.frames = frames
        self.period = 1.0 / fps
        self.index = 0
        self.last = 0.0

    def open(self) -> None:
        self.last = time.monotonic()

    def read(self) -> Frame | None:
        wait = self.last + self.period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last = time.monotonic()
        image = self.frames[self.index % len(self.frames)]
        frame = Frame(image, self.index, self.index * scene.FRAME_SECONDS)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


@contextmanager
def serving(config_path: Path, detector: Detector, footage: list[np.ndarray]) -> Iterator[str]:
    """Serve the page for `config_path`; yields its base URL. The background is built from
    the whole footage first, then the footage loops for the live dots."""
    config = load_config(config_path)
    source = LoopedFootage(footage)
    source.open()
    session = SetupSession(lambda: source, detector, config)
    for index, image in enumerate(footage):
        session.step(Frame(image, index, index * scene.FRAME_SECONDS))
    session.refresh()
    source.index = len(footage)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    deadline = time.monotonic() + 600
    app = build_app(PageContext(session, ConfigFile(config_path), TOKEN, deadline))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    stop = threading.Event()
    threads = session.start(stop)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        stop.set()
        thread.join(timeout=30)
        for worker in threads:
            worker.join(timeout=30)
        sock.close()


def _wait_for(condition, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("the setup server did not start within 60 s")
        time.sleep(0.02)
