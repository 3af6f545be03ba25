"""A FHIR hospital for the demo and the tests: the Synthea Bulk Data sample with Thai IDs.

The sample (`../shared/data/fhir-bulk-10`, SOURCE.md there) carries US identifiers. The
copy gives every Patient a synthetic valid Thai national ID under THAI_ID_SYSTEM (the
identifier system the hospital's YAML names) and drops the US SSN, licence and passport
identifiers; every other line is copied byte for byte. Its clinical codes stay SNOMED CT,
RxNorm and CVX: the demo hospital declares them (SAMPLE_CODE_SYSTEMS), so its diagnoses,
drugs, procedures, vaccines and allergies load with their `code_system`; the coded ones are
classified through the code crosswalk (what it lacks is hidden, counted and alerted on), and
its CVX vaccines (never sensitive by code) are shown as sent.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import orjson

from synthetic.hospitals import _dump
from synthetic.patients import unique_cids

FHIR_SAMPLE: Final = Path(__file__).resolve().parents[2] / "shared" / "data" / "fhir-bulk-10"
# The Thai Core IG's national ID system.
THAI_ID_SYSTEM: Final = "https://terms.sil-th.org/id/th-cid"
_US_IDENTIFIERS: Final = frozenset(
    {"http://hl7.org/fhir/sid/us-ssn", "urn:oid:2.16.840.1.113883.4.3.25"}
)
# The sample's code systems (SNOMED CT, RxNorm, CVX), declared in a connector's
# `code_systems` so its rows map instead of being refused (the defaults are the Thai systems).
SNOMED: Final = "http://snomed.info/sct"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX: Final = "http://hl7.org/fhir/sid/cvx"
SAMPLE_CODE_SYSTEMS: Final[dict[str, list[str]]] = {
    "diagnosis": [SNOMED],
    "medication_dispense": [RXNORM],
    "procedure": [SNOMED],
    "immunization": [CVX],
    "allergy": [RXNORM],
}
REGISTRATION_COLUMNS: Final = (
    "cid,birth_date,registered_at,status,sender_scope,sender_networks,sender_hospitals,"
    "sensitive_allowed,verification_method,verified_at"
)


@dataclass(frozen=True)
class ThaiPatient:
    patient_id: str  # the FHIR Patient id
    cid: str
    birth_date: date
    deceased: bool


def thai_export_copy(source: Path, out: Path, seed: int = 13) -> list[ThaiPatient]:
    """Copy the export folder `source` to `out`, Patients carrying synthetic Thai IDs."""
    out.mkdir(parents=True, exist_ok=True)
    patient_files = sorted(source.glob("Patient*.ndjson"))
    lines = [line for f in patient_files for line in f.read_bytes().splitlines() if line.strip()]
    cids = unique_cids(np.random.default_rng(seed), len(lines), thai_cards_only=True)
    by_id: dict[str, str] = {}
    patients = []
    for line, cid in zip(lines, cids, strict=True):
        resource = orjson.loads(line)
        by_id[resource["id"]] = str(cid)
        patients.append(
            ThaiPatient(
                resource["id"],
                str(cid),
                date.fromisoformat(resource["birthDate"]),
                "deceasedDateTime" in resource or bool(resource.get("deceasedBoolean")),
            )
        )
    for path in sorted(source.iterdir()):
        if path.suffix != ".ndjson" and path.name != "manifest.json":
            continue
        if path in patient_files:
            rewritten = [_with_thai_id(line, by_id) for line in path.read_bytes().splitlines()]
            (out / path.name).write_bytes(b"".join(line + b"\n" for line in rewritten))
        else:
            (out / path.name).write_bytes(path.read_bytes())
    return patients


def _with_thai_id(line: bytes, cids: dict[str, str]) -> bytes:
    if not line.strip():
        return line
    resource = orjson.loads(line)
    kept = [i for i in resource.get("identifier", []) if i.get("system") not in _US_IDENTIFIERS]
    kept.append({"system": THAI_ID_SYSTEM, "value": cids[resource["id"]]})
    resource["identifier"] = kept
    return orjson.dumps(resource)


@dataclass(frozen=True)
class FhirHospital:
    hospital_code: str
    yaml_path: Path
    export_root: Path  # one YYYY-MM-DD folder per extract date
    patients: list[ThaiPatient]
    registrations: Path  # the consent feed of its registered patients


def build_demo_fhir_hospital(
    out_dir: Path,
    registry_dir: Path,
    *,
    hospital_code: str,
    network: str,
    health_region: int,
    start: date,
    days: int = 2,
    source: Path = FHIR_SAMPLE,
) -> FhirHospital:
    """A `fhir_bulk` hospital for the demo: the YAML in `registry_dir/hospitals/`
    (participating from `start`; `network` must be in `registry_dir/networks.yml`), its
    exports under `out_dir/fhir/<code>/<date>/` for `days` days from `start` (the first the
    whole sample, the later ones an incremental export re-sending the Patients), and the
    registrations (ALL hospitals) of its living adult patients in
    `out_dir/consent/registrations-<code>.csv`, for `healthlink consent import`."""
    export_root = out_dir / "fhir" / hospital_code
    patients = thai_export_copy(source, export_root / start.isoformat())
    _write_manifest(export_root / start.isoformat(), start)
    for offset in range(1, days):
        day = start + timedelta(days=offset)
        folder = export_root / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for path in (export_root / start.isoformat()).glob("Patient*.ndjson"):
            shutil.copyfile(path, folder / path.name)
        _write_manifest(folder, day)
    yaml_path = registry_dir / "hospitals" / f"{hospital_code}.yml"
    yaml_path.parent.mkdir(parents=True, exist_ok=True)
    _dump(
        yaml_path,
        {
            "hospital_code": hospital_code,
            "name": "Synthea FHIR demo hospital",
            "network": network,
            "health_region": health_region,
            "participating_since": start,
            "schedule": "0 2 * * *",
            "connector": {
                "kind": "fhir_bulk",
                "path": os.path.relpath(export_root, yaml_path.parent),
                "layout": "dated",
                "national_id_system": THAI_ID_SYSTEM,
                "code_systems": SAMPLE_CODE_SYSTEMS,
            },
            "contacts": [{"name": f"Data team {hospital_code}", "role": "data_engineer"}],
        },
    )
    registrations = out_dir / "consent" / f"registrations-{hospital_code}.csv"
    registrations.unlink(missing_ok=True)
    append_registrations(registrations, patients, start)
    return FhirHospital(hospital_code, yaml_path, export_root, patients, registrations)


def _write_manifest(folder: Path, day: date) -> None:
    """The Bulk Data manifest a server would have written at the end of `day` (UTC+7)."""
    finished = datetime.combine(day + timedelta(days=1), datetime.min.time()) - timedelta(hours=7)
    output = [
        {"type": path.name.split(".", 1)[0], "url": path.name}
        for path in sorted(folder.glob("*.ndjson"))
        if path.name[:1].isupper()
    ]
    manifest = {
        "transactionTime": finished.isoformat() + "Z",
        "requiresAccessToken": False,
        "output": output,
        "error": [],
    }
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))


def _adult_on(birth: date, day: date) -> bool:
    return (birth.year + 18, birth.month, birth.day) <= (day.year, day.month, day.day)


def append_registrations(path: Path, patients: list[ThaiPatient], day: date) -> None:
    """Living adults register for ALL hospitals, verified an hour before, a week before `day`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    registered = datetime.combine(day - timedelta(days=7), datetime.min.time())
    verified = registered - timedelta(hours=1)
    adults = [p for p in patients if not p.deceased and _adult_on(p.birth_date, registered.date())]
    lines = [
        f"{p.cid},{p.birth_date.isoformat()},{registered.isoformat()},active,ALL,,,false,"
        f"thaid,{verified.isoformat()}"
        for p in adults
    ]
    header = "" if path.is_file() else REGISTRATION_COLUMNS + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(header + "".join(line + "\n" for line in lines))
