"""The demo's hospitals that are not 43-file folders: one FHIR bulk export hospital, and one
HOSxP database hospital when a MariaDB/MySQL server answers (the demo must still run on a
machine with Python alone, so it says so and goes on without it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from rich.console import Console

from synthetic.fhir_hospital import build_demo_fhir_hospital
from synthetic.hosxp_demo import (
    HosxpServerUnavailable,
    append_registrations,
    build_demo_hosxp_hospital,
)

FHIR_CODE = "10999"
HOSXP_CODE = "10998"


@dataclass
class ConnectorHospitals:
    codes: list[str] = field(default_factory=list)
    # Consent feeds to import besides the generated one (the FHIR hospital writes its own).
    registrations: list[Path] = field(default_factory=list)


def add_connector_hospitals(out: Path, start: date, console: Console) -> ConnectorHospitals:
    """Before the registry is checked and consent imported: their YAML, sources, consent."""
    registry = out / "registry"
    taken = {p.stem for p in (registry / "hospitals").glob("*.yml")}
    network = _first_network(registry)
    added = ConnectorHospitals()

    fhir_code = _free_code(FHIR_CODE, taken)
    fhir = build_demo_fhir_hospital(
        out, registry, hospital_code=fhir_code, network=network, health_region=13, start=start
    )
    added.codes.append(fhir_code)
    added.registrations.append(fhir.registrations)
    console.print(f"FHIR bulk hospital {fhir_code}: Bulk Data exports under {out / 'fhir'}")

    hosxp_code = _free_code(HOSXP_CODE, taken | {fhir_code})
    try:
        hosxp = build_demo_hosxp_hospital(
            out,
            registry,
            hospital_code=hosxp_code,
            network=network,
            health_region=5,
            start=start,
            host=os.environ.get("HEALTHLINK_DEMO_MYSQL_HOST", "127.0.0.1"),
            port=int(os.environ.get("HEALTHLINK_DEMO_MYSQL_PORT", "3306")),
            admin_user=os.environ.get("HEALTHLINK_DEMO_MYSQL_USER", "root"),
            admin_password=os.environ.get("HEALTHLINK_DEMO_MYSQL_PASSWORD", ""),
        )
    except HosxpServerUnavailable as error:
        console.print(f"[yellow]No HOSxP demo hospital: {error}; the demo goes on without it.")
        return added
    append_registrations(out / "consent" / "registrations.csv", hosxp.registrations)
    added.codes.append(hosxp_code)
    console.print(f"HOSxP hospital {hosxp_code}: MariaDB database {hosxp.database}")
    return added


def _first_network(registry: Path) -> str:
    networks = yaml.safe_load((registry / "networks.yml").read_text(encoding="utf-8"))
    return str(networks["networks"][0]["code"])


def _free_code(preferred: str, taken: set[str]) -> str:
    code = int(preferred)
    while str(code) in taken:
        code += 1
    return str(code)
