"""Onboarding a HOSxP or FHIR hospital: `hospital add --connector hosxp|fhir_bulk` writes a
YAML the registry loads (no credentials, no participation date) and checks the source;
`extract check --hospital` reads the day through the connector, writes nothing, and reports
rows, rejects by table and key, dates, code coverage and what stops the read as findings.
Real MariaDB (the synthetic HOSxP database) and the Synthea FHIR sample with Thai IDs."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.fhir_bulk import FhirBulkSettings
from connectors.hosxp import HosxpSettings
from synthetic.fhir_hospital import (
    CVX,
    FHIR_SAMPLE,
    RXNORM,
    SAMPLE_CODE_SYSTEMS,
    SNOMED,
    THAI_ID_SYSTEM,
    ThaiPatient,
    thai_export_copy,
)
from tests.support.fhir_bulk_samples import DAY as EXPORT_DAY
from tests.support.fhir_bulk_samples import deleted_bundle, exported, referenced, server_store
from tests.support.fhir_bulk_server import (
    CREDENTIALS,
    BulkServer,
    install_credentials,
    public_pem,
    running_bulk_server,
)
from tests.support.hosxp_database import HosxpHospital, hosxp_hospital
from tests.support.machine import START
from tests.support.onboarding import healthlink
from warehouse.hospital_registry import load_hospital, load_registry
from warehouse.onboarding.reference_codes import DEFAULT_DIR, ReferenceCodesMissing, coverage

NEW_CODE = "77002"
DAY = START + timedelta(days=2)  # the HOSxP hospital's last day: its window holds all three


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    target = tmp_path / "registry"
    (target / "hospitals").mkdir(parents=True)
    networks = {"networks": [{"code": "NET01", "name": "Test network"}]}
    (target / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    return target


@pytest.fixture
def hosxp(tmp_path: Path) -> Iterator[HosxpHospital]:
    with hosxp_hospital(tmp_path, START) as hospital:
        yield hospital


@pytest.fixture
def fhir_exports(tmp_path: Path) -> tuple[Path, list[ThaiPatient]]:
    """A folder of dated exports holding one: the Synthea sample with Thai national IDs."""
    root = tmp_path / "fhir"
    return root, thai_export_copy(FHIR_SAMPLE, root / START.isoformat())


@pytest.fixture
def bulk_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BulkServer]:
    """A Bulk Data server exporting the Thai samples, and the client's credentials installed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    install_credentials(tmp_path, key, monkeypatch)
    state = BulkServer(public_pem(key), exported(), [deleted_bundle()], referenced())
    state.store = server_store()
    with running_bulk_server(state) as running:
        yield running


def add(registry: Path, *options: str) -> tuple[int, str]:
    return healthlink(
        "hospital",
        "add",
        NEW_CODE,
        "--name",
        "โรงพยาบาลทดสอบ",
        "--network",
        "NET01",
        "--health-region",
        "7",
        "--registry",
        str(registry),
        *options,
    )


def add_hosxp(registry: Path, hosxp: HosxpHospital, *options: str) -> tuple[int, str]:
    return add(
        registry,
        "--connector",
        "hosxp",
        "--database",
        hosxp.database,
        "--secrets-file",
        str(hosxp.secrets_file),
        "--secrets-key",
        "10913",
        "--date",
        DAY.isoformat(),
        *options,
    )


def check(registry: Path, *options: str) -> tuple[int, dict]:
    code, output = healthlink("extract", "check", *options, "--registry", str(registry), "--json")
    return code, json.loads(output)


def by_entity(report: dict) -> dict[str, dict]:
    return {entity["entity"]: entity for entity in report["entities"]}


def test_hospital_add_hosxp_writes_where_the_login_is_and_checks_the_database(
    registry: Path, hosxp: HosxpHospital
) -> None:
    exit_code, output = add_hosxp(registry, hosxp, "--json")

    assert exit_code == 0, output
    written = registry / "hospitals" / f"{NEW_CODE}.yml"
    document = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert "participating_since" not in document
    assert document["connector"] == {
        "kind": "hosxp",
        "database": hosxp.database,
        "secrets_file": str(hosxp.secrets_file.resolve()),
        "secrets_key": "10913",
    }
    hospital = load_registry(registry).hospital(NEW_CODE)
    assert isinstance(hospital.connector, HosxpSettings) and hospital.participating_since is None
    login = json.loads(hosxp.secrets_file.read_text(encoding="utf-8"))["10913"]
    assert login["password"] not in output and login["user"] not in output

    report = json.loads(output)["check"]
    assert report["ok"] and report["findings"] == [] and report["kind"] == "hosxp"
    entities = by_entity(report)
    world = hosxp.world.rows
    assert entities["encounter"]["rows"] == len(world["ovst"]) + len(world["ipt"])
    assert entities["encounter"]["sources"] == ["ipt", "ovst"]
    assert entities["encounter"]["first_date"] == START.isoformat()
    assert entities["encounter"]["last_date"] == DAY.isoformat()
    coverage = {(c["entity"], c["column"]): c for c in report["coverage"]}
    assert coverage[("diagnosis", "icd10_code")]["coded_rows"] == entities["diagnosis"]["rows"]

    again, checked = check(registry, "--hospital", NEW_CODE, "--date", DAY.isoformat())
    assert again == 0
    assert checked["rows_read"] == report["rows_read"] > 0

    with_folder, refused = healthlink(
        "extract", "check", str(registry), "--hospital", NEW_CODE, "--registry", str(registry)
    )
    assert with_folder == 2 and "name no folder" in refused


