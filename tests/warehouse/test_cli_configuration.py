"""A misconfigured environment stops the command line with a clear error, never a traceback:
pydantic's traceback prints its input, every setting read from the environment, secrets too."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import ValidationError

SECRET = "audit-key-never-printed-7f3a"


def test_the_console_script_is_the_guarded_entry_point() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "healthlink"]
    assert script.value == "warehouse.cli.main:main"


def test_production_without_its_secrets_is_a_clear_error_repeating_no_secret(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HEALTHLINK_") or key == "HEALTHLINK_REFERENCE_CODES_DIR"
    }
    env |= {"HEALTHLINK_HOME": str(tmp_path / "home"), "HEALTHLINK_AUDIT_KEY": SECRET}
    done = subprocess.run(
        [sys.executable, "-c", "from warehouse.cli.main import main; main()", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "configuration error" in output and "HEALTHLINK_PSEUDONYM_KEY" in output
    assert "Traceback" not in output and SECRET not in output
    assert not (tmp_path / "home").exists()  # nothing was created


def test_settings_errors_never_repeat_their_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wherever settings are read (the API's start-up too), their errors carry no input."""
    from warehouse.api.config import ApiSettings
    from warehouse.settings import Settings

    monkeypatch.delenv("HEALTHLINK_ENVIRONMENT", raising=False)
    monkeypatch.delenv("HEALTHLINK_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("HEALTHLINK_AUDIT_KEY", SECRET)
    monkeypatch.setenv("HEALTHLINK_API_TOKEN_TTL_MINUTES", SECRET)
    for model in (Settings, ApiSettings):
        with pytest.raises(ValidationError) as raised:
            model()
        assert SECRET not in str(raised.value)
