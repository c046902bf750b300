"""Start-up validation of broker settings, the backoff, the schemas: no broker needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.commands import CommandInbox
from edge.config import parse_config
from edge.mqtt.client import MqttConfigError, MqttSink, backoff_delay
from edge.mqtt.settings import PASSWORD_ENV, resolve_settings
from edge.schema import message_schemas

LINE = {"name": "door", "points": [[0.1, 0.5], [0.9, 0.5]], "inside": [0.5, 0.9]}


def config(tmp_path: Path, **mqtt: object) -> object:
    return parse_config(
        {
            "sensor": {"id": "door-1", "site": "hq"},
            "lines": [LINE],
            "mqtt": mqtt,
            "journal": {"dir": str(tmp_path / "journal")},
        }
    )


def refusal(tmp_path: Path, env: dict[str, str] | None = None, **mqtt: object) -> str:
    with pytest.raises(MqttConfigError) as info:
        MqttSink(config(tmp_path, **mqtt), boot="b", inbox=CommandInbox(), env=env or {})  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_missing_password_file(tmp_path: Path) -> None:
    assert "does not exist; fix [mqtt] password_file" in refusal(
        tmp_path, password_file=str(tmp_path / "nope")
    )


def test_empty_password_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("\n")
    assert "is empty" in refusal(tmp_path, password_file=str(tmp_path / "pw"))


def test_missing_ca(tmp_path: Path) -> None:
    assert "fix [mqtt] tls.ca" in refusal(tmp_path, tls={"ca": str(tmp_path / "ca.crt")})


def test_ca_that_is_not_pem(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("hello")
    assert "not a PEM certificate" in refusal(tmp_path, tls={"ca": str(tmp_path / "ca.crt")})


def test_cert_without_key(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    message = refusal(tmp_path, tls={"ca": str(tmp_path / "ca.crt"), "cert": str(tmp_path / "c")})
    assert "both cert and key" in message


def test_unusable_journal_folder(tmp_path: Path) -> None:
    (tmp_path / "journal").write_text("a file, not a folder")
    assert "set [journal] dir" in refusal(tmp_path)


def test_password_file_wins_over_environment_and_username_defaults_to_id(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    cfg = config(tmp_path, password_file=str(tmp_path / "pw"))
    settings = resolve_settings(cfg, {PASSWORD_ENV: "from-env"})  # type: ignore[arg-type]
    assert settings.password == "from-file"
    assert settings.username == "door-1"
    assert "from-file" not in repr(settings)
    assert resolve_settings(config(tmp_path), {PASSWORD_ENV: "e"}).password == "e"  # type: ignore[arg-type]
    assert resolve_settings(config(tmp_path), {}).password is None  # type: ignore[arg-type]


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_grows_is_capped_and_jittered(attempt: int) -> None:
    low = backoff_delay(attempt, 1.0, 60.0, rng=lambda: 0.0)
    high = backoff_delay(attempt, 1.0, 60.0, rng=lambda: 0.999999)
    cap = min(60.0, 2.0**attempt)
    assert low == pytest.approx(cap / 2)
    assert high == pytest.approx(cap, rel=1e-5)
    if attempt:
        assert low >= backoff_delay(attempt - 1, 1.0, 60.0, rng=lambda: 0.0)


def test_schemas_of_every_topic() -> None:
    schemas = message_schemas()
    assert set(schemas) == {
        "state",
        "counts",
        "status",
        "privacy",
        "cmd/reset",
        "reset",
        "discovery",
    }
    for name, schema in schemas.items():
        assert schema["title"] == name
        assert schema["description"]
    for name in ("state", "counts", "privacy", "cmd/reset", "reset", "discovery"):
        assert schemas[name]["additionalProperties"] is False  # extra="forbid"
    assert set(schemas["cmd/reset"]["required"]) == {"action", "id", "lines"}
    assert set(schemas["counts"]["required"]) >= {"boot", "seq", "start", "end", "lines", "zones"}
    assert schemas["status"]["enum"] == ["online", "offline"]
    assert "in" in schemas["state"]["$defs"]["LineTotals"]["properties"]  # the wire name
