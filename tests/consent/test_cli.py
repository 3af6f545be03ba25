"""The consent CLI: identities only through stdin/files, refusals exit 2 with a reason code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.consent_kit import BANGKOK, KEY, key_of, national_id
from warehouse.cli.consent import app
from warehouse.settings import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    registry = tmp_path / "registry"
    (registry / "hospitals").mkdir(parents=True)
    (registry / "networks.yml").write_text(
        "networks:\n  - {code: NET01, name: Network one}\n", encoding="utf-8"
    )
    (registry / "hospitals" / "10001.yml").write_text(
        "hospital_code: '10001'\nname: Hospital one\nnetwork: NET01\nhealth_region: 1\n"
        "participating_since: 2024-01-01\nconnector: {kind: file43, path: extracts}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HEALTHLINK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEALTHLINK_REGISTRY_DIR", str(registry))
    monkeypatch.setenv("HEALTHLINK_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("HEALTHLINK_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _registration(serial: int, **overrides: object) -> str:
    verified = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    data = {
        "national_id": national_id(serial),
        "birth_date": "1980-05-01",
        "verification": {
            "method": "thaid",
            "verified_at": verified,
            "national_id": national_id(serial),
        },
        "sender": {"hospitals": ["10001"]},
    } | overrides
    return json.dumps(data)


def test_register_show_and_refusals(home: Path) -> None:
    runner = CliRunner()
    registered = runner.invoke(app, ["register", "--json"], input=_registration(1))
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["patient_key"] == key_of(1)
    assert national_id(1) not in registered.output

    again = runner.invoke(app, ["register", "--json"], input=_registration(1))
    assert again.exit_code == 2
    assert json.loads(again.stdout)["refused"] == "already_registered"

    same_day = runner.invoke(app, ["sources", key_of(1), "--all"])
    assert same_day.exit_code == 2 and "changed_today" in same_day.output

    unknown = runner.invoke(app, ["sources", key_of(1), "--network", "NOPE", "--json"])
    assert json.loads(unknown.stdout)["refused"] == "unknown_network"

    sensitive = runner.invoke(app, ["sensitive", key_of(1), "--on", "--json"])
    assert json.loads(sensitive.stdout)["sensitive_allowed"] is True

    withdrawn = runner.invoke(app, ["withdraw", key_of(1), "--json"])
    assert json.loads(withdrawn.stdout)["status"] == "withdrawn"
    rejoin = runner.invoke(app, ["rejoin", key_of(1)])
    assert rejoin.exit_code == 2 and "rejoin_same_day" in rejoin.output

    shown = runner.invoke(app, ["show", key_of(1), "--json"])
    assert json.loads(shown.stdout)["status"] == "withdrawn"
    today = datetime.now(BANGKOK).date().isoformat()  # the day is a Bangkok day
    seen = runner.invoke(app, ["who-could-see", "--date", today, "--json"])
    assert seen.exit_code == 0, seen.output
    assert [a["patient_key"] for a in json.loads(seen.stdout)] == [key_of(1)]


def test_registration_file_and_invalid_id_message_hold_no_identity(home: Path) -> None:
    path = home / "registration.json"
    bad_id = "1234567890123"
    path.write_text(
        _registration(
            2,
            national_id=bad_id,
            verification={
                "method": "thaid",
                "verified_at": "2024-01-01T00:00:00+00:00",
                "national_id": bad_id,
            },
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["register", "--file", str(path)])
    assert result.exit_code == 2
    assert "invalid_national_id" in result.output and bad_id not in result.output


def test_key_reads_the_id_from_stdin(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["key", "--json"], input=national_id(1) + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"patient_key": key_of(1)}
    refused = runner.invoke(app, ["key"], input="1234567890123\n")
    assert refused.exit_code == 2 and "1234567890123" not in refused.output


def test_import_reports_lines_not_content(home: Path) -> None:
    csv_path = home / "registrations.csv"
    csv_path.write_text(
        "cid,birth_date,registered_at,status,sender_scope,sender_networks,sender_hospitals,"
        "sensitive_allowed,verification_method,verified_at\n"
        f"{national_id(1)},1980-01-01,2025-02-01T03:00:00,active,ALL,,,false,thaid,"
        "2025-02-01T02:00:00\n"
        f"{national_id(2)},2015-01-01,2025-02-01T03:00:00,active,ALL,,,false,thaid,"
        "2025-02-01T02:00:00\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["import", str(csv_path), "--json"])
    assert result.exit_code == 1, result.output  # a refused line makes the import non-zero
    assert json.loads(result.output) == {
        "read": 2,
        "imported": 1,
        "withdrawn": 0,
        "refused": [{"line": 3, "field": "birth_date", "reason": "under_age"}],
    }
    assert national_id(2) not in result.output
