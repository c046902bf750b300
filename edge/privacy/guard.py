"""A runtime privacy guard built on Python audit hooks (PEP 578).

Once installed, the guard refuses, inside this process: opening a file with write
intent (and renaming, removing, creating, truncating, re-permissioning, also through a
file descriptor) anywhere but the journal folder, and any relative path for those (the
audit event does not say which directory descriptor it is relative to); name lookups,
connections, datagrams and binds to any peer but the configured broker (and, for
AF_UNIX, systemd's notify socket); starting subprocesses, forking, exec-ing or starting
a new interpreter (multiprocessing's spawn and forkserver, which call
`_posixsubprocess.fork_exec` directly and raise no audit event, are refused through a
wrapper around it); and loading native libraries through ctypes.

`install_setup_guard` installs the same guard for `headcount setup`: exactly one
listening socket and writes to exactly the config file and its backup, nothing else.

A refusal raises `PrivacyViolation` in the offending call, is logged in one line that
names the event and a coarse reason (a path or address, never data), and trips the
guard: the pipeline calls `Guard.check()` every frame and stops, even if a library
swallowed the exception. Mode `warn` logs the same line (once per distinct reason)
and allows; mode `off` installs nothing.

What it cannot stop: native code (C extensions, LiteRT, OpenCV, libc's DNS resolver)
does its own system calls without raising audit events, and `os.mknod`/`os.mkfifo` raise
none; a hook cannot be removed, but code running in the process can still corrupt
memory. The systemd sandbox (read-only file system, address allow-list, no new
privileges) is the outer wall; PRIVACY.md says which layer stops which attack.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import logging
import os
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

GuardMode = Literal["enforce", "warn", "off"]

DEFAULT_DEVICES: tuple[str, ...] = (
    "/dev/video*",
    "/dev/media*",
    "/dev/v4l-subdev*",
    "/dev/dma_heap/*",
    "/dev/vchiq",
    "/dev/null",
)
"""Character devices a camera stack may open read-write; they are not files on disk."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_WRITE_MODE_CHARS = frozenset("wax+")

