"""Observers for the full-run tests: a file-tree snapshot, an strace reader, a payload audit.

They look at the sensor from outside the process: what is on disk, which system calls
the process tree made, and what reached the broker.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError

from edge.messages import Bucket, Snapshot
from edge.mqtt.discovery import DeviceDiscovery
from edge.mqtt.payloads import ResetDone
from edge.privacy.manifest import PrivacyManifest

# --- files on disk ---------------------------------------------------------------------

TreeState = dict[str, tuple[str, int, int]]


def tree_state(roots: list[Path], exclude: list[Path]) -> TreeState:
    """Every file and folder under the roots: path -> (kind, size, mtime_ns)."""
    skip = [str(p) for p in exclude]
    out: TreeState = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not _under(os.path.join(folder, d), skip)]
            for name in [*dirs, *files]:
                path = os.path.join(folder, name)
                if _under(path, skip):
                    continue
                st = os.lstat(path)
                kind = "dir" if os.path.isdir(path) else "file"
                out[path] = (
                    kind,
                    st.st_size if kind == "file" else 0,
                    st.st_mtime_ns if kind == "file" else 0,
                )
    return out


def tree_changes(before: TreeState, after: TreeState) -> list[str]:
    """Paths added, removed or modified between two snapshots."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


# --- strace ---------------------------------------------------------------------------

WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_CALL = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FD_PATH = re.compile(r"^\d+<(/[^>]*)>$")
_DIRFD = re.compile(r"^(?:AT_FDCWD|\d+)<([^>]*)>")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(
    r'sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"'
)
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=(@?"[^"]*")')
_LISTEN = re.compile(r"^\d+<TCPv?6?:\[([0-9.]+):(\d+)\]>")
_FAMILY = re.compile(r"sa_family=(AF_\w+)")

PATH_CALLS = {
    "mkdir": (0,),
    "mkdirat": (1,),
    "rename": (0, 1),
    "renameat": (1, 3),
    "renameat2": (1, 3),
    "unlink": (0,),
    "unlinkat": (1,),
    "rmdir": (0,),
    "truncate": (0,),
    "link": (0, 1),
    "linkat": (1, 3),
    "symlink": (1,),
    "symlinkat": (2,),
    "creat": (0,),
    # The guard cannot see these (no audit event): the strace record must.
    "mknod": (0,),
    "mknodat": (1,),
    # Metadata changes, by path or on a descriptor (shown as 3</path> by -yy).
    "chmod": (0,),
    "fchmodat": (1,),
    "fchmod": (0,),
    "chown": (0,),
    "lchown": (0,),
    "fchownat": (1,),
    "fchown": (0,),
    "ftruncate": (0,),
    "setxattr": (0,),
    "lsetxattr": (0,),
    "fsetxattr": (0,),
    "removexattr": (0,),
    "fremovexattr": (0,),
    "utimensat": (1,),
}
TRACED = "connect,sendto,sendmsg,listen,open,openat,openat2," + ",".join(PATH_CALLS)


@dataclass
class Trace:
    """What the process tree did: written paths, IP peers, unix peers, other families."""

    written: list[str] = field(default_factory=list)
    ip_peers: list[tuple[str, int]] = field(default_factory=list)
    own_listeners: set[tuple[str, int]] = field(default_factory=set)
    unix_peers: list[str] = field(default_factory=list)
    other_families: list[str] = field(default_factory=list)
    calls: int = 0


def read_trace(text: str, cwd: Path) -> Trace:
    """Parse `strace -f -yy -qq -e trace=TRACED` output (with -o: `PID call(args) = ret`).

    `-yy` shows a listening socket's address, so a connection the process makes to its
    own listener (a socketpair stand-in) can be told from one to a peer.
    """
    trace = Trace()
    for line in text.splitlines():
        match = _CALL.match(line.strip())
        if match is None:
            continue
        call, args = match.group(2), match.group(3)
        trace.calls += 1
        if call in ("open", "openat", "openat2", "creat"):
            flags_part = args.split('", ', 1)[1] if '", ' in args else ""
            if call == "creat" or any(flag in flags_part.split(",")[0] for flag in WRITE_FLAGS):
                trace.written.append(_path_arg(args, 0 if call in ("open", "creat") else 1, cwd))
        elif call in PATH_CALLS:
            for index in PATH_CALLS[call]:
                trace.written.append(_path_arg(args, index, cwd))
        elif call == "listen":
            listening = _LISTEN.match(args)
            if listening is not None:
                trace.own_listeners.add((listening.group(1), int(listening.group(2))))
        elif call in ("connect", "sendto", "sendmsg"):
            _peer(args, trace)
    return trace


