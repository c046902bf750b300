"""Run in a child process: install the guard, try each named operation, print the outcomes.

Usage: python guard_child.py '<json>' with keys mode, journal, broker_port, notify,
outside, other_port, attempts (a list of names below), and optionally setup
({"port", "config", "backup"}: install the setup-mode guard instead). Prints one JSON
object: {"results": {name: "allowed" | "refused" | "error:<class>"}, "tripped": bool, ...}.
The attempt "pause" prints {"pause": {...}} (the port of the listener made so far) and
waits for a line on stdin, so the test can act from outside the process.
"""

from __future__ import annotations

import ctypes
import http.server
import json
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from edge.privacy.guard import PrivacyViolation, install_guard, install_setup_guard

PAYLOAD = b"track 7 box 0.31 0.62 0.40 0.95"


def leak(outside: str, port: int) -> None:
    """What a child interpreter with no hook would do: write a file, reach a collector."""
    Path(outside, "from_child.txt").write_bytes(PAYLOAD)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(PAYLOAD)


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"setup page"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    spec = json.loads(sys.argv[1])
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s"
    )
    journal = Path(spec["journal"])
    outside = Path(spec["outside"])
    broker_port = int(spec["broker_port"])
    other_port = int(spec["other_port"])
    notify = spec.get("notify")
    setup = spec.get("setup")
    state: dict[str, object] = {}
    # A file descriptor opened for writing before the guard, as a library might hold one.
    preopened = os.open(outside / "preopened.txt", os.O_WRONLY)

    def write(path: Path) -> Callable[[], None]:
        def attempt() -> None:
            with open(path, "w") as f:
                f.write("SECRET-PAYLOAD")

        return attempt

    def tcp(host: str, port: int) -> Callable[[], None]:
        def attempt() -> None:
            with socket.create_connection((host, port), timeout=5):
                pass

        return attempt

    def udp(port: int) -> Callable[[], None]:
        def attempt() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(b"SECRET-PAYLOAD", ("127.0.0.1", port))

        return attempt

    def unix(address: str) -> Callable[[], None]:
        def attempt() -> None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                s.sendto(b"WATCHDOG=1", address)

        return attempt

    def loopback_pair() -> None:
        """A socketpair stand-in: connect to a listener this process bound itself."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            with socket.create_connection(listener.getsockname(), timeout=5):
                pass

    def paho_pair() -> None:
        from paho.mqtt.client import _socketpair_compat

        for s in _socketpair_compat():
            s.close()

    def own_listener() -> None:
        """Keep a listener of our own on 127.0.0.1; its port is shown at "pause"."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        state["listener"] = listener
        state["port"] = listener.getsockname()[1]

    def to_listener_port(host: str) -> Callable[[], None]:
        """Send data to `host` at our own listener's port (another address: a collector)."""

        def attempt() -> None:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect((host, int(str(state["port"]))))
                s.sendall(PAYLOAD)

        return attempt

    def pause() -> None:
        print(json.dumps({"pause": {"port": state.get("port")}}), flush=True)
        sys.stdin.readline()

    def bind_fixed() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", other_port + 1 if other_port < 65535 else 1024))

    def os_open_outside() -> None:
        fd = os.open(outside / "os_open.bin", os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    def journal_cycle() -> None:
        tmp = journal / "seg.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"{}\n")
        os.fsync(fd)
        os.fchmod(fd, 0o600)
        os.close(fd)
        os.replace(tmp, journal / "seg.jsonl")
        (journal / "sub").mkdir(exist_ok=True)
        os.remove(journal / "seg.jsonl")

    def symlink_escape() -> None:
        link = journal / "escape"
        if not link.exists():
            os.symlink(outside, link)
        with open(link / "via_link.txt", "w") as f:
            f.write("x")

    def rename_out() -> None:
        (journal / "moving").write_text("x")
        os.rename(journal / "moving", outside / "moved")

    def dir_fd_after_chdir() -> None:
        """A relative name, relative to a folder outside, while the cwd is the journal."""
        here = os.getcwd()
        folder = os.open(outside, os.O_RDONLY)
        os.chdir(journal)
        try:
            fd = os.open("dir_fd.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=folder)
            os.write(fd, PAYLOAD)
            os.close(fd)
        finally:
            os.chdir(here)
            os.close(folder)

    def on_fd(call: Callable[[int], None]) -> Callable[[], None]:
        """A call on a descriptor of a file outside, opened read-only (allowed)."""

        def attempt() -> None:
            fd = os.open(outside / "existing.txt", os.O_RDONLY)
            try:
                call(fd)
            finally:
                os.close(fd)

        return attempt

    def mp_start(method: str) -> Callable[[], None]:
        def attempt() -> None:
            process = multiprocessing.get_context(method).Process(
                target=leak, args=(str(outside), other_port)
            )
            process.start()
            process.join(30)

        return attempt

    def posix_spawn() -> None:
        pid = os.posix_spawn("/bin/true", ["true"], dict(os.environ))
        os.waitpid(pid, 0)

    def os_execv() -> None:
        os.execv(sys.executable, [sys.executable, "-c", "print('replaced')"])

    def fork_exec_direct() -> None:
        """subprocess's private reference to the C function, called without Popen."""
        read, write_end = os.pipe()
        try:
            args = [b"/bin/true"]
            subprocess._fork_exec(  # type: ignore[attr-defined]
                args, args, True, (), None, None, -1, -1, -1, -1, -1, -1,
                read, write_end, False, False, -1, None, None, None, -1, None, False,
            )  # fmt: skip
        finally:
            os.close(read)
            os.close(write_end)

    def reimport_posixsubprocess() -> None:
        del sys.modules["_posixsubprocess"]
        import _posixsubprocess  # noqa: F401

    def serve() -> None:
        """The setup page's server: one listener, answering requests from outside."""
        assert setup is not None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(setup["port"])), Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state["server"] = server
        state["port"] = server.server_address[1]

    def serve_asgi() -> None:
        """The same page from Starlette under uvicorn (the project's web stack)."""
        assert setup is not None
        import time

        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        def page(request: Request) -> PlainTextResponse:
            return PlainTextResponse("setup page")

        app = Starlette(routes=[Route("/", page)])
        config = uvicorn.Config(app, host="127.0.0.1", port=int(setup["port"]), log_level="error")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.01)
        if not server.started:
            raise OSError("uvicorn did not start")
        state["asgi"] = (server, thread)
        state["port"] = server.servers[0].sockets[0].getsockname()[1]

    def stop_server() -> None:
        if "asgi" in state:
            server, thread = state["asgi"]  # type: ignore[misc]
            server.should_exit = True
            thread.join(30)
            return
        server = state["server"]
        assert isinstance(server, http.server.ThreadingHTTPServer)
        server.shutdown()
        server.server_close()

    def second_listener(port: int | None) -> Callable[[], None]:
        """Another listener: on `port`, or (None) on the port the server holds."""

        def attempt() -> None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", int(str(state["port"])) if port is None else port))
                s.listen(1)

        return attempt

    def write_beside_config() -> None:
        assert setup is not None
        write(Path(setup["config"]).with_name("other.toml"))()

    def config_save() -> None:
        """Back up the config (copy with metadata), then rewrite it in place."""
        assert setup is not None
        import shutil

        shutil.copy2(setup["config"], setup["backup"])
        Path(setup["config"]).write_text('[sensor]\nid = "door-1"\n')

    attempts: dict[str, Callable[[], None]] = {
        "write_outside": write(outside / "leak.txt"),
        "write_dotdot": write(journal / ".." / "dotdot.txt"),
        "write_inside": write(journal / "ok.txt"),
        "append_outside": lambda: open(outside / "append.txt", "a").close(),
        "read_outside": (outside / "existing.txt").read_text,
        "os_open_outside": os_open_outside,
        "journal_cycle": journal_cycle,
        "symlink_escape": symlink_escape,
        "rename_out": rename_out,
        "mkdir_outside": (outside / "newdir").mkdir,
        "dir_fd_after_chdir": dir_fd_after_chdir,
        "fchmod_outside": on_fd(lambda fd: os.chmod(fd, 0o666)),
        "futime_outside": on_fd(lambda fd: os.utime(fd, (0, 0))),
        "fsetxattr_outside": on_fd(lambda fd: os.setxattr(fd, "user.track", PAYLOAD)),
        "ftruncate_preopened": lambda: os.truncate(preopened, 0),
        "fdopen_preopened": lambda: open(preopened, "w", closefd=False).close(),
        "tcp_broker": tcp("127.0.0.1", broker_port),
        "tcp_broker_by_name": tcp("localhost", broker_port),
        "tcp_other": tcp("127.0.0.1", other_port),
        "udp_other": udp(other_port),
        "loopback_pair": loopback_pair,
        "paho_pair": paho_pair,
        "own_listener": own_listener,
        "own_exact": to_listener_port("127.0.0.1"),
        "twin_v4": to_listener_port("127.0.0.2"),
        "twin_v6": to_listener_port("::1"),
        "pause": pause,
        "bind_fixed": bind_fixed,
        "dns_other": lambda: socket.getaddrinfo("example.invalid", 80),
        "unix_notify": unix(notify or "/nonexistent"),
        "unix_other": unix(str(outside / "other.sock")),
        "subprocess": lambda: subprocess.run(["true"], check=False),
        "os_system": lambda: os.system("true"),
        "posix_spawn": posix_spawn,
        "os_execv": os_execv,
        "mp_spawn": mp_start("spawn"),
        "mp_forkserver": mp_start("forkserver"),
        "mp_fork": mp_start("fork"),
        "fork_exec_direct": fork_exec_direct,
        "reimport_posixsubprocess": reimport_posixsubprocess,
        "ctypes_load": lambda: ctypes.CDLL("libc.so.6"),
        "serve": serve,
        "serve_asgi": serve_asgi,
        "stop_server": stop_server,
        "second_listener_same": second_listener(None),
        "listener_other_port": second_listener(0),
        "config_save": config_save,
        "write_beside_config": write_beside_config,
    }

    if setup is not None:
        guard = install_setup_guard(
            spec["mode"],
            listen=("127.0.0.1", int(setup["port"])),
            config_file=Path(setup["config"]),
            backup_file=Path(setup["backup"]),
        )
    else:
        guard = install_guard(
            spec["mode"],
            journal_dir=journal,
            broker=("localhost", broker_port),
            notify_socket=notify,
        )
    results: dict[str, str] = {}
    for name in spec["attempts"]:
        try:
            attempts[name]()
        except PrivacyViolation:
            results[name] = "refused"
        except OSError as error:
            results[name] = f"error:{error.__class__.__name__}"
        else:
            results[name] = "allowed"
    tripped = guard.tripped
    try:
        guard.check()
        checked = "ok"
    except PrivacyViolation:
        checked = "raised"
    print(json.dumps({"results": results, "tripped": tripped, "check": checked}))


if __name__ == "__main__":
    main()
