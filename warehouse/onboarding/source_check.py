"""`healthlink extract check` for sources that are not 43-file folders: a HOSxP database or a
FHIR Bulk Data export (a folder, or a `$export` server).

The day's extract is read through the hospital's own connector (its window for a database
or a server) and put through a batch's reject rules in memory (batch_rules); nothing is
written to the warehouse, the landing zone or ops. A `$export` server's download goes to a
scratch folder that is removed afterwards, so the check leaves no export a later sync would
take for the day's. What stops the read (credentials, an unreachable source, a missing
table or column) is a finding with the connector's reason code (docs/contract.md), never a
traceback. The report holds entities, tables or resource types, record keys or line
numbers, rule and field names, counts, dates and reference codes: never a row's values.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import Connector, Extract, ExtractError, Location, Reject
from connectors.fhir_bulk import FhirBulkSettings
from connectors.fhir_bulk.rows import CODE_SYSTEM_DECLARED
from connectors.hosxp import HosxpSettings
from connectors.hosxp.connector import HosxpConnector
from connectors.registry import build_connector
from connectors.window import ExtractWindow
from warehouse.onboarding.batch_rules import apply_batch_rules, batch_would_quarantine, row_dates
from warehouse.onboarding.fhir_export import coding_systems, detected_national_id_system
from warehouse.onboarding.proposal import Disagreement
from warehouse.onboarding.reference_codes import DEFAULT_DIR, Coverage, coverage

KEYS_SHOWN: Final = 100  # record keys listed per (entity, source, rule, field); the count is whole
SourceSettings = HosxpSettings | FhirBulkSettings
# national_id_system of a proposal when no Patient identifier system holds a valid Thai ID.
NO_SYSTEM: Final = "(none found)"


@dataclass(frozen=True)
class Finding:
    """What stops the source being read as declared: the connector's reason code and where."""

    reason_code: str
    source: str | None  # table, file or variable set named by the connector
    field: str | None
    message: str  # the connector's, which never quotes a value, host, user or password

    @classmethod
    def of(cls, error: ExtractError) -> Finding:
        return cls(error.reason_code, error.source_file, error.field, error.detail)

    def to_dict(self) -> dict[str, object]:
        return {
            "reason_code": self.reason_code,
            "source": self.source,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class EntityReport:
    entity: str
    rows: int = 0  # canonical rows read
    rejected_rows: int = 0  # distinct records refused by any rule
    first_date: date | None = None
    last_date: date | None = None
    sources: set[str] = field(default_factory=set)  # tables, resource files

    def to_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "rows": self.rows,
            "rejected_rows": self.rejected_rows,
            "first_date": self.first_date,
            "last_date": self.last_date,
            "sources": sorted(self.sources),
        }


@dataclass
class KeyRejects:
    """The records one rule refused in one table or resource type (keys, or file lines)."""

    entity: str
    source: str
    rule: str
    field: str | None
    keys: list[str]  # sorted; reports show the first KEYS_SHOWN

    def to_dict(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "source": self.source,
            "rule": self.rule,
            "field": self.field,
            "rows": len(self.keys),
            "keys": self.keys[:KEYS_SHOWN],
        }