# event -> indices of the path arguments that must be writable (a path or an fd)
_PATH_EVENTS: dict[str, tuple[int, ...]] = {
    "os.rename": (0, 1),  # also raised by os.replace
    "os.remove": (0,),  # also raised by os.unlink
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.truncate": (0,),  # also os.ftruncate, with an fd
    "os.chmod": (0,),  # also os.fchmod
    "os.chown": (0,),  # also os.fchown
    "os.utime": (0,),
    "os.chflags": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.rmtree": (0,),
    "shutil.chown": (0,),
    "shutil.make_archive": (0,),
    "shutil.unpack_archive": (1,),
    "tempfile.mkstemp": (0,),
    "tempfile.mkdtemp": (0,),
}
FORK_EXEC_EVENT = "_posixsubprocess.fork_exec"
"""Raised by the guard's own wrapper: the C function starts a process without an event."""
_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        FORK_EXEC_EVENT,
    }
)
_PROCESS_MODULES = frozenset({"_posixsubprocess"})
"""Modules whose fresh copy would hand back an unwrapped fork_exec."""
_NATIVE_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle"})
_NAME_EVENTS = frozenset(
    {
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)
_PEER_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_WATCHED = frozenset(
    {"open", "import", "sqlite3.connect", "socket.bind", "http.client.connect"}
    | set(_PATH_EVENTS)
    | _PROCESS_EVENTS
    | _NATIVE_EVENTS
    | _NAME_EVENTS
    | _PEER_EVENTS
)
_MAX_SHOWN = 160
_PROCESS_REFUSAL = "starting or replacing a process is not allowed"


class PrivacyViolation(PermissionError):  # noqa: N818 - the name the pipeline contract uses
    """An operation the privacy guard refuses; the message names the event, never data."""


@dataclass(frozen=True)
class SetupPermit:
    """What `headcount setup` may do besides reading: one listener and two files.

    `listen` is a literal IP address and a port (0: one ephemeral port); `files` are
    the config file and its backup, as absolute resolved paths.
    """

    listen: tuple[str, int]
    files: frozenset[str]


@dataclass
class Guard:
    """The installed guard's rules and its record of refusals.

    `tripped` is True after the first refusal in `enforce` mode; the pipeline must
    then stop (call `check()` each frame). `violations` counts refusals and, in `warn`
    mode, would-be refusals.
    """

    mode: GuardMode
    journal_dir: Path | None
    broker: tuple[str, int] | None
    notify_socket: str | bytes | None = None
    devices: tuple[str, ...] = DEFAULT_DEVICES
    setup: SetupPermit | None = None
    violations: int = 0
    first_refusal: str | None = None
    _broker_ips: frozenset[str] = field(default_factory=frozenset)
    _warned: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _busy: threading.local = field(default_factory=threading.local)
    _own_listeners: weakref.WeakSet[socket.socket] = field(default_factory=weakref.WeakSet)
    _setup_bound: bool = False

    @property
    def tripped(self) -> bool:
        """True once an operation was refused in enforce mode."""
        return self.mode == "enforce" and self.first_refusal is not None

    def check(self) -> None:
        """Raise PrivacyViolation if the guard has refused anything; call it every frame."""
        if self.tripped:
            raise PrivacyViolation(
                f"{self.first_refusal}; the sensor stops rather than run unguarded"
            )

    def refusal(self, event: str, args: tuple[object, ...]) -> str | None:
        """The one-line reason this event would be refused, or None if it is allowed."""
        if event == "open":
            return self._open_refusal(args)
        if event in _PATH_EVENTS:
            return self._path_refusal(event, args)
        if event in _PROCESS_EVENTS:
            return _PROCESS_REFUSAL
        if event == "import":
            return self._import_refusal(args)
        if event in _NATIVE_EVENTS:
            return "loading native code through ctypes is not allowed"
        if event in _NAME_EVENTS:
            return self._name_refusal(args)
        if event in _PEER_EVENTS:
            return self._peer_refusal(args)
        if event == "socket.bind":
            return self._bind_refusal(args)
        if event == "http.client.connect":
            return self._host_port_refusal(args[1], args[2])
        if event == "sqlite3.connect":
            return self._sqlite_refusal(args)
        return None

    # --- files ------------------------------------------------------------------

    def _open_refusal(self, args: tuple[object, ...]) -> str | None:
        path, mode, flags = args[0], args[1], args[2]
        writes = isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        if isinstance(mode, str) and _WRITE_MODE_CHARS.intersection(mode):
            writes = True
        if not writes:
            return None
        if isinstance(path, int):
            return self._fd_refusal(path, "writing")
        if path is None:
            return "opening an unnamed path for writing is not allowed"
        if not _is_absolute(path):
            return "writing through a relative path is not allowed (it cannot be checked)"
        resolved = _resolve(path)
        if resolved is None:
            return "opening an unnamed path for writing is not allowed"
        if self._may_write(resolved) or self._is_device(resolved):
            return None
        return f"writing {_shown(resolved)} is not allowed ({self._where()})"

    def _path_refusal(self, event: str, args: tuple[object, ...]) -> str | None:
        for index in _PATH_EVENTS[event]:
            if index >= len(args):
                continue
            path = args[index]
            if isinstance(path, int):
                reason = self._fd_refusal(path, "changing")
                if reason is not None:
                    return reason
                continue
            if not _is_absolute(path):
                return (
                    "changing a file through a relative path is not allowed (it cannot be checked)"
                )
            resolved = _resolve(path)
            if resolved is None:
                return "an unnamed path cannot be checked"
            if self._may_write(resolved):
                continue
            if event == "os.mkdir" and self._is_journal_ancestor(resolved):
                continue
            return f"changing {_shown(resolved)} is not allowed ({self._where()})"
        return None

    def _fd_refusal(self, fd: int, verb: str) -> str | None:
        """A call on a file descriptor: checked by the file it names in /proc/self/fd."""
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return f"{verb} through a file descriptor that cannot be checked is not allowed"
        if not target.startswith(os.sep):
            return None  # a pipe, socket or anonymous inode: no file on disk
        if self._may_write(target) or self._is_device(target):
            return None
        return f"{verb} {_shown(target)} through a file descriptor is not allowed ({self._where()})"

    def _sqlite_refusal(self, args: tuple[object, ...]) -> str | None:
        name = _text_path(args[0]) or ""
        if name in ("", ":memory:"):
            return None
        if name.startswith("file:"):
            name = name[5:].split("?", 1)[0]
        resolved = _resolve(name) if _is_absolute(name) else None
        if resolved is not None and self._in_journal(resolved):
            return None
        return "a database outside the journal folder is not allowed"

    def _may_write(self, resolved: str) -> bool:
        if self.setup is not None and resolved in self.setup.files:
            return True
        return self._in_journal(resolved)

    def _where(self) -> str:
        if self.setup is not None:
            return "setup mode writes only the config file and its backup"
        return "outside the journal folder"

    def _in_journal(self, resolved: str) -> bool:
        if self.journal_dir is None:
            return False
        root = str(self.journal_dir)
        return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)

    def _is_journal_ancestor(self, resolved: str) -> bool:
        if self.journal_dir is None:
            return False
        root = str(self.journal_dir)
        return root.startswith(resolved.rstrip(os.sep) + os.sep)

    def _is_device(self, resolved: str) -> bool:
        return any(fnmatch.fnmatchcase(resolved, pattern) for pattern in self.devices)

    # --- processes --------------------------------------------------------------

    def _import_refusal(self, args: tuple[object, ...]) -> str | None:
        if args and args[0] in _PROCESS_MODULES:
            return f"loading another copy of {_shown(args[0])} is not allowed"
        return None

    # --- network ----------------------------------------------------------------

    def _peer_refusal(self, args: tuple[object, ...]) -> str | None:
        sock, address = args[0], args[1]
        family = getattr(sock, "family", None)
        if address is None:  # sendmsg on a connected socket: its connect was checked
            return None
        if family == socket.AF_UNIX:
            if self.notify_socket is not None and _unix_address(address) == _unix_address(
                self.notify_socket
            ):
                return None
            return "a unix socket other than systemd's notify socket is not allowed"
        if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if self._is_own_listener(address[0], address[1]):
                return None
            return self._host_port_refusal(address[0], address[1])
        return "this kind of socket is not allowed"

    def _is_own_listener(self, host: object, port: object) -> bool:
        """A connection to the exact address and port of a loopback socket this process
        bound and is listening on: a socketpair stand-in (paho wakes its loop this way),
        so the bytes never leave the process. Another loopback address with the same
        port is somebody else."""
        ip = _normal_ip(host) if isinstance(host, str) else None
        if ip is None:
            return False
        for sock in list(self._own_listeners):
            try:
                name = sock.getsockname()
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            except OSError:
                continue
            if listening and name[1] == port and _normal_ip(str(name[0])) == ip:
                return True
        return False

    def _host_port_refusal(self, host: object, port: object) -> str | None:
        if self.broker is not None and port == self.broker[1] and self._is_broker_host(host):
            return None
        return f"reaching {_shown(host)}:{_shown(port)} is not the configured broker"

    def _name_refusal(self, args: tuple[object, ...]) -> str | None:
        host = args[0]
        if isinstance(host, tuple):  # getnameinfo takes a socket address
            host = host[0] if host else None
        if self._is_broker_host(host) or self._is_listen_host(host):
            return None
        return f"looking up {_shown(host)} is not the configured broker"

    def _bind_refusal(self, args: tuple[object, ...]) -> str | None:
        sock, address = args[0], args[1]
        family = getattr(sock, "family", None)
        if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return "binding a socket is not allowed"
        if len(address) < 2:
            return "binding a socket is not allowed"
        if self.setup is not None:
            return self._setup_bind_refusal(address)
        # socket.create_connection binds to ("", 0) when given a source address, as
        # paho does; an ephemeral client port is what connect() picks anyway.
        if address[1] != 0:
            return "binding a socket is not allowed"
        ip = _normal_ip(address[0]) if isinstance(address[0], str) else None
        if ip is not None and ipaddress.ip_address(ip).is_loopback:
            self._own_listeners.add(sock)  # type: ignore[arg-type]
        return None

    def _setup_bind_refusal(self, address: tuple[Any, ...]) -> str | None:
        assert self.setup is not None
        host, port = self.setup.listen
        ip = _normal_ip(address[0]) if isinstance(address[0], str) else None
        if ip != host or address[1] != port:
            return f"setup mode listens only on {_shown(host)}:{port}"
        with self._lock:
            if self._setup_bound:
                return "setup mode allows one listening socket, and it exists"
            self._setup_bound = True
        return None

    def _is_listen_host(self, host: object) -> bool:
        if self.setup is None or not isinstance(host, str):
            return False
        return _normal_ip(host) == self.setup.listen[0]

    def _is_broker_host(self, host: object) -> bool:
        if self.broker is None or host is None:
            return False
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if not isinstance(host, str):
            return False
        if host.lower() == self.broker[0].lower():
            return True
        ip = _normal_ip(host)
        if ip is None:
            return False
        if ip in self._broker_ips:
            return True
        # The broker's address may have changed since install (or DNS was not up yet).
        self._broker_ips = self._broker_ips | _resolve_host(self.broker)
        return ip in self._broker_ips

    # --- the hook ---------------------------------------------------------------

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if event not in _WATCHED or getattr(self._busy, "on", False):
            return
        self._busy.on = True
        try:
            reason = self.refusal(event, args)
            if reason is not None:
                self._record(event, reason)
        finally:
            self._busy.on = False

    def _record(self, event: str, reason: str) -> None:
        line = f"privacy guard refused {event}: {reason}"
        with self._lock:
            self.violations += 1
            if self.first_refusal is None:
                self.first_refusal = line
            first_of_kind = reason not in self._warned
            if first_of_kind and len(self._warned) < 1000:
                self._warned.add(reason)
        if self.mode == "warn":
            if first_of_kind:
                log.warning("%s (warn mode: allowed)", line)
            return
        log.error("%s", line)
        raise PrivacyViolation(line)


