"""Fixtures for the connector tests; the file writers live in tests/support/file43_extracts.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.file43 import File43Connector, File43Settings
from tests.support.fhir_bulk_samples import deleted_bundle, exported, referenced, server_store
from tests.support.fhir_bulk_server import (
    BulkServer,
    install_credentials,
    public_pem,
    running_bulk_server,
)
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


@pytest.fixture(scope="module")
def client_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def server(client_key: rsa.RSAPrivateKey) -> Iterator[BulkServer]:
    """A Bulk Data server exporting the Thai samples and holding their patients' records."""
    state = BulkServer(public_pem(client_key), exported(), [deleted_bundle()], referenced())
    state.store = server_store()
    with running_bulk_server(state) as running:
        yield running


@pytest.fixture
def credentials(
    tmp_path: Path, client_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> Path:
    return install_credentials(tmp_path, client_key, monkeypatch)
