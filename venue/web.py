"""The venue server's HTTP side: the live page, its JSON API, CSV export, SSE and /metrics.

Reading is open on the listen address; changes (capacity, adjust, reset) need the
password of `[http] password_file` as HTTP Basic credentials (any user name). Every
asset is served from the package: the page works on a LAN without internet.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import hmac
import html
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from importlib.resources import files
from string import Template
from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from edge.messages import iso_ms, iso_s
from venue import days
from venue.config import VenueConfig
from venue.store import BucketRow, MinuteRow

log = logging.getLogger(__name__)

Action = Callable[[Request], Awaitable[Response]]
BodyT = TypeVar("BodyT", bound=BaseModel)

KEEPALIVE_SECONDS = 15.0
FAILED_LOGIN_DELAY = 0.5


class Hub(Protocol):
    """What the HTTP side needs from the server (venue.server.Hub implements it)."""

    config: VenueConfig

    def state_json(self) -> str: ...
    def metrics(self) -> bytes: ...
    def minutes(self, start: float, end: float) -> list[MinuteRow]: ...
    def buckets(self, start: float, end: float) -> list[BucketRow]: ...
    def day_start(self) -> float: ...
    def now(self) -> float: ...
    def subscribe(self) -> asyncio.Queue[str]: ...
    def unsubscribe(self, queue: asyncio.Queue[str]) -> None: ...
    async def reset(self) -> None: ...
    async def adjust(self, delta: int) -> None: ...
    async def set_capacity(self, capacity: int, warn: int) -> None: ...


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdjustBody(_Body):
    delta: int = Field(ge=-100_000, le=100_000)


class CapacityBody(_Body):
    capacity: int = Field(ge=1, le=1_000_000)
    warn: int = Field(ge=1, le=1_000_000)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _authorized(request: Request, password: str | None) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if password is None or scheme.lower() != "basic":
        return False
    try:
        _user, _, given = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given.encode(), password.encode())


def _parse_time(text: str, zone_name: str, hub: Hub) -> float:
    """A query time: a local date (its midnight) or an ISO 8601 time with an offset."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), zone).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time; fix from= or to="
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()


def _range(request: Request, hub: Hub) -> tuple[float, float]:
    zone = hub.config.venue.timezone
    start_text = request.query_params.get("from")
    end_text = request.query_params.get("to")
    start = _parse_time(start_text, zone, hub) if start_text else hub.day_start()
    end = _parse_time(end_text, zone, hub) if end_text else hub.now()
    if end_text and len(end_text) == 10:
        end += 86400.0  # a date as `to` includes that whole day
    if end <= start:
        raise ValueError("to= must be after from=")
    return start, end


