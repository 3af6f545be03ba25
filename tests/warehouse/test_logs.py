"""Structured logs go to the stderr of the moment: a CLI run in-process (typer's CliRunner,
as the onboarding tests do) must not leave later events writing to its closed stream."""

from __future__ import annotations

import pytest
import structlog
from click.testing import CliRunner

from warehouse.logs import configure_logging


def test_events_after_an_in_process_cli_run_still_reach_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with CliRunner().isolation():  # what CliRunner.invoke wraps the CLI's callback in
        configure_logging()
    structlog.get_logger("tests").info("after_the_cli_run", count=1)
    assert "after_the_cli_run" in capsys.readouterr().err