def _split_args(args: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quoted = False
    current = ""
    i = 0
    while i < len(args):
        ch = args[i]
        if quoted:
            current += ch
            if ch == "\\" and i + 1 < len(args):
                current += args[i + 1]
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            current += ch
        elif ch in "{[(<":
            depth += 1
            current += ch
        elif ch in "}])>":
            depth -= 1
            current += ch
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current.strip())
    return parts


def _path_arg(args: str, index: int, cwd: Path) -> str:
    parts = _split_args(args)
    if index >= len(parts):
        return "<unparsed>"
    part = parts[index].strip()
    if part == "NULL" and index > 0:  # futimens: utimensat(fd, NULL, ...) names the fd
        part = parts[index - 1].strip()
    described = _FD_PATH.match(part)
    if described is not None:
        return os.path.normpath(described.group(1))
    quoted = _QUOTED.search(part)
    path = quoted.group(1) if quoted else part
    if path.startswith("/"):
        return os.path.normpath(path)
    base = str(cwd)
    if index > 0:
        dirfd = _DIRFD.match(parts[index - 1])
        if dirfd is not None:
            base = dirfd.group(1)
    return os.path.normpath(os.path.join(base, path))


def _peer(args: str, trace: Trace) -> None:
    if "sa_family=" not in args:
        return  # send on a connected socket: its connect was recorded
    inet = _INET.search(args) or _INET6.search(args)
    if inet is not None:
        trace.ip_peers.append((inet.group(2), int(inet.group(1))))
        return
    unix = _UNIX.search(args)
    if unix is not None:
        trace.unix_peers.append(unix.group(1))
        return
    family = _FAMILY.search(args)
    if family is not None and family.group(1) != "AF_UNSPEC":
        trace.other_families.append(family.group(1))


# --- payloads -------------------------------------------------------------------------

_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_HEX_BLOB = re.compile(r"[0-9a-fA-F]{24,}")


def payload_problems(topic: str, payload: bytes, prefix: str, discovery_prefix: str) -> list[str]:
    """Why a published payload breaks the whitelist (empty: it is fine)."""
    suffix = topic.removeprefix(prefix)
    if suffix == "status":
        return (
            [] if payload in (b"online", b"offline") else [f"{topic}: status is not online/offline"]
        )
    if suffix == "cmd/reset":
        return []  # our own test does not publish commands; a stray one is not the sensor's
    models: dict[str, type[BaseModel]] = {
        "state": Snapshot,
        "counts": Bucket,
        "privacy": PrivacyManifest,
        "reset": ResetDone,
    }
    if topic.startswith(discovery_prefix):
        if payload == b"":
            return []
        model: type[BaseModel] | None = DeviceDiscovery
    else:
        model = models.get(suffix)
    if model is None:
        return [f"{topic}: a topic outside the whitelist"]
    try:
        model.model_validate_json(payload)
    except ValidationError as error:
        return [f"{topic}: does not validate: {error.errors()[0]['msg']}"]
    problems: list[str] = []
    _walk(json.loads(payload), topic, suffix, problems, ())
    return problems


def _walk(
    value: object, topic: str, kind: str, problems: list[str], where: tuple[str, ...]
) -> None:
    here = ".".join(where) or "(top)"
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, topic, kind, problems, (*where, str(key)))
    elif isinstance(value, list):
        allowed_lists = {
            "privacy": {("collected",), ("not_collected",)},
            "config": {("device", "identifiers")},
        }.get("config" if topic.endswith("/config") else kind, set())
        if where not in allowed_lists:
            problems.append(f"{topic}: an array at {here}")
        for item in value:
            if not isinstance(item, str):
                problems.append(f"{topic}: a non-text item in the list at {here}")
    elif isinstance(value, str):
        text = value
        if kind == "privacy" and where == ("model", "sha256"):
            text = ""  # the model file's hash is the one long hex string allowed
        if _HEX_BLOB.search(text):
            problems.append(f"{topic}: a hex blob at {here}")
        for blob in _BASE64_BLOB.findall(text):
            if any(c.isdigit() for c in blob) and any(c.isupper() for c in blob):
                problems.append(f"{topic}: a base64-like blob at {here}")
        if len(value) > 512:
            problems.append(f"{topic}: a {len(value)}-character string at {here}")
