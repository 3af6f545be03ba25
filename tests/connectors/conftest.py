"""Fixtures for the connector tests; the file writers live in tests/support/file43_extracts.py."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from connectors.file43 import File43Connector, File43Settings
from tests.support.file43_extracts import EXTRACT_DATE, HOSPITAL, Row, write_extract
from tests.support.hosxp_database import hosxp_hospital
from tests.support.machine import START


@pytest.fixture
def read_extract(tmp_path: Path):
    """Write an extract and read it: read_extract(files, header=..., encoding=..., era=...)."""

    def _read(
        files: Mapping[str, list[Row]] | None = None,
        *,
        header: bool = True,
        encoding: str = "utf-8",
        era: str = "gregorian",
        default_rows: bool = True,
    ):
        folder = write_extract(
            tmp_path, files, header=header, encoding=encoding, default_rows=default_rows
        )
        settings = File43Settings(path=tmp_path, encoding=encoding, date_era=era, header=header)
        return File43Connector(settings).read(HOSPITAL, folder, EXTRACT_DATE)

    return _read


@pytest.fixture
def hosxp(tmp_path: Path):
    """A synthetic HOSxP hospital (START and the 2 days after) in a throwaway MariaDB database."""
    with hosxp_hospital(tmp_path, START) as hospital:
        yield hospital
