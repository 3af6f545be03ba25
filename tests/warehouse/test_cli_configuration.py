"""A misconfigured environment stops the command line with a clear error, never a traceback:
pydantic's traceback prints its input, every setting read from the environment, secrets too."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

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
