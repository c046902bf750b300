"""`headcount setup`: serve the setup page for a limited time, then stop.

Order matters for privacy: refuse if the service runs; load the config, the detector and
the source (and every library they need); install the guard's setup mode (one listening
socket, writes to the config and its backup only); bind; print the URL with its token as
the first line of stdout; serve until the time limit, Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config import Config, load_config
from edge.setup.service import ServiceProbe, SystemctlProbe, refusal

if TYPE_CHECKING:  # the web stack, numpy and the detector load only when setup runs
    from edge.detections import Detector
    from edge.frames import FrameSource
    from edge.privacy.guard import Guard
    from edge.setup.background import BackgroundSettings
    from edge.setup.configfile import ConfigFile
    from edge.setup.session import SetupSession

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8765"
MAX_MINUTES = 240.0
# The main thread wakes this often while it waits: Python runs a signal's handler only in
# the main thread, and a SIGTERM the kernel hands to another thread does not wake its wait.
SIGNAL_POLL_SECONDS = 0.5


class SetupError(Exception):
    """A problem the user can fix, told in one sentence; exit status 2."""


class SetupStoppedError(Exception):
    """Setup stopped early for a reason the page cannot fix (the camera, the guard); status 1."""


@dataclass(frozen=True)
class Listen:
    """A literal IP address and a port (0: any free port)."""

    host: str
    port: int

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET


def parse_listen(text: str) -> Listen:
    """`HOST:PORT` or `[V6]:PORT` with a literal address; SetupError says what to give."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ip = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise SetupError(
            f"--listen {text!r}: give an IP address and a port, e.g. 127.0.0.1:8765 or "
            "0.0.0.0:8765 (the page is then reachable from the network)"
        ) from None
    if not sep or not 0 <= number <= 65535:
        raise SetupError(f"--listen {text!r}: the port must be 0-65535")
    return Listen(str(ip), number)


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    func: Callable[[argparse.Namespace], int],
) -> None:
    """Add `setup` and its options; `func` runs it (the CLI's cmd_setup)."""
    setup = sub.add_parser(
        "setup", help="serve the page that draws lines and zones on the scene (by hand, briefly)"
    )
    setup.add_argument("--config", required=True, type=Path, help="TOML config file to edit")
    setup.add_argument("--source", help="override [source] uri")
    setup.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address of the page (default {DEFAULT_LISTEN}: this machine only)",
    )
    setup.add_argument(
        "--minutes", type=float, default=15.0, help="stop after this many minutes (default 15)"
    )
    setup.set_defaults(func=func)


def open_input(
    config: Config, uri: str
) -> tuple[Detector, Callable[[], FrameSource], BackgroundSettings]:
    """The detector (finding people down to the blanking threshold), a maker of opened
    sources (the first is opened now, a file's next one when it ends) and the background's
    settings at page size: the detector's aspect ratio, so a Pi camera shows the very view
    the sensor counts on."""
    from edge.bootstrap import StartupError, build_detector
    from edge.frames import SourceError
    from edge.plugins import plugin_uri
    from edge.setup.background import BackgroundSettings, page_size
    from edge.sources import open_source

    # blank wherever the sensor could see a person at all (its lowest score, or lower)
    low = min(config.detector.low_score_threshold, BackgroundSettings().blank_score)
    detector_config = config.detector.model_copy(update={"low_score_threshold": low})
    plugin = plugin_uri(uri)
    live = uri.strip() == "picamera2" or uri.strip().isdigit() or "://" in uri
    try:
        pair = plugin.open() if plugin is not None else None
        if pair is not None:
            detector = pair.detector
        else:
            detector = build_detector(config.model_copy(update={"detector": detector_config}))
        width, height = page_size(detector.input_size)
        settings = BackgroundSettings(width=width, height=height, blank_score=low)

        def make() -> FrameSource:
            if pair is not None:
                return pair.source(settings.size)
            return open_source(uri, settings.size, realtime=not live, fps=config.source.fps)

        first = make()
        first.open()  # loads the camera's libraries before the guard; fails here, in a sentence
    except (SourceError, StartupError) as error:
        raise SetupError(str(error)) from None
    pending = [first]

    def opened() -> FrameSource:
        if pending:
            return pending.pop()
        source = make()
        source.open()
        return source

    return detector, opened, settings


