"""`healthlink api ...` (warehouse/cli/api.py) on a real DuckDB file: the registry, the
pincode policy, refusals for unknown licences, unlocking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from warehouse.api.config import ApiSettings
from warehouse.api.credentials import PINCODE_POLICY, LocalPincodeVerifier
from warehouse.api.sessions import LoginRefused, login, resolve
from warehouse.cli.api import app
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect

ADDRESS = "192.0.2.1"


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
        token = login(conn, LocalPincodeVerifier(), settings, "70001", "135790", ADDRESS)
        session = resolve(conn, token, settings.terms_version)
        assert session is not None and session.hospitals == ["10001", "10002"]
    assert runner.invoke(app, ["suspend", "70001"]).exit_code == 0
    with connect(home) as conn:
        assert resolve(conn, token, settings.terms_version) is None
        with pytest.raises(LoginRefused, match="suspended"):
            login(conn, LocalPincodeVerifier(), settings, "70001", "135790", ADDRESS)
    assert runner.invoke(app, ["reactivate", "70001"]).exit_code == 0
    with connect(home) as conn:
        assert login(conn, LocalPincodeVerifier(), settings, "70001", "135790", ADDRESS)


def _add(runner: CliRunner, licence: str, pincode: str) -> Result:
    return runner.invoke(
        app,
        ["add-physician", "--licence", licence, "--name", "นพ. นโยบาย", "--hospital", "10001"],
        env={"HEALTHLINK_NEW_PINCODE": pincode},
    )


@pytest.mark.parametrize(
    "pincode",
    ["1", "12345", "1234567", "123456", "654321", "111111", "121212", "123123", "abcdef", "๑๒๓๔๕๘"],
)
def test_pincode_policy_where_we_set_pincodes(home: Settings, pincode: str) -> None:
    """Finding 2: six digits, no runs or repeats, for add-physician and set-pincode."""
    runner = CliRunner()
    refused = _add(runner, "70002", pincode)
    assert refused.exit_code == 1
    # The fixed reason only: no "done", no echo of the pincode.
    assert refused.output == f"refused: pincode must be {PINCODE_POLICY}\n"
    assert _add(runner, "70002", "582039").exit_code == 0
    weak = runner.invoke(app, ["set-pincode", "70002"], env={"HEALTHLINK_NEW_PINCODE": pincode})
    assert weak.exit_code == 1
    assert weak.output == f"refused: pincode must be {PINCODE_POLICY}\n"
    strong = runner.invoke(app, ["set-pincode", "70002"], env={"HEALTHLINK_NEW_PINCODE": "604918"})
    assert strong.exit_code == 0, strong.output


@pytest.mark.parametrize(
    "command",
    [
        ["set-pincode", "70999"],
        ["suspend", "70999"],
        ["reactivate", "70999"],
        ["suspend", "70999", "--hospital", "10001"],
        ["link-hospital", "70999", "10001"],
        ["unlock", "70999"],
        ["unlock-admin", "nobody-here"],
    ],
)
def test_commands_on_an_unknown_licence_fail_clearly(home: Settings, command: list[str]) -> None:
    """Finding 2: non-zero exit, a reason, no "done", and nothing added."""
    result = CliRunner().invoke(app, command, env={"HEALTHLINK_NEW_PINCODE": "604918"})
    assert result.exit_code == 1, result.output
    assert result.output.startswith("refused: no such") or "does not work at" in result.output
    assert "done" not in result.output
    with connect(home) as conn:
        assert conn.execute("SELECT count(*) FROM api.physician_hospital").fetchone()[0] == 0


def test_unlock_lifts_a_lock_from_every_address(home: Settings) -> None:
    runner = CliRunner()
    assert _add(runner, "70003", "582039").exit_code == 0
    settings = ApiSettings(lockout_failures=2)
    with connect(home) as conn:
        for _ in range(2):
            with pytest.raises(LoginRefused, match="invalid_credentials"):
                login(conn, LocalPincodeVerifier(), settings, "70003", "999111", ADDRESS)
        with pytest.raises(LoginRefused, match="locked"):
            login(conn, LocalPincodeVerifier(), settings, "70003", "582039", ADDRESS)
        # Another address is not locked: a public licence number locks only its guesser.
        assert login(conn, LocalPincodeVerifier(), settings, "70003", "582039", "192.0.2.2")
    unlocked = runner.invoke(app, ["unlock", "70003"])
    assert unlocked.exit_code == 0, unlocked.output
    with connect(home) as conn:
        assert login(conn, LocalPincodeVerifier(), settings, "70003", "582039", ADDRESS)


def test_hospital_suspension_leaves_other_memberships(home: Settings) -> None:
    """Finding 6: `suspend --hospital` ends that membership only."""
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "add-physician",
            "--licence",
            "70004",
            "--name",
            "x",
            "--hospital",
            "10001",
            "--hospital",
            "10002",
        ],
        env={"HEALTHLINK_NEW_PINCODE": "582039"},
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["suspend", "70004", "--hospital", "10001"]).exit_code == 0
    settings = ApiSettings()
    with connect(home) as conn:
        token = login(conn, LocalPincodeVerifier(), settings, "70004", "582039", ADDRESS)
        session = resolve(conn, token, settings.terms_version)
        assert session is not None
        assert session.hospitals == ["10002"] and session.hospital_code == "10002"
    assert runner.invoke(app, ["suspend", "70004", "--hospital", "10002"]).exit_code == 0
    with connect(home) as conn:
        assert resolve(conn, token, settings.terms_version) is None
        with pytest.raises(LoginRefused, match="suspended"):
            login(conn, LocalPincodeVerifier(), settings, "70004", "582039", ADDRESS)


def test_add_ops_account(home: Settings) -> None:
    from warehouse.api.ops_accounts import ops_login, resolve_ops

    runner = CliRunner()
    short = runner.invoke(app, ["add-ops", "ops.cli"], env={"HEALTHLINK_NEW_OPS_PASSWORD": "short"})
    assert short.exit_code == 1 and "short" not in short.output.replace("add-ops", "")
    password = "ops-cli-password-long"
    env = {"HEALTHLINK_NEW_OPS_PASSWORD": password}
    assert runner.invoke(app, ["add-ops", "ops.cli"], env=env).exit_code == 0
    assert runner.invoke(app, ["add-ops", "ops.cli"], env=env).exit_code == 1  # exists
    settings = ApiSettings()
    with connect(home) as conn:
        with pytest.raises(LoginRefused):
            ops_login(conn, settings, "ops.cli", "wrong-password-here", ADDRESS)
        token = ops_login(conn, settings, "ops.cli", password, ADDRESS)
        assert resolve_ops(conn, token) is not None
        assert resolve(conn, token, settings.terms_version) is None  # not a physician session
        stored = conn.execute("SELECT password_hash FROM api.ops_account").fetchone()[0]
        assert stored.startswith("$argon2") and password not in stored
    assert runner.invoke(app, ["unlock-ops", "ops.cli"]).exit_code == 0
    assert runner.invoke(app, ["unlock-ops", "nobody"]).exit_code == 1