@dataclass
class SourceCheck:
    kind: str
    extract_date: date
    hospital_code: str | None
    connector: dict[str, Any]  # the settings read with (declared, or proposed when none is)
    declared: bool
    window: ExtractWindow | None = None
    findings: list[Finding] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    optional_missing: list[str] = field(default_factory=list)  # tables skipped (imaging)
    entities: list[EntityReport] = field(default_factory=list)
    rejects: list[KeyRejects] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    # Records the source says were deleted: a sync deletes them, a check writes nothing.
    deleted: int = 0
    # FHIR: per entity, the system URIs its `code_system_declared` rejects are coded in
    # (resources per URI, most first): what the YAML's code_systems could declare.
    undeclared_systems: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    rows_read: int = 0
    rows_rejected: int = 0
    reject_threshold: float = 0.05

    @property
    def readable(self) -> bool:
        return not self.findings and not self.disagreements

    @property
    def would_quarantine(self) -> bool:
        return batch_would_quarantine(
            self.critical, self.rows_read, self.rows_rejected, self.reject_threshold
        )

    @property
    def ok(self) -> bool:
        return self.readable and not self.would_quarantine

    def to_dict(self) -> dict[str, Any]:
        window = self.window
        return {
            "kind": self.kind,
            "extract_date": self.extract_date,
            "hospital_code": self.hospital_code,
            "ok": self.ok,
            "readable": self.readable,
            "would_quarantine": self.would_quarantine,
            ("declared_connector" if self.declared else "proposed_connector"): self.connector,
            "window": None if window is None else {"start": window.start, "end": window.end},
            "findings": [f.to_dict() for f in self.findings],
            "disagreements": [d.to_dict() for d in self.disagreements],
            "optional_tables_missing": self.optional_missing,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "reject_threshold": self.reject_threshold,
            "critical_failures": self.critical,
            "deleted_records": self.deleted,
            "entities": [e.to_dict() for e in self.entities],
            "rejects": [r.to_dict() for r in self.rejects],
            "coverage": [c.to_dict() for c in self.coverage],
            "undeclared_code_systems": {
                entity: [{"system": uri, "resources": n} for uri, n in found]
                for entity, found in self.undeclared_systems.items()
            },
        }


def check_source(
    settings: SourceSettings,
    extract_date: date,
    *,
    hospital_code: str,
    declared: bool,
    extract_dir: Path | None = None,
    reject_threshold: float,
    reference_codes: Path = DEFAULT_DIR,
) -> SourceCheck:
    """Read `extract_date` through the connector `settings` build (a FHIR export from
    `extract_dir` when given) and report what a batch would make of it."""
    connector = build_connector(settings)
    check = SourceCheck(
        kind=settings.kind,
        extract_date=extract_date,
        hospital_code=hospital_code,
        connector={
            "kind": settings.kind,
            **settings.model_dump(mode="json", exclude_defaults=True),
        },
        declared=declared,
        window=connector.window(extract_date),  # None for a day folder: all of it is read
        reject_threshold=reject_threshold,
    )
    try:
        if isinstance(connector, HosxpConnector):
            _check_schema(check, connector)
            if check.findings:
                return check
        with _read_without_landing(settings, extract_dir) as (reader, folder):
            extract = reader.read(hospital_code, folder, extract_date)
            if isinstance(settings, FhirBulkSettings):
                folder = folder or reader.extract_dir(extract_date)
                assert folder is not None
                if declared:
                    _compare_national_id_system(check, settings, folder)
                _add_undeclared_systems(check, extract, folder)
    except ExtractError as error:
        check.findings.append(Finding.of(error))
        return check
    _validate(check, extract, reader, reference_codes)
    return check


def _check_schema(check: SourceCheck, connector: HosxpConnector) -> None:
    """Every table and column the database lacks, at once (a read names only the first)."""
    for gap in connector.schema_gaps():
        if gap.optional:
            check.optional_missing.append(gap.table)
        else:
            check.findings.append(Finding.of(gap.error()))


@contextmanager
def _read_without_landing(
    settings: SourceSettings, extract_dir: Path | None
) -> Iterator[tuple[Connector, Path | None]]:
    """The connector to read with, and the folder to read from. A `$export` server downloads
    into a scratch folder instead of the hospital's export path (removed afterwards)."""
    if not isinstance(settings, FhirBulkSettings) or settings.server is None or extract_dir:
        yield build_connector(settings), extract_dir
        return
    with tempfile.TemporaryDirectory(prefix="healthlink-check-") as scratch:
        yield build_connector(settings.model_copy(update={"path": Path(scratch)})), None


