"""Structured logs on stderr, so that stdout stays clean for `--json` output.

Log events carry codes and counts only; nothing personal is ever passed to a logger.
"""

from __future__ import annotations

import logging
import sys

import structlog


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    """A logger on the process's stderr of the moment. Binding the stream once would leave
    every later event writing to a closed file in a process that swapped sys.stderr for a
    while (a test runner's capture, typer's CliRunner running the CLI in-process)."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,  # see _stderr_logger
    )
