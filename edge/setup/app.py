"""The setup page's HTTP app: one page and a small JSON API, all behind the run's token.

Every request must carry the token (`?token=` on the page's URL, the `X-Setup-Token`
header on the page's own requests); without it the answer is an empty 404, so nothing
(not even that a page exists) is told. Routes:

- `GET /` the page (HTML, its script and style inlined; nothing from elsewhere)
- `GET /api/state` feet dots, the preview's counts, the background's version and notes
- `GET /api/background.png` the cleaned background (no-store)
- `GET /api/drawing` the lines and zones of the config file as it is now
- `POST /api/preview` a drawing to count in the preview (validated as the CLI validates)
- `POST /api/save` a drawing to write into the config file (same validation)
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from edge.config import ConfigError
from edge.setup.configfile import ConfigFile, Drawing, drawing_of
from edge.setup.session import SetupSession

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-setup-token"
MAX_BODY_BYTES = 64 * 1024
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
}


def new_token() -> str:
    """A fresh token for one run of `headcount setup`."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class PageContext:
    """What the app serves from: the session, the config file and the run's deadline."""

    session: SetupSession
    config_file: ConfigFile
    token: str
    deadline: float  # time.monotonic() at which the run stops


def _page_html() -> str:
    folder = resources.files("edge.setup") / "static"
    html = (folder / "index.html").read_text(encoding="utf-8")
    script = (folder / "setup.js").read_text(encoding="utf-8")
    style = (folder / "setup.css").read_text(encoding="utf-8")
    return html.replace("/*STYLE*/", style).replace("/*SCRIPT*/", script)


class _TokenGate(BaseHTTPMiddleware):
    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self._token = token.encode()

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), self._token):
            return Response(status_code=404)
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response


async def _drawing_from(request: Request) -> Drawing | JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return JSONResponse({"error": "the drawing is too large"}, status_code=413)
    try:
        return Drawing.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "drawing"
        return JSONResponse(
            {"error": f"the drawing was not understood: {where}: {first['msg']}"}, status_code=400
        )


def state_json(context: PageContext) -> dict[str, Any]:
    """The live state the page polls: dots, the preview's counts, the background's notes."""
    view, background = context.session.view, context.session.background
    return {
        "dots": [list(dot) for dot in view.dots],
        "lines": {name: {"in": n_in, "out": n_out} for name, (n_in, n_out) in view.lines.items()},
        "zones": {name: {"occupancy": n} for name, n in view.zones.items()},
        "background": None
        if background is None
        else {
            "version": background.version,
            "blanked_regions": background.blanked_regions,
            "unseen_share": round(background.unseen_share, 3),
            "frames": background.frames,
        },
        "fps": round(context.session.fps, 1),
        "seconds_left": max(0, round(context.deadline - time.monotonic())),
    }


class _Endpoints:
    """The routes' handlers over one setup run's context."""

    def __init__(self, context: PageContext) -> None:
        self.context = context
        self.page = _page_html()

    async def index(self, request: Request) -> Response:
        return HTMLResponse(self.page)

    async def state(self, request: Request) -> Response:
        return JSONResponse(state_json(self.context))

    async def background(self, request: Request) -> Response:
        served = self.context.session.background
        if served is None:
            return Response(status_code=204)
        return Response(served.png, media_type="image/png")

    async def drawing(self, request: Request) -> Response:
        try:
            config = self.context.config_file.load()
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        return JSONResponse(drawing_of(config).model_dump())

    async def preview(self, request: Request) -> Response:
        parsed = await _drawing_from(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        try:
            _, config = self.context.config_file.render(parsed)
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        self.context.session.set_drawing(config.lines, config.zones)
        return JSONResponse({"ok": True})

    async def save(self, request: Request) -> Response:
        parsed = await _drawing_from(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        file = self.context.config_file
        try:
            config = file.save(parsed)
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        self.context.session.set_drawing(config.lines, config.zones)
        return JSONResponse({"ok": True, "message": file.saved_message(config)})


def build_app(context: PageContext) -> Starlette:
    """The Starlette app serving one setup run."""
    api = _Endpoints(context)
    return Starlette(
        routes=[
            Route("/", api.index),
            Route("/api/state", api.state),
            Route("/api/background.png", api.background),
            Route("/api/drawing", api.drawing),
            Route("/api/preview", api.preview, methods=["POST"]),
            Route("/api/save", api.save, methods=["POST"]),
        ],
        middleware=[Middleware(_TokenGate, token=context.token)],
    )
