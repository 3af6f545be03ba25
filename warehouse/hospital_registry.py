"""The hospital registry: one YAML file per hospital, plus the networks they belong to.

Participation and network membership come from here (DESIGN.md section 6). A file that
does not validate is an error naming the file and the field; values are never echoed,
since a contact block may hold names.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.registry import ConnectorSettings


class RegistryError(ValueError):
    """A registry file is invalid; the message names the file and the field."""


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: str
    email: str | None = None
    phone: str | None = None
    # Where this contact's alerts go (warehouse.pipeline.alerts): `email` (to `email`) or
    # `webhook:NAME`, whose URL comes from the environment, HEALTHLINK_ALERT_WEBHOOK_URL_NAME,
    # never from this file. None: no alerts for this contact.
    alert_route: str | None = Field(default=None, pattern=r"^(email|webhook:[A-Z0-9_]{1,40})$")

    @model_validator(mode="after")
    def _email_route_needs_email(self) -> Contact:
        if self.alert_route == "email" and not self.email:
            raise ValueError("alert_route email needs the contact's email")
        return self


class Network(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)
    name: str
    consent_type: Literal["one_time", "per_visit"] = "one_time"


class NetworksFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    networks: list[Network]


class Hospital(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hospital_code: str = Field(pattern=r"^[0-9]{5}$")
    name: str = Field(min_length=1)
    network: str
    # Thailand's health regions (เขตสุขภาพ) 1-13, Bangkok being 13: the DAG maps hospitals per
    # region, so that 1,100+ hospitals stay within Airflow's max_map_length.
    health_region: int = Field(ge=1, le=13)
    participating_since: date | None = None  # None: registered, not yet participating
    per_visit_consent: bool | None = None  # None: inherit from the network
    schedule: str = "0 2 * * *"
    reject_threshold: float | None = Field(default=None, ge=0, le=1)
    # Days within which the hospital promises its data (the FAQ tells patients 1-4 days):
    # operations' ledger (ops.hospital_day) flags a lag beyond it as a breach.
    freshness_sla_days: int = Field(default=4, gt=0, strict=True)
    connector: ConnectorSettings
    # What a change in the source's columns does (warehouse.pipeline.schema_drift): `freeze`
    # quarantines the batch until someone looks; `evolve` loads it, records the change and
    # raises an operations alert. A column the contract needs stops the batch either way.
    schema_drift: Literal["freeze", "evolve"] = "freeze"
    contacts: list[Contact] = []

    def participates_on(self, day: date) -> bool:
        return self.participating_since is not None and self.participating_since <= day


class Registry(BaseModel):
    networks: dict[str, Network]
    hospitals: dict[str, Hospital]

    def requires_per_visit_consent(self, hospital: Hospital) -> bool:
        if hospital.per_visit_consent is not None:
            return hospital.per_visit_consent
        return self.networks[hospital.network].consent_type == "per_visit"

    def participating(self, day: date) -> list[Hospital]:
        return [h for h in self.hospitals.values() if h.participates_on(day)]

    def participating_in_region(self, day: date, region: int) -> list[Hospital]:
        return sorted(
            (h for h in self.participating(day) if h.health_region == region),
            key=lambda h: h.hospital_code,
        )

    def hospital(self, code: str) -> Hospital:
        try:
            return self.hospitals[code]
        except KeyError:
            raise RegistryError(f"hospital {code!r} is not in the registry") from None


def _describe(error: ValidationError, path: Path) -> str:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "(file)"
        problems.append(f"field {location}: {item['msg']}")
    return f"{path}: " + "; ".join(problems)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> object:
    try:
        # libyaml's safe loader: every list task of the DAG reads the whole registry.
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RegistryError(f"{path}:{where} not valid YAML ({type(exc).__name__})") from None


def load_hospital(path: Path) -> Hospital:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: expected a mapping of hospital fields")
    # Connector paths are written relative to the YAML file that names them.
    connector = data.get("connector")
    if isinstance(connector, dict) and isinstance(connector.get("path"), str):
        connector["path"] = str((path.parent / connector["path"]).resolve())
    try:
        hospital = Hospital.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(_describe(exc, path)) from None
    if path.stem != hospital.hospital_code:
        raise RegistryError(
            f"{path}: field hospital_code: file name must be the hospital code "
            f"({hospital.hospital_code}.yml)"
        )
    return hospital


def load_registry(registry_dir: Path) -> Registry:
    networks_path = registry_dir / "networks.yml"
    if not networks_path.is_file():
        raise RegistryError(f"{networks_path}: missing (the registry's network list)")
    try:
        networks_file = NetworksFile.model_validate(_read_yaml(networks_path))
    except ValidationError as exc:
        raise RegistryError(_describe(exc, networks_path)) from None
    networks = {n.code: n for n in networks_file.networks}

    hospitals: dict[str, Hospital] = {}
    for path in sorted((registry_dir / "hospitals").glob("*.y*ml")):
        hospital = load_hospital(path)
        if hospital.network not in networks:
            raise RegistryError(f"{path}: field network: unknown network {hospital.network!r}")
        hospitals[hospital.hospital_code] = hospital
    if not hospitals:
        raise RegistryError(f"{registry_dir / 'hospitals'}: no hospital files")
    return Registry(networks=networks, hospitals=hospitals)
