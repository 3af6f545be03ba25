"""The connector registry: settings discriminated by kind, explicit classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.base import Connector
from connectors.file43 import File43Connector, File43Settings
from connectors.registry import CONNECTORS, UnknownConnectorKind, build_connector, parse_settings


def test_file43_settings_from_a_yaml_block():
    settings = parse_settings(
        {
            "kind": "file43",
            "path": "extracts/10669",
            "encoding": "tis-620",
            "date_era": "buddhist",
            "header": False,
        }
    )
    assert isinstance(settings, File43Settings)
    assert settings.path == Path("extracts/10669") and settings.delimiter == "|"
    connector = build_connector(settings)
    assert isinstance(connector, File43Connector) and isinstance(connector, Connector)
    assert connector.kind == "file43" and CONNECTORS["file43"] is File43Connector


def test_build_connector_accepts_a_mapping():
    assert isinstance(build_connector({"kind": "file43", "path": "x"}), File43Connector)


@pytest.mark.parametrize("kind", ["fhir", None])
def test_unknown_kind_is_a_clear_error(kind):
    with pytest.raises(UnknownConnectorKind, match=r"known kinds: .*file43"):
        build_connector({"kind": kind, "path": "x"})


@pytest.mark.parametrize(
    "bad",
    [{"encoding": "latin-1"}, {"date_era": "thai"}, {"delimiter": "||"}, {"heder": True}],
)
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        parse_settings({"kind": "file43", "path": "x", **bad})


def test_extract_dir_is_the_day_folder():
    from datetime import date

    settings = File43Settings(path=Path("/data/10669"))
    assert settings.extract_dir(date(2024, 3, 1)) == Path("/data/10669/2024-03-01")