def proposed_fhir_settings(export: Path) -> FhirBulkSettings:
    """The `fhir_bulk` block an export folder calls for: its folder of day folders, and the
    Patient identifier system that carries valid Thai national IDs (NO_SYSTEM when none
    does: every row is then refused by the national ID rule, and the report says so)."""
    system = detected_national_id_system(export) or NO_SYSTEM
    return FhirBulkSettings.model_validate(
        {"path": export.parent, "layout": "dated", "national_id_system": system}
    )


def _compare_national_id_system(
    check: SourceCheck, settings: FhirBulkSettings, folder: Path
) -> None:
    detected = detected_national_id_system(folder)
    if detected is not None and detected != settings.national_id_system:
        check.disagreements.append(
            Disagreement("national_id_system", settings.national_id_system, detected, ("Patient",))
        )


def _validate(
    check: SourceCheck, extract: Extract, connector: Connector, reference_codes: Path
) -> None:
    found = apply_batch_rules(extract, connector, check.extract_date)
    check.rows_read, check.rows_rejected = found.rows_read, found.rows_rejected
    check.critical = found.critical
    check.deleted = len(extract.deleted)
    reports = {entity: EntityReport(entity) for entity in extract.tables}
    for entity, table in extract.tables.items():
        reports[entity].rows = table.num_rows
        reports[entity].sources.update(table.column("source_file").unique().to_pylist())
        _add_date_range(reports[entity], found.accepted[entity])
    _add_rejects(check, reports, found.rejects)
    check.entities = [report for report in reports.values() if report.rows or report.rejected_rows]
    check.coverage = coverage(found.accepted, reference_codes)


def _add_undeclared_systems(check: SourceCheck, extract: Extract, folder: Path) -> None:
    """The systems the resources refused as `code_system_declared` are coded in, per entity
    (read while the export is at hand: a server's is downloaded to a scratch folder)."""
    refused: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for reject in extract.rejected:
        if reject.rule == CODE_SYSTEM_DECLARED and reject.field and reject.location.key:
            element = reject.field.removeprefix(f"{reject.location.source}.")
            refused[(reject.entity, reject.location.source, element)].add(reject.location.key)
    for (entity, resource_type, element), ids in sorted(refused.items()):
        counts = coding_systems(folder, resource_type, element, ids)
        found = check.undeclared_systems.setdefault(entity, [])
        found.extend(counts.most_common())
        found.sort(key=lambda pair: (-pair[1], pair[0]))


def _add_rejects(
    check: SourceCheck, reports: dict[str, EntityReport], rejects: list[Reject]
) -> None:
    by_rule: dict[tuple[str, str, str, str | None], set[str]] = defaultdict(set)
    records: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for reject in rejects:
        where = _where(reject.location)
        by_rule[(reject.entity, reject.location.source, reject.rule, reject.field)].add(where)
        records[reject.entity].add((reject.location.source, where))
    for entity, refused in records.items():
        reports.setdefault(entity, EntityReport(entity)).rejected_rows = len(refused)
    check.rejects = [
        KeyRejects(entity, source, rule, field_name, sorted(keys, key=_natural))
        for (entity, source, rule, field_name), keys in sorted(
            by_rule.items(), key=lambda item: tuple(str(part) for part in item[0])
        )
    ]


def _where(location: Location) -> str:
    """A record's key (table primary key, FHIR id), or its file line when it has none."""
    return location.key if location.key is not None else f"line {location.line}"


def _natural(where: str) -> tuple[int, str]:
    """File lines in number order (line 2 before line 10); keys as text."""
    return (int(where[5:]), "") if where.startswith("line ") else (0, where)


def _add_date_range(report: EntityReport, table: pa.Table) -> None:
    days = row_dates(table)
    if days is None or table.num_rows == 0:
        return
    report.first_date = pc.min(days).as_py()
    report.last_date = pc.max(days).as_py()


__all__ = ["Finding", "SourceCheck", "check_source", "proposed_fhir_settings"]