class _Endpoints:
    """The HTTP endpoints of one venue; each method is one route."""

    def __init__(self, hub: Hub, password: str | None) -> None:
        self.hub = hub
        self.password = password
        self.page = Template(
            files("venue").joinpath("static/index.html").read_text(encoding="utf-8")
        )

    async def index(self, request: Request) -> HTMLResponse:
        venue = self.hub.config.venue
        body = self.page.safe_substitute(
            venue=html.escape(venue.name),
            site=html.escape(venue.site),
            state=html.escape(self.hub.state_json()),
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    async def api_venue(self, request: Request) -> Response:
        return Response(self.hub.state_json(), media_type="application/json")

    async def api_history(self, request: Request) -> Response:
        try:
            start, end = _range(request, self.hub)
        except ValueError as error:
            return _error(400, str(error))
        minutes = [
            {
                "ts": iso_s(m.minute * 60.0),
                "occupancy": m.occupancy,
                "raw_occupancy": m.raw,
                "uncertain": m.uncertain,
            }
            for m in self.hub.minutes(start, end)
        ]
        entrances = [
            {
                "entrance": b.entrance,
                "start": iso_s(b.start),
                "end": iso_s(b.end),
                "in": b.n_in,
                "out": b.n_out,
            }
            for b in self.hub.buckets(start, end)
        ]
        payload = {
            "from": iso_ms(start),
            "to": iso_ms(end),
            "minutes": minutes,
            "entrances": entrances,
        }
        return Response(json.dumps(payload), media_type="application/json")

    async def export_csv(self, request: Request) -> Response:
        try:
            start, end = _range(request, self.hub)
        except ValueError as error:
            return _error(400, str(error))
        what = request.path_params["what"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if what == "occupancy":
            writer.writerow(["minute_utc", "occupancy", "raw_occupancy", "uncertain"])
            for m in self.hub.minutes(start, end):
                writer.writerow([iso_s(m.minute * 60.0), m.occupancy, m.raw, int(m.uncertain)])
        elif what == "entrances":
            writer.writerow(["entrance", "start_utc", "end_utc", "in", "out"])
            for b in self.hub.buckets(start, end):
                writer.writerow([b.entrance, iso_s(b.start), iso_s(b.end), b.n_in, b.n_out])
        else:
            return _error(404, "export occupancy.csv or entrances.csv")
        name = f"{self.hub.config.venue.name}-{what}-{iso_s(start)[:10]}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def api_curve(self, request: Request) -> Response:
        start = self.hub.day_start()
        zone = self.hub.config.venue.zone
        at = self.hub.config.venue.reset_time
        previous = days.instant(
            datetime.fromtimestamp(start, zone).date() - timedelta(days=1), at, zone
        )

        def series(rows: list[MinuteRow], origin: float) -> list[list[float]]:
            return [[m.minute * 60.0 - origin, m.occupancy] for m in rows]

        payload = {
            "day_start": start,
            "today": series(self.hub.minutes(start, self.hub.now() + 60), start),
            "yesterday": series(self.hub.minutes(previous, start), previous),
        }
        return Response(json.dumps(payload), media_type="application/json")

    async def events(self, request: Request) -> StreamingResponse:
        hub = self.hub
        queue = hub.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield f"retry: 1000\ndata: {hub.state_json()}\n\n"
                while True:
                    try:
                        data = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    yield f"data: {data}\n\n"
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def metrics(self, request: Request) -> Response:
        return Response(self.hub.metrics(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def guarded(self, action: Action) -> Action:
        """The action, behind the password (HTTP Basic, any user name)."""

        async def endpoint(request: Request) -> Response:
            if self.password is None:
                return _error(403, "changes are off: set [http] password_file in venue.toml")
            if not _authorized(request, self.password):
                await asyncio.sleep(FAILED_LOGIN_DELAY)
                log.warning("a change was refused: wrong or missing password")
                return _error(401, "wrong or missing password")
            return await action(request)

        return endpoint

    async def reset(self, request: Request) -> Response:
        await self.hub.reset()
        return Response(self.hub.state_json(), media_type="application/json")

    async def adjust(self, request: Request) -> Response:
        try:
            body = await _body(request, AdjustBody)
        except ValueError as error:
            return _error(400, str(error))
        await self.hub.adjust(body.delta)
        return Response(self.hub.state_json(), media_type="application/json")

    async def capacity(self, request: Request) -> Response:
        try:
            body = await _body(request, CapacityBody)
        except ValueError as error:
            return _error(400, str(error))
        if body.warn > body.capacity:
            return _error(400, "warn must not exceed capacity")
        await self.hub.set_capacity(body.capacity, body.warn)
        return Response(self.hub.state_json(), media_type="application/json")


async def _body(request: Request, model: type[BodyT]) -> BodyT:
    """A small JSON request body, validated; ValueError says what is wrong."""
    raw = await request.body()
    if len(raw) > 1024:
        raise ValueError("the request body is larger than 1024 bytes")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValueError(f"{where}: {first['msg']}") from None


def create_app(hub: Hub, password: str | None) -> Starlette:
    """The ASGI app for one venue."""
    e = _Endpoints(hub, password)
    routes = [
        Route("/", e.index),
        Route("/api/venue", e.api_venue),
        Route("/api/history", e.api_history),
        Route("/api/export/{what}.csv", e.export_csv),
        Route("/api/curve", e.api_curve),
        Route("/api/events", e.events),
        Route("/metrics", e.metrics),
        Route("/api/reset", e.guarded(e.reset), methods=["POST"]),
        Route("/api/adjust", e.guarded(e.adjust), methods=["POST"]),
        Route("/api/capacity", e.guarded(e.capacity), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("venue", "static")]), name="static"),
    ]
    return Starlette(routes=routes)
