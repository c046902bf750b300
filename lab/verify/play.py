"""`headcount verify play CLIP`: the clip full-screen in a browser, for a camera to watch.

OpenCV's own window (highgui) is missing from the headless build the project installs, so the
player is a small page: this process decodes the clip with OpenCV and streams it as Motion
JPEG (`multipart/x-mixed-replace`) at the clip's frame rate; the page shows it full-screen
after a click on Play. A start marker comes first: `--lead-in` seconds of a black screen
counting down, then one white frame; the clip's frame 0 follows it. The moment frame 0 is
sent is printed (epoch seconds) and served at /api/started, to pass as `--start-at` to
`headcount verify --listen --align wall`; the white frame lets a recording be aligned too.
The process ends when the clip has played once (or on Ctrl-C).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
BOUNDARY = "headcountframe"


class PlayError(Exception):
    """The clip cannot be played; the message says what to do."""


@dataclass
class Player:
    """One clip, played once through the stream; `started` is the epoch of its frame 0."""

    clip: Path
    fps: float
    size: tuple[int, int]
    lead_in: float
    started: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    playing: threading.Lock = field(default_factory=threading.Lock)

    def marker(self) -> Iterator[bytes]:
        """JPEG frames of the start marker: a countdown on black, then one white frame."""
        import cv2
        import numpy as np

        width, height = self.size
        frames = max(1, round(self.lead_in * self.fps))
        for k in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            left = (frames - k) / self.fps
            text = f"{left:.0f}" if left >= 1 else "0"
            cv2.putText(
                image,
                text,
                (width // 2 - 60, height // 2 + 60),
                cv2.FONT_HERSHEY_SIMPLEX,
                6,
                (255, 255, 255),
                12,
            )
            yield _jpeg(image)
        yield _jpeg(np.full((height, width, 3), 255, np.uint8))

    def clip_frames(self) -> Iterator[bytes]:
        import cv2

        capture = cv2.VideoCapture(str(self.clip))
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    return
                yield _jpeg(image)
        finally:
            capture.release()


def _jpeg(image: Any) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise PlayError("a frame could not be encoded as JPEG")
    return bytes(data)


def _part(jpeg: bytes) -> bytes:
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


async def _paced(player: Player) -> AsyncIterator[bytes]:
    """The marker, then the clip, each frame sent at its time; the clip's start is recorded."""
    step = 1.0 / player.fps
    t = time.monotonic()
    for jpeg in player.marker():
        yield _part(jpeg)
        t += step
        await asyncio.sleep(max(0.0, t - time.monotonic()))
    for index, jpeg in enumerate(player.clip_frames()):
        if index == 0:
            player.started = time.time()
            print(
                f"clip frame 0 shown at {player.started:.3f} (pass --start-at {player.started:.3f})"
            )
            sys.stdout.flush()
        yield _part(jpeg)
        t += step
        await asyncio.sleep(max(0.0, t - time.monotonic()))
    player.done.set()


def build_app(player: Player) -> Starlette:
    page = (STATIC / "play.html").read_text(encoding="utf-8")

    async def index(_request: Request) -> Response:
        return HTMLResponse(page)

    async def stream(_request: Request) -> Response:
        if not player.playing.acquire(blocking=False):
            return JSONResponse({"error": "the clip is already playing"}, status_code=409)
        return StreamingResponse(
            _paced(player), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        )

    async def started(_request: Request) -> Response:
        return JSONResponse(
            {"started": player.started, "fps": player.fps, "done": player.done.is_set()}
        )

    return Starlette(
        routes=[Route("/", index), Route("/stream", stream), Route("/api/started", started)]
    )


def open_player(clip: Path, lead_in: float) -> Player:
    """Check the clip and read its frame rate and size; PlayError with one sentence if unusable."""
    try:
        import cv2
    except ImportError:
        raise PlayError("playing a clip needs OpenCV: pip install 'headcount[opencv]'") from None
    if not clip.is_file():
        raise PlayError(f"clip {clip} does not exist; pass an existing video file")
    capture = cv2.VideoCapture(str(clip))
    try:
        if not capture.isOpened():
            raise PlayError(f"clip {clip} cannot be decoded; pass a video file OpenCV reads")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        capture.release()
    if not fps > 0 or min(size) <= 0:
        raise PlayError(f"clip {clip} declares no frame rate or size; re-encode it (e.g. ffmpeg)")
    if lead_in < 0:
        raise PlayError(f"--lead-in {lead_in:g} must be 0 or more seconds")
    return Player(clip, fps, size, lead_in)


def serve_player(clip: Path, *, port: int, lead_in: float, host: str = "127.0.0.1") -> int:
    """Serve the player page until the clip has played once (or Ctrl-C); exit status."""
    from lab.verify.serve import ServeError, serve

    player = open_player(clip, lead_in)
    try:
        served = serve(build_app(player), host, port, "player")
    except ServeError as error:
        raise PlayError(str(error)) from None
    print(f"open http://{host}:{port}/ on the screen the camera watches, then press Play")
    sys.stdout.flush()
    try:
        while not player.done.wait(0.5) and served.alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
    return 0
