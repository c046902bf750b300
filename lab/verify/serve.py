"""Serves a page (Starlette app) on uvicorn in a background thread, for the walk test and player."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette


class ServeError(Exception):
    """The page cannot be served (e.g. the port is taken); the message says what to do."""


@dataclass
class Served:
    """A running server; stop() ends it."""

    server: uvicorn.Server
    thread: threading.Thread

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(app: Starlette, host: str, port: int, name: str, timeout: float = 30.0) -> Served:
    """Start serving; returns once the socket listens, or raises ServeError."""
    try:
        with socket.socket() as probe:  # fail here, not in the server's thread
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError:
        raise ServeError(f"cannot serve the page on {host}:{port}; pass a free --port") from None
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ServeError(f"cannot serve the page on {host}:{port}; pass a free --port")
        time.sleep(0.05)
    return Served(server, thread)