def _bind(listen: Listen) -> socket.socket:
    sock = socket.socket(listen.family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
        sock.listen(16)
    except OSError as error:
        sock.close()
        raise SetupError(
            f"cannot listen on {listen.host}:{listen.port} ({error.strerror}); "
            "choose another --listen"
        ) from None
    return sock


def page_url(listen: Listen, port: int, token: str) -> str:
    host = listen.host
    if ipaddress.ip_address(host).is_unspecified:
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/?token={token}"


def run_setup(
    args: argparse.Namespace, announce: Callable[[str], None], probe: ServiceProbe | None = None
) -> None:
    """The `setup` sub-command: `announce` gets the page's URL once it listens.

    Raises SetupError (the user's to fix: exit 2) or SetupStoppedError (exit 1).
    """
    sys.dont_write_bytecode = True  # setup writes the config and its backup, not caches
    listen = parse_listen(args.listen)
    if not 0 < args.minutes <= MAX_MINUTES:
        raise SetupError(f"--minutes must be more than 0 and at most {MAX_MINUTES:g}")
    from edge.setup.configfile import ConfigFile

    config_file = ConfigFile(args.config)
    if not config_file.path.is_file():
        load_config(args.config)  # the CLI's sentence for a missing file
    config = config_file.load()
    refused = refusal(probe or SystemctlProbe())
    if refused is not None:
        raise SetupError(refused)
    from edge.setup.app import new_token
    from edge.setup.session import SetupSession

    detector, source, settings = open_input(config, args.source or config.source.uri)
    guard = _install_guard(config, listen, config_file)
    sock = _bind(listen)
    token = new_token()
    announce(page_url(listen, sock.getsockname()[1], token))
    session = SetupSession(
        source, detector, config, settings=settings, guard_check=guard.check if guard else None
    )
    _serve(session, config_file, sock, token, args.minutes * 60.0)


def _install_guard(config: Config, listen: Listen, config_file: ConfigFile) -> Guard | None:
    """Setup mode of the privacy guard, after every library is loaded and before binding."""
    import starlette.applications  # noqa: F401  (loaded before the guard watches)
    import uvicorn  # noqa: F401

    from edge.privacy.guard import install_setup_guard

    if config.privacy.guard == "off":
        return None
    return install_setup_guard(
        config.privacy.guard,
        listen=(listen.host, listen.port),
        config_file=config_file.path,
        backup_file=config_file.backup,
    )


def _wait_until(stop: threading.Event, deadline: float) -> None:
    """Return once `stop` is set or the monotonic `deadline` passes, running signal handlers."""
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        stop.wait(min(left, SIGNAL_POLL_SECONDS))


def _serve(
    session: SetupSession, config_file: ConfigFile, sock: socket.socket, token: str, seconds: float
) -> None:
    """Serve until the time limit, SIGINT/SIGTERM or a failure; then nothing listens."""
    import uvicorn

    from edge.setup.app import PageContext, build_app

    deadline = time.monotonic() + seconds
    app = build_app(PageContext(session, config_file, token, deadline))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", loop="asyncio")
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            stop.set()

    workers = [*session.start(stop), threading.Thread(target=serve, name="setup-http", daemon=True)]
    workers[-1].start()
    _wait_until(stop, deadline)
    stop.set()
    server.should_exit = True
    for worker in workers:
        worker.join(timeout=30)
    with contextlib.suppress(OSError):
        sock.close()
    if session.error is not None:
        raise SetupStoppedError(f"setup stopped: {session.error}")
    log.info(
        "setup stopped; the page is no longer served. Start the sensor again: "
        "sudo systemctl start headcount"
    )
