"""A HOSxP hospital for the demo: its database in MariaDB, a read-only login kept in a
secrets file, its registry YAML (`kind: hosxp`) and its patients' consent registrations.

The demo calls `build_demo_hosxp_hospital` when a MariaDB server answers; when none does
it gets `HosxpServerUnavailable` and says so (the demo must run with only Python).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pymysql  # type: ignore[import-untyped]
import yaml

from synthetic.hosxp import HosxpWorld, create_hosxp_database, grant_reader, hosxp_registrations


class HosxpServerUnavailable(RuntimeError):
    """No MariaDB/MySQL server answered (the message names host and port, nothing else)."""


@dataclass(frozen=True)
class DemoHosxpHospital:
    hospital_code: str
    database: str
    reader: str  # the read-only login (its password is only in secrets_file)
    secrets_file: Path
    registry_file: Path
    registrations: pa.Table  # columns of consent/registrations.csv; append to the demo's
    world: HosxpWorld


def hospital_yaml(
    hospital_code: str,
    *,
    name: str,
    network: str,
    health_region: int,
    participating_since: date,
    connector: dict[str, Any],
    reject_threshold: float = 0.05,
) -> dict[str, Any]:
    """A registry document for one hospital (the fields synthetic.hospitals writes)."""
    return {
        "hospital_code": hospital_code,
        "name": name,
        "network": network,
        "health_region": health_region,
        "participating_since": participating_since,
        "per_visit_consent": None,
        "schedule": "0 2 * * *",
        "reject_threshold": reject_threshold,
        "freshness_sla_days": 4,
        "connector": connector,
        "contacts": [
            {
                "name": f"Data team {hospital_code}",
                "role": "data_engineer",
                "email": f"data-{hospital_code}@example.org",
            }
        ],
    }


def write_hospital_yaml(registry_dir: Path, document: dict[str, Any]) -> Path:
    path = registry_dir / "hospitals" / f"{document['hospital_code']}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def build_demo_hosxp_hospital(
    out_dir: Path,
    registry_dir: Path,
    *,
    hospital_code: str,
    health_region: int,
    start: date,
    network: str | None = None,
    days: int = 2,
    patients: int = 40,
    seed: int = 13,
    host: str = "127.0.0.1",
    port: int = 3306,
    admin_user: str = "root",
    admin_password: str = "",
) -> DemoHosxpHospital:
    """Create database `healthlink_demo_hosxp_<code>` (dropped first if it exists) with its
    reader login, the secrets file `out_dir/hosxp-secrets.json`, and the YAML in
    `registry_dir/hospitals/` (participating from `start`, in `network`, by default the first
    of `registry_dir/networks.yml`). Append `.registrations` to the demo's registrations file
    (`append_registrations`) before importing it."""
    if network is None:
        networks = yaml.safe_load((registry_dir / "networks.yml").read_text(encoding="utf-8"))
        network = str(networks["networks"][0]["code"])
    try:
        admin = pymysql.connect(
            host=host,
            port=port,
            user=admin_user,
            password=admin_password,
            charset="utf8mb4",
            connect_timeout=5,
        )
    except pymysql.MySQLError:
        raise HosxpServerUnavailable(f"no MariaDB/MySQL server answered at {host}:{port}") from None
    database = f"healthlink_demo_hosxp_{hospital_code}"
    reader = f"hl_demo_{hospital_code}"
    password = secrets.token_urlsafe(16)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (reader,))
        world = create_hosxp_database(
            admin,
            database,
            hospital_code=hospital_code,
            start=start,
            days=days,
            patients=patients,
            seed=seed,
        )
        grant_reader(admin, database, reader, password)
    finally:
        admin.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = out_dir / "hosxp-secrets.json"
    entry = {"host": host, "port": port, "user": reader, "password": password}
    secrets_file.write_text(json.dumps({hospital_code: entry}), encoding="utf-8")
    secrets_file.chmod(0o600)
    document = hospital_yaml(
        hospital_code,
        name=f"โรงพยาบาลสาธิต HOSxP {hospital_code}",
        network=network,
        health_region=health_region,
        participating_since=start,
        connector={
            "kind": "hosxp",
            "database": database,
            "secrets_file": str(secrets_file.resolve()),
            "secrets_key": hospital_code,
        },
    )
    registered = datetime.combine(start - timedelta(days=30), time(10, 0))
    return DemoHosxpHospital(
        hospital_code=hospital_code,
        database=database,
        reader=reader,
        secrets_file=secrets_file,
        registry_file=write_hospital_yaml(registry_dir, document),
        registrations=hosxp_registrations(world, registered),
        world=world,
    )


def append_registrations(csv_path: Path, registrations: pa.Table) -> None:
    """Add rows to a consent/registrations.csv written by synthetic.consent (same columns,
    no quoting: the values hold no commas or quotes)."""
    with csv_path.open("ab") as handle:
        options = pacsv.WriteOptions(quoting_style="none", include_header=False)
        pacsv.write_csv(registrations, handle, options)