_installed: Guard | None = None


def install_guard(
    mode: GuardMode,
    *,
    journal_dir: Path | None,
    broker: tuple[str, int] | None,
    notify_socket: str | bytes | None = None,
    devices: Sequence[str] = DEFAULT_DEVICES,
) -> Guard:
    """Install the process-wide guard (once; audit hooks cannot be removed) and return it.

    Call it after imports and before the first frame. `journal_dir` is the only
    folder that may be written, through absolute paths (None: none); `broker` is the
    only network peer (None: none); `notify_socket` is `$NOTIFY_SOCKET` or its sendto
    address. The broker's host name is resolved now and again whenever an unknown
    address is contacted.
    """
    _check_mode(mode)
    journal = Path(os.path.realpath(journal_dir)) if journal_dir is not None else None
    notify = notify_socket
    if isinstance(notify, str) and notify.startswith("@"):
        notify = b"\0" + notify[1:].encode()
    guard = Guard(
        mode=mode,
        journal_dir=journal,
        broker=broker,
        notify_socket=notify,
        devices=tuple(devices),
        _broker_ips=_resolve_host(broker) if broker is not None else frozenset(),
    )
    _activate(guard)
    if mode != "off":
        log.info(
            "privacy guard installed (%s): writes only in %s, network only to %s",
            mode,
            journal if journal is not None else "nowhere",
            f"{broker[0]}:{broker[1]}" if broker is not None else "nobody",
        )
    return guard


