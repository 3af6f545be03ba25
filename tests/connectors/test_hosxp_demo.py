"""The demo's HOSxP hospital: a database, a read-only login, a YAML the registry loads."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pymysql
import pytest
import yaml

from connectors.registry import build_connector
from synthetic.consent import write_registrations
from synthetic.hosxp_demo import (
    HosxpServerUnavailable,
    append_registrations,
    build_demo_hosxp_hospital,
)
from tests.support.hosxp_database import connect_admin
from tests.support.machine import START
from warehouse.consent.bulk import read_registrations
from warehouse.hospital_registry import load_registry

CODE = "10914"


def test_the_demo_hospital_is_read_through_its_own_yaml(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    networks = {"networks": [{"code": "NE1", "name": "demo", "consent_type": "one_time"}]}
    (registry / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    admin = connect_admin()
    try:
        demo = build_demo_hosxp_hospital(
            tmp_path / "secrets",
            registry,
            hospital_code=CODE,
            network="NE1",
            health_region=9,
            start=START,
        )
        assert oct(demo.secrets_file.stat().st_mode & 0o777) == "0o600"
        assert json.loads(demo.secrets_file.read_text())[CODE]["user"] == demo.reader
        assert "password" not in demo.registry_file.read_text(encoding="utf-8")
        hospital = load_registry(registry).hospital(CODE)
        extract = build_connector(hospital.connector).read(CODE, None, START + timedelta(days=1))
        assert extract.tables["encounter"].num_rows == len(demo.world.rows["ovst"]) + len(
            demo.world.rows["ipt"]
        )
        assert demo.registrations.num_rows == len(demo.world.patients)
        write_registrations(tmp_path, demo.registrations.slice(0, 3))
        append_registrations(
            tmp_path / "consent" / "registrations.csv", demo.registrations.slice(3)
        )
        read = read_registrations(tmp_path / "consent" / "registrations.csv")
        assert read.table.num_rows == len(demo.world.patients) and not read.refused
        login = json.loads(demo.secrets_file.read_text())[CODE]
        with (
            pymysql.connect(**login) as reader,
            reader.cursor() as cursor,
            pytest.raises(pymysql.err.OperationalError),
        ):
            cursor.execute(f"DELETE FROM `{demo.database}`.patient")  # the login only reads
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `healthlink_demo_hosxp_{CODE}`")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (f"hl_demo_{CODE}",))
        admin.close()


def test_no_server_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(HosxpServerUnavailable, match=re.escape("127.0.0.1:1")):
        build_demo_hosxp_hospital(
            tmp_path,
            tmp_path,
            hospital_code=CODE,
            network="NE1",
            health_region=9,
            start=START,
            port=1,
        )
