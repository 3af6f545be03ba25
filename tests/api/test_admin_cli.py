"""`healthlink api ...` (warehouse/api/admin_cli.py) on a real DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warehouse.api.admin_cli import app
from warehouse.api.credentials import LocalPincodeVerifier
from warehouse.api.sessions import LoginRefused, login, resolve
from warehouse.api.settings import ApiSettings
from warehouse.db import connect
from warehouse.settings import Settings, get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("HEALTHLINK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEALTHLINK_ENVIRONMENT", "development")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_add_suspend_reactivate_physician(home: Settings) -> None:
    runner = CliRunner()
    env = {"HEALTHLINK_NEW_PINCODE": "135790"}
    added = runner.invoke(
        app,
        [
            "add-physician",
            "--licence",
            "70001",
            "--name",
            "นพ. ซีแอลไอ",
            "--hospital",
            "10001",
            "--hospital",
            "10002",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        app, ["add-physician", "--licence", "70001", "--name", "x", "--hospital", "10001"], env=env
    )
    assert again.exit_code == 1
    assert "135790" not in again.output
    settings = ApiSettings()
    with connect(home) as conn:
        token = login(conn, LocalPincodeVerifier(), settings, "70001", "135790")
        session = resolve(conn, token, settings.terms_version)
        assert session is not None and session.hospitals == ["10001", "10002"]
    assert runner.invoke(app, ["suspend", "70001"]).exit_code == 0
    with connect(home) as conn:
        assert resolve(conn, token, settings.terms_version) is None
        with pytest.raises(LoginRefused, match="suspended"):
            login(conn, LocalPincodeVerifier(), settings, "70001", "135790")
    assert runner.invoke(app, ["reactivate", "70001"]).exit_code == 0
    with connect(home) as conn:
        assert login(conn, LocalPincodeVerifier(), settings, "70001", "135790")


def test_development_citizen_app_token_is_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("HEALTHLINK_ENVIRONMENT", "production")
    monkeypatch.setenv("HEALTHLINK_PSEUDONYM_KEY", "a-production-key")
    monkeypatch.delenv("HEALTHLINK_API_CITIZEN_APP_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match="CITIZEN_APP_TOKEN"):
            ApiSettings()
        monkeypatch.setenv("HEALTHLINK_API_CITIZEN_APP_TOKEN", "a-real-secret")
        assert ApiSettings().citizen_app_token.get_secret_value() == "a-real-secret"
    finally:
        get_settings.cache_clear()
