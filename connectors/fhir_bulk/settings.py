"""How one hospital's FHIR R4 Bulk Data export is reached (declared in its registry YAML).

Credentials never live here: `server.credentials` names a credential set whose client id and
private key come from the environment or a secrets file (connectors.fhir_bulk.smart).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from connectors.contract import CODE_SYSTEM_NAMES
from connectors.window import WindowSettings

# The code systems the contract's code columns are read from, best first; a resource coded
# only in other systems is refused (rows.declared_code). The ICD URIs are HL7's; the Thai ones
# are this project's defaults, since hospitals name TMT, 24-digit and MOPH code systems
# differently: a hospital's YAML declares the URIs its server actually sends.
ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-tm")
DEFAULT_CODE_SYSTEMS: dict[str, tuple[str, ...]] = {
    "diagnosis": ICD10,
    "medication_dispense": ("https://terms.moph.go.th/tmt", "https://terms.moph.go.th/24-digit"),
    "procedure": ("http://hl7.org/fhir/sid/icd-9-cm", "https://terms.moph.go.th/icd-10-tm-pcs"),
    "immunization": ("https://terms.moph.go.th/epi-vaccine",),
    "lab_result": ("https://terms.moph.go.th/lab",),
    "imaging_report": (),
    "allergy": ("https://terms.moph.go.th/tmt", "https://terms.moph.go.th/24-digit"),
}


class ExportServer(BaseModel):
    """A Bulk Data server reached with SMART Backend Services."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: HttpUrl = Field(description="FHIR base URL, e.g. https://fhir.example.th/r4")
    export_path: str = Field(
        "$export",
        description="kick-off path under base_url: $export, Patient/$export, Group/x/$export",
    )
    token_url: HttpUrl = Field(description="the SMART token endpoint")
    credentials: str = Field(
        pattern=r"^[A-Z0-9_]{1,40}$",
        description="credential set name: HEALTHLINK_FHIR_CLIENT_ID_<NAME> and "
        "HEALTHLINK_FHIR_PRIVATE_KEY_FILE_<NAME> (or HEALTHLINK_FHIR_PRIVATE_KEY_<NAME>)",
    )
    scope: str = "system/*.read"
    algorithm: Literal["RS384", "ES384"] = "RS384"
    key_id: str | None = Field(None, description="the `kid` of the client's registered JWK")
    timeout_s: float = Field(3600, gt=0, description="how long to wait for the export")


class FhirBulkSettings(WindowSettings):
    """`connector:` block of a hospital YAML for kind `fhir_bulk`.

    `path` holds the exports: with `layout: dated` one `YYYY-MM-DD` folder per extract date
    (a `$export` server's downloads land there too); with `layout: single` one export folder,
    of which each day reads the resources updated in its window.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["fhir_bulk"] = "fhir_bulk"
    path: Path = Field(description="folder of exports (or the export, with layout: single)")
    layout: Literal["dated", "single"] = "dated"
    national_id_system: str = Field(
        min_length=1, description="Patient.identifier system that carries the Thai national ID"
    )
    hn_system: str | None = Field(None, description="Patient.identifier system of the HN")
    code_systems: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_CODE_SYSTEMS),
        description="per entity, the code systems read first, best first",
    )
    code_system_names: dict[str, str] = Field(
        default_factory=dict,
        description="system URI -> contract code_system name, for the URIs the server uses "
        "that connectors/fhir_bulk/code_systems.py does not know (any other is `local`)",
    )
    server: ExportServer | None = None

    @model_validator(mode="after")
    def _downloads_need_day_folders(self) -> FhirBulkSettings:
        if self.server is not None and self.layout != "dated":
            raise ValueError("a $export server needs layout: dated (downloads go to day folders)")
        unknown = set(self.code_systems) - set(DEFAULT_CODE_SYSTEMS)
        if unknown:
            raise ValueError(f"code_systems: unknown entities {sorted(unknown)}")
        names = set(self.code_system_names.values()) - set(CODE_SYSTEM_NAMES)
        if names:
            raise ValueError(f"code_system_names: unknown names {sorted(names)}")
        return self

    def systems(self, entity: str) -> tuple[str, ...]:
        return self.code_systems.get(entity, DEFAULT_CODE_SYSTEMS[entity])

    def extract_dir(self, extract_date: date) -> Path:
        return self.path / extract_date.isoformat() if self.layout == "dated" else self.path