def test_rows_hosxp_would_reject_are_named_by_table_key_and_rule_never_by_value(
    registry: Path, hosxp: HosxpHospital
) -> None:
    assert add_hosxp(registry, hosxp)[0] == 0
    visit = hosxp.world.rows["ovst"][0]["vn"]
    patient = hosxp.world.rows["patient"][1]["hn"]
    hosxp.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    hosxp.execute("UPDATE ovst SET vstdate = '2026-11-31' WHERE vn = %s", (visit,))
    hosxp.execute("UPDATE patient SET cid = '1234567890123' WHERE hn = %s", (patient,))

    exit_code, report = check(registry, "--hospital", NEW_CODE, "--date", DAY.isoformat())

    rejects = {(r["source"], r["rule"]): r for r in report["rejects"]}
    unreadable = rejects[("ovst", "row_readable")]
    assert (unreadable["entity"], unreadable["field"], unreadable["keys"]) == (
        "encounter",
        "ovst.vstdate",
        [visit],
    )
    national_id = rejects[("patient", "national_id_readable")]
    assert national_id["field"] == "patient.cid" and patient in national_id["keys"]
    world = hosxp.world.rows
    theirs = {v["vn"] for v in world["ovst"] if v["hn"] == patient}
    theirs |= {a["an"] for a in world["ipt"] if a["hn"] == patient}
    assert by_entity(report)["encounter"]["rejected_rows"] == len(theirs | {visit})
    text = json.dumps(report)
    assert "1234567890123" not in text and "2026-11-31" not in text
    assert report["readable"] and exit_code == (0 if report["ok"] else 1)


def test_missing_tables_and_columns_are_findings_all_at_once_not_a_traceback(
    registry: Path, hosxp: HosxpHospital
) -> None:
    assert add_hosxp(registry, hosxp)[0] == 0
    hosxp.execute("ALTER TABLE ovstdiag DROP COLUMN icd10")
    hosxp.execute("DROP TABLE lab_head")
    hosxp.execute("DROP TABLE xray_report")  # imaging is optional: skipped, not a finding

    exit_code, report = check(registry, "--hospital", NEW_CODE, "--date", DAY.isoformat())

    assert exit_code == 1 and not report["readable"]
    found = {(f["reason_code"], f["source"], f["field"]) for f in report["findings"]}
    assert found == {("missing_column", "ovstdiag", "icd10"), ("missing_table", "lab_head", None)}
    assert report["optional_tables_missing"] == ["xray_report"]

    people_code, text = healthlink(
        "extract", "check", "--hospital", NEW_CODE, "--registry", str(registry)
    )
    assert people_code == 1
    assert "missing_column" in text and "ovstdiag, field icd10" in text
    assert "Traceback" not in text