def install_setup_guard(
    mode: GuardMode = "enforce",
    *,
    listen: tuple[str, int],
    config_file: Path,
    backup_file: Path,
    devices: Sequence[str] = DEFAULT_DEVICES,
) -> Guard:
    """Install the guard for setup mode (once per process) and return it.

    Allowed besides reading: one `bind` to exactly `listen` (a literal IP address and
    a port; port 0 means one ephemeral port), then listening and the connections
    accepted on that socket (accept and send raise no audit event); name lookups of
    that address only; writes, renames, copies and permission changes whose every
    path is `config_file` or `backup_file` (resolved now; the backup need not exist);
    the camera devices. Refused: every other bind, every outgoing connection or
    datagram (there is no broker and no journal in setup mode), every other write,
    processes and ctypes, as `install_guard` refuses them. Write the files through
    absolute paths (a relative path is refused, as always). Call it after the
    detector, the camera's and the web server's libraries are loaded and before the
    server binds; `Guard.check()` raises once anything was refused. Raises ValueError
    for a host name (give its address) or a port outside 0-65535.
    """
    _check_mode(mode)
    host, port = listen
    ip = _normal_ip(host)
    if ip is None:
        raise ValueError(f"setup mode needs a literal IP address to listen on, got {host!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"setup mode's port must be 0-65535, got {port}")
    files = frozenset(os.path.realpath(path) for path in (config_file, backup_file))
    guard = Guard(
        mode=mode,
        journal_dir=None,
        broker=None,
        devices=tuple(devices),
        setup=SetupPermit(listen=(ip, port), files=files),
    )
    _activate(guard)
    if mode != "off":
        log.info(
            "privacy guard installed for setup (%s): listening only on %s:%d, writing only %s",
            mode,
            ip,
            port,
            " and ".join(sorted(files)),
        )
    return guard


def _check_mode(mode: str) -> None:
    if mode not in ("enforce", "warn", "off"):
        raise ValueError(f"guard mode must be 'enforce', 'warn' or 'off', got {mode!r}")
    if _installed is not None and _installed.mode != "off":
        raise RuntimeError("the privacy guard is already installed in this process")


def _activate(guard: Guard) -> None:
    global _installed  # noqa: PLW0603 - one hook per process, by the nature of audit hooks
    _installed = guard
    if guard.mode == "off":
        log.warning("privacy guard is off: file writes, connections and subprocesses are unchecked")
        return
    _wrap_fork_exec(guard)
    sys.addaudithook(guard._hook)


def _wrap_fork_exec(guard: Guard) -> None:
    """Route `_posixsubprocess.fork_exec` through the guard.

    multiprocessing's spawn and forkserver start methods (and its resource tracker)
    call it directly, raising no audit event, and the new interpreter would start with
    no hook. `subprocess` keeps its own reference; it is replaced too. A fresh import
    of the module is refused by the hook ("import" event).
    """
    import subprocess

    try:
        import _posixsubprocess
    except ImportError:  # not a POSIX system: nothing to wrap
        return
    original: Callable[..., int] = _posixsubprocess.fork_exec

    def fork_exec(*args: object, **kwargs: object) -> int:
        guard._hook(FORK_EXEC_EVENT, ())
        return original(*args, **kwargs)

    _posixsubprocess.fork_exec = fork_exec
    if getattr(subprocess, "_fork_exec", None) is original:
        subprocess._fork_exec = fork_exec  # type: ignore[attr-defined]


def _text_path(path: object) -> str | None:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        return os.fsdecode(path)
    return path if isinstance(path, str) else None


def _resolve(path: object) -> str | None:
    text = _text_path(path)
    if text is None:
        return None
    try:
        return os.path.realpath(text)
    except (ValueError, OSError):
        return None


def _is_absolute(path: object) -> bool:
    text = _text_path(path)
    return text is not None and os.path.isabs(text)


def _unix_address(address: object) -> bytes | None:
    if isinstance(address, str):
        return address.encode()
    if isinstance(address, bytes):
        return address
    return None


def _normal_ip(host: str) -> str | None:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _resolve_host(broker: tuple[str, int]) -> frozenset[str]:
    host, port = broker
    literal = _normal_ip(host)
    if literal is not None:
        return frozenset({literal})
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        log.warning("privacy guard could not resolve the broker's host name yet")
        return frozenset()
    ips = {_normal_ip(str(info[4][0])) for info in infos}
    return frozenset(ip for ip in ips if ip is not None)


def _shown(value: object) -> str:
    """A path or address for a log line: text only, cut short, no raw bytes."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
