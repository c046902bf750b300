"""The full-run observers catch what they are there to catch."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.privacy.audit import payload_problems, read_trace, tree_changes, tree_state

PREFIX = "headcount/hq/door-1/"
STATE = {
    "v": 1,
    "site": "hq",
    "sensor": "door-1",
    "ts": "2026-11-28T15:00:00.100Z",
    "boot": "5f0c1a",
    "seq": 1,
    "frame": 2,
    "zones": {"lobby": {"occupancy": 3}},
    "lines": {"entrance": {"in": 1, "out": 0}},
}


def problems(suffix: str, doc: object) -> list[str]:
    return payload_problems(PREFIX + suffix, json.dumps(doc).encode(), PREFIX, "homeassistant/")


def test_a_clean_state_passes() -> None:
    assert problems("state", STATE) == []
    assert payload_problems(PREFIX + "status", b"online", PREFIX, "homeassistant/") == []


def test_extra_fields_arrays_and_blobs_are_caught() -> None:
    assert problems("state", {**STATE, "boxes": [[0.1, 0.2, 0.3, 0.4]]})
    assert problems("state", {**STATE, "zones": {"lobby": {"occupancy": 3, "ids": [4, 5]}}})
    blob = base64.b64encode(bytes(range(48))).decode()
    assert problems("state", {**STATE, "boot": blob})
    assert problems("state", {**STATE, "boot": "ab" * 20})
    assert problems("frames", STATE)
    assert payload_problems(PREFIX + "status", b"\x89PNG", PREFIX, "homeassistant/")


def test_trace_reader_finds_writes_and_peers(tmp_path: Path) -> None:
    text = "\n".join(
        [
            '7 openat(AT_FDCWD</srv>, "rel.jpg", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3</srv/rel.jpg>',
            '7 openat(AT_FDCWD</srv>, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3</etc/hosts>',
            '7 openat(4</j>, "seg", O_RDWR|O_CREAT, 0600) = 5</j/seg>',
            '8 rename("/j/a.tmp", "/j/a") = 0',
            '8 unlinkat(AT_FDCWD</srv>, "old.png", 0) = 0',
            "8 listen(6<TCP:[127.0.0.1:33483]>, 1) = 0",
            '8 connect(5<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(1883), sin_addr=inet_addr("10.0.0.2")}, 16) = 0',
            '8 connect(7<TCP:[2]>, {sa_family=AF_INET, sin_port=htons(33483), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
            '8 sendto(9<UDP:[3]>, ""..., 4, 0, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 4',
            '8 connect(10<UNIX:[4]>, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110) = 0',
            '8 sendto(5<TCP:[1]>, ""..., 10, 0, NULL, 0) = 10',
            '9 mknodat(AT_FDCWD</srv>, "track7_0.31_0.62", S_IFIFO|0600) = 0',
            "9 fchmod(3</etc/passwd>, 0666) = 0",
            "9 utimensat(4</srv/old.png>, NULL, NULL, 0) = 0",
            '9 fsetxattr(5</srv/x>, "user.track", "7", 1, 0) = 0',
        ]
    )
    trace = read_trace(text, tmp_path)
    assert trace.written == [
        "/srv/rel.jpg",
        "/j/seg",
        "/j/a.tmp",
        "/j/a",
        "/srv/old.png",
        "/srv/track7_0.31_0.62",
        "/etc/passwd",
        "/srv/old.png",
        "/srv/x",
    ]
    assert trace.ip_peers == [("10.0.0.2", 1883), ("127.0.0.1", 33483), ("::1", 53)]
    assert trace.own_listeners == {("127.0.0.1", 33483)}
    assert trace.unix_peers == ['"/run/x.sock"']


def test_tree_changes_see_new_and_modified_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    before = tree_state([tmp_path], [tmp_path / "skip"])
    (tmp_path / "a").write_text("22")
    (tmp_path / "b").write_text("new")
    (tmp_path / "skip").mkdir()
    (tmp_path / "skip" / "c").write_text("ignored")
    assert tree_changes(before, tree_state([tmp_path], [tmp_path / "skip"])) == [
        str(tmp_path / "a"),
        str(tmp_path / "b"),
    ]
