"""The walk test: a phone page with large In/Out buttons per line; the tester taps at each real
crossing while the live sensor counts over MQTT; the taps are the truth of the report.

The page is served by Starlette on uvicorn from this package's `static/` folder (no CDN).
`Start` fixes the clock (time 0 for the taps and for the sensor's counts, which are timed by
their arrival); `Finish` ends the test and the report is written. The page and the API show
only totals: taps per line and direction, and the sensor's published counts since Start.
"""

from __future__ import annotations

import argparse
import html
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge.config import Config
from lab.verify.cli import Outcome, scored
from lab.verify.listen import BrokerAddress, Listener
from lab.verify.record import CountLog
from lab.verify.serve import ServeError, serve
from lab.verify.truth import DIRECTIONS, Crossing

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
WALK_TOLERANCE_S = 3.0
"""A tap and the sensor's count of the same crossing: reaction time plus publish latency."""


class Tap(BaseModel):
    """A tap on the page: which line, which way."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line: str
    direction: Literal["in", "out"]


@dataclass
class WalkSession:
    """The taps of one walk test and the listener that times the sensor's counts."""

    lines: tuple[str, ...]
    listener: Listener
    started: float | None = None
    taps: list[Crossing] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self.lock:
            self.started = time.time()
            self.taps.clear()
            self.listener.start = self.started
            self.listener.counts.restart()

    def tap(self, tap: Tap) -> None:
        with self.lock:
            if self.started is None:
                raise ValueError("press Start first")
            if tap.line not in self.lines:
                raise ValueError(f"unknown line {tap.line!r}")
            self.taps.append(Crossing(time.time() - self.started, tap.line, tap.direction))

    def undo(self) -> None:
        with self.lock:
            if self.taps:
                self.taps.pop()

    def state(self) -> dict[str, object]:
        """Totals only: taps and published counts per line and direction since Start."""
        observed = self.listener.counts.observed()
        with self.lock:
            taps = {n: {d: 0 for d in DIRECTIONS} for n in self.lines}
            for c in self.taps:
                taps[c.line][c.direction] += 1
            elapsed = time.time() - self.started if self.started is not None else None
        return {
            "started": elapsed is not None,
            "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
            "finished": self.finished.is_set(),
            "taps": taps,
            "counted": {n: observed.totals.get(n, {"in": 0, "out": 0}) for n in self.lines},
        }


def render_page(lines: tuple[str, ...]) -> str:
    """The walk page with a row of In/Out buttons per line (server-rendered)."""
    rows = []
    for line in lines:
        name = html.escape(line)
        buttons = "".join(
            f'<button type="button" class="tap {d}" data-line="{name}" data-direction="{d}" '
            f'aria-label="{name}: one person walked {d}">{d.capitalize()}'
            f'<span class="n" data-taps="{name} {d}">0</span></button>'
            for d in DIRECTIONS
        )
        rows.append(
            f'<section class="line" aria-label="line {name}"><h2>{name}</h2>'
            f'<div class="buttons">{buttons}</div>'
            f'<p class="counted">sensor: <span data-counted="{name} in">0</span> in, '
            f'<span data-counted="{name} out">0</span> out</p></section>'
        )
    template = (STATIC / "walk.html").read_text(encoding="utf-8")
    return template.replace("<!--LINES-->", "\n".join(rows))


def build_app(session: WalkSession) -> Starlette:
    """The walk page and its JSON API."""
    page = render_page(session.lines)

    async def index(_request: Request) -> Response:
        return HTMLResponse(page)

    async def start(_request: Request) -> Response:
        session.start()
        return JSONResponse(session.state())

    async def tap(request: Request) -> Response:
        try:
            session.tap(Tap.model_validate_json(await request.body()))
        except (ValidationError, ValueError) as error:
            message = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            return JSONResponse({"error": message}, status_code=400)
        return JSONResponse(session.state())

    async def undo(_request: Request) -> Response:
        session.undo()
        return JSONResponse(session.state())

    async def state(_request: Request) -> Response:
        return JSONResponse(session.state())

    async def finish(_request: Request) -> Response:
        session.finished.set()
        return JSONResponse(session.state())

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/start", start, methods=["POST"]),
            Route("/api/tap", tap, methods=["POST"]),
            Route("/api/undo", undo, methods=["POST"]),
            Route("/api/finish", finish, methods=["POST"]),
            Route("/api/state", state),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


def run_walk(config: Config, address: BrokerAddress, args: argparse.Namespace) -> Outcome:
    """Serve the page until Finish (or Ctrl-C), then score the taps against the counts."""
    lines = tuple(line.name for line in config.lines)
    counts = CountLog(lines, tuple(zone.name for zone in config.zones))
    listener = Listener(address, counts, align="wall")
    listener.connect()
    session = WalkSession(lines, listener)
    try:
        served = serve(build_app(session), args.host, args.port, "walk-page")
    except ServeError:
        listener.close()
        raise
    log.info(
        "walk page on http://%s:%d/ ; press Start, tap each crossing, then Finish",
        args.host,
        args.port,
    )
    try:
        while not session.finished.wait(0.5) and served.alive():
            pass
    except KeyboardInterrupt:
        log.info("interrupted: scoring the taps so far")
    finally:
        served.stop()
        listener.close()
    result = scored(
        truth=list(session.taps),
        occupancy=[],
        observed=counts.observed(),
        args=args,
        checks=(),
        default_tolerance=WALK_TOLERANCE_S,
    )
    details = (f"Walk test: {len(session.taps)} taps against `{address.base}`.",)
    return Outcome(result, f"headcount verify: walk test at {address.sensor}", details)