def test_a_refused_login_and_unset_variables_are_findings_naming_no_secret(
    registry: Path, hosxp: HosxpHospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = json.loads(hosxp.secrets_file.read_text(encoding="utf-8"))
    entries["10913"]["password"] = "not-the-password"
    hosxp.secrets_file.write_text(json.dumps(entries), encoding="utf-8")

    exit_code, output = add_hosxp(registry, hosxp, "--json")

    assert exit_code == 1
    assert (registry / "hospitals" / f"{NEW_CODE}.yml").is_file()  # written, then checked
    finding = json.loads(output)["check"]["findings"][0]
    assert finding["reason_code"] == "source_unreachable" and "1045" in finding["message"]
    assert "not-the-password" not in output and entries["10913"]["user"] not in output

    monkeypatch.delenv("HOSXP_77003_HOST", raising=False)
    code, text = healthlink(
        "hospital", "add", "77003", "--name", "x", "--network", "NET01", "--health-region",
        "7", "--connector", "hosxp", "--database", hosxp.database, "--credentials-env",
        "HOSXP_77003", "--registry", str(registry),
    )  # fmt: skip
    assert code == 1
    assert "missing_credentials" in text and "HOSXP_77003_HOST" in text


def test_extract_check_of_a_fhir_export_proposes_its_settings_and_reports_by_resource(
    registry: Path, fhir_exports: tuple[Path, list[ThaiPatient]]
) -> None:
    root, patients = fhir_exports

    exit_code, report = check(registry, str(root / START.isoformat()))

    assert report["proposed_connector"] == {
        "kind": "fhir_bulk",
        "path": str(root),
        "national_id_system": THAI_ID_SYSTEM,
    }
    assert report["extract_date"] == START.isoformat() and report["findings"] == []
    entities = by_entity(report)
    assert entities["patient"]["rows"] == len(patients) == 13
    assert entities["encounter"]["rows"] == 1215 and entities["encounter"]["rejected_rows"] == 0
    # Synthea codes diagnoses in SNOMED CT, which the default code systems do not take.
    refused = {(r["source"], r["rule"]): r for r in report["rejects"]}
    assert refused[("Condition", "code_system_declared")]["rows"] == 555
    assert entities["diagnosis"]["rejected_rows"] == 555
    assert report["would_quarantine"] and exit_code == 1
    text = json.dumps(report)
    assert not any(patient.cid in text for patient in patients)


def test_hospital_add_fhir_bulk_detects_the_id_system_and_a_wrong_one_is_flagged(
    registry: Path, fhir_exports: tuple[Path, list[ThaiPatient]]
) -> None:
    root, _ = fhir_exports

    exit_code, output = add(registry, "--connector", "fhir_bulk", "--path", str(root), "--json")

    written = registry / "hospitals" / f"{NEW_CODE}.yml"
    document = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert "participating_since" not in document
    assert document["connector"]["national_id_system"] == THAI_ID_SYSTEM
    connector = load_hospital(written).connector
    assert isinstance(connector, FhirBulkSettings) and connector.path == root.resolve()
    report = json.loads(output)["check"]
    assert report["extract_date"] == START.isoformat()  # the latest day export under --path
    assert by_entity(report)["patient"]["rows"] == 13
    assert exit_code == 1  # SNOMED diagnoses: the report says what to declare

    document["connector"]["national_id_system"] = "https://hospital.example.th/hn"
    written.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    _, flagged = check(registry, "--hospital", NEW_CODE)
    assert flagged["disagreements"] == [
        {
            "setting": "national_id_system",
            "declared": "https://hospital.example.th/hn",
            "detected": THAI_ID_SYSTEM,
            "files": ["Patient"],
        }
    ]
    assert not flagged["readable"]


def test_once_the_yaml_declares_its_code_systems_coverage_is_counted_per_system(
    registry: Path, fhir_exports: tuple[Path, list[ThaiPatient]]
) -> None:
    root, _ = fhir_exports
    add(registry, "--connector", "fhir_bulk", "--path", str(root))
    written = registry / "hospitals" / f"{NEW_CODE}.yml"
    document = yaml.safe_load(written.read_text(encoding="utf-8"))
    document["connector"]["code_systems"] = SAMPLE_CODE_SYSTEMS
    written.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    exit_code, report = check(registry, "--hospital", NEW_CODE)

    assert exit_code == 0 and report["ok"]
    coverage = {(c["entity"], c["code_system"]): c for c in report["coverage"]}
    assert coverage[("diagnosis", None)]["coded_rows"] == 0  # nothing in ICD-10
    # Codes of other systems are looked up where dbt looks them up: the crosswalk (CVX
    # vaccines: the MOPH list's CVX column), read from the same reference code folder.
    crosswalk = _csv_codes(DEFAULT_DIR / "code_crosswalk.csv", "source_system", "source_code")
    cvx = {
        ("cvx", code)
        for _, code in _csv_codes(DEFAULT_DIR / "vaccine_codes.csv", "vaccine_code", "cvx_code")
    }
    for (entity, system), reference in (
        (("diagnosis", "snomed"), "code_crosswalk"),
        (("medication_dispense", "rxnorm"), "code_crosswalk"),
        (("procedure", "snomed"), "code_crosswalk"),
        (("immunization", "cvx"), "vaccine_codes"),
    ):
        found = coverage[(entity, system)]
        known = crosswalk if reference == "code_crosswalk" else cvx
        assert found["reference"] == reference
        assert 0 < found["known_rows"] <= found["coded_rows"], (entity, system)
        assert found["share_known"] == round(found["known_rows"] / found["coded_rows"], 4)
        assert not {(system, c["code"]) for c in found["top_unknown"]} & known
    assert coverage[("diagnosis", "snomed")]["coded_rows"] == 555
    assert coverage[("medication_dispense", "rxnorm")]["coded_rows"] == 1745
    assert report["undeclared_code_systems"] == {}


def _csv_codes(path: Path, system_column: str, code_column: str) -> set[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return {(row[system_column], row[code_column]) for row in csv.DictReader(handle)}


def test_a_reference_folder_without_the_crosswalk_is_named(tmp_path: Path) -> None:
    for path in DEFAULT_DIR.glob("*.csv"):
        if path.name != "code_crosswalk.csv":
            shutil.copy(path, tmp_path / path.name)
    with pytest.raises(ReferenceCodesMissing, match=r"code_crosswalk\.csv: missing \(dbt's build"):
        coverage({}, tmp_path)


def test_code_systems_given_to_hospital_add_are_declared_and_the_refused_ones_listed(
    registry: Path, fhir_exports: tuple[Path, list[ThaiPatient]]
) -> None:
    root, _ = fhir_exports
    written = registry / "hospitals" / f"{NEW_CODE}.yml"
    _, output = add(registry, "--connector", "fhir_bulk", "--path", str(root), "--json")
    # Nothing declared: the check names the URIs the refused resources are coded in.
    undeclared = json.loads(output)["check"]["undeclared_code_systems"]
    assert undeclared["diagnosis"] == [{"system": SNOMED, "resources": 555}]
    assert [s["system"] for s in undeclared["immunization"]] == [CVX]
    assert [s["system"] for s in undeclared["medication_dispense"]] == [RXNORM]
    written.unlink()

    systems = [f"{entity}={uri}" for entity, uris in SAMPLE_CODE_SYSTEMS.items() for uri in uris]
    exit_code, output = add(
        registry, "--connector", "fhir_bulk", "--path", str(root),
        *[option for system in systems for option in ("--code-system", system)],
    )  # fmt: skip

    assert exit_code == 0, output
    assert "code_system_declared" not in output
    connector = load_hospital(written).connector
    assert isinstance(connector, FhirBulkSettings)
    assert connector.code_systems == {e: tuple(u) for e, u in SAMPLE_CODE_SYSTEMS.items()}
    written.unlink()
    unknown, refused = add(
        registry, "--connector", "fhir_bulk", "--path", str(root),
        "--code-system", f"vaccine={CVX}",
    )  # fmt: skip
    assert unknown == 2 and "code_systems" in refused and not written.exists()
    malformed, refused = add(
        registry, "--connector", "fhir_bulk", "--path", str(root), "--code-system", CVX
    )
    assert malformed == 2 and "ENTITY=SYSTEM_URI" in refused


def test_a_fhir_folder_without_an_export_yet_is_registered_unchecked(
    registry: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-export-yet"
    empty.mkdir()

    exit_code, output = add(
        registry, "--connector", "fhir_bulk", "--path", str(empty), "--layout", "single",
        "--national-id-system", THAI_ID_SYSTEM,
    )  # fmt: skip

    assert exit_code == 0, output
    assert "no extract" in output and "participating_since not set" in output
    connector = load_hospital(registry / "hospitals" / f"{NEW_CODE}.yml").connector
    assert isinstance(connector, FhirBulkSettings) and connector.layout == "single"

    (registry / "hospitals" / f"{NEW_CODE}.yml").unlink()
    no_id_system, refused = add(registry, "--connector", "fhir_bulk", "--path", str(empty))
    assert no_id_system == 2 and "--national-id-system" in refused
    assert not (registry / "hospitals" / f"{NEW_CODE}.yml").exists()


def test_a_fhir_server_is_checked_through_its_export_and_leaves_no_download(
    registry: Path, bulk_server: BulkServer, tmp_path: Path
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()

    exit_code, output = add(
        registry, "--connector", "fhir_bulk", "--path", str(exports), "--national-id-system",
        THAI_ID_SYSTEM, "--base-url", bulk_server.fhir_base, "--token-url",
        bulk_server.token_url, "--credentials", CREDENTIALS, "--date", EXPORT_DAY.isoformat(),
        "--json",
    )  # fmt: skip

    document = yaml.safe_load((registry / "hospitals" / f"{NEW_CODE}.yml").read_text("utf-8"))
    assert document["connector"]["server"] == {
        "base_url": bulk_server.fhir_base,
        "token_url": bulk_server.token_url,
        "credentials": CREDENTIALS,
    }
    report = json.loads(output)["check"]
    assert report["findings"] == [] and report["window"] is not None
    assert len(bulk_server.kickoffs) == 1
    entities = by_entity(report)
    assert entities["encounter"]["rows"] == 2 and entities["patient"]["rows"] == 1
    assert report["deleted_records"] == 1
    assert exit_code == (0 if report["ok"] else 1)
    assert list(exports.iterdir()) == []  # the download went to a scratch folder, now gone
