"""The FHIR R4 bulk connector: a Bulk Data export (a folder, or a server's `$export`) read
into the canonical contract.

Each resource is kept once, in its latest version (`meta.lastUpdated`; on a tie the later
line); resources the manifest's `deleted` Bundles name are left out and reported on
`Extract.deleted`. A `layout: single` folder, or a server, is read through the day's window
(connectors.window): a version updated outside it belongs to another day's extract.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar, Final

import orjson
import pyarrow as pa

from connectors.base import Connector, Extract, Location, Reject, batch_id_for, reject_hash
from connectors.contract import ENTITIES, schema_for
from connectors.fhir_bulk.export_client import download_export, previous_transaction_time
from connectors.fhir_bulk.export_folder import Line, parse_instant, read_export, read_manifest
from connectors.fhir_bulk.mapping import MAPPERS, reject_entity
from connectors.fhir_bulk.patient_history import as_files, list_patients, patient_record
from connectors.fhir_bulk.rows import Context, Refused, Row, encounter_class, national_id
from connectors.fhir_bulk.server_session import server_session
from connectors.fhir_bulk.settings import ExportServer, FhirBulkSettings
from connectors.fhir_bulk.values import Unreadable, last_updated, local_date, local_moment
from connectors.window import ExtractWindow

WANTED: Final = frozenset(MAPPERS)
# The FHIR element behind a canonical column, for reject messages (`Type.element`).
SOURCE_FIELDS: Final[dict[str, str]] = {
    "cid": "subject",
    "pid": "subject",
    "recorded_at": "meta.lastUpdated",
    "encounter_id": "encounter",
    "encounter_class": "encounter",
    "service_date": "effective[x]",
    "icd10_code": "code",
    "procedure_code": "code",
    "lab_code": "code",
    "study_code": "code",
    "vital_code": "code",
    "drug_code": "medication[x]",
    "vaccine_code": "vaccineCode",
    "quantity": "quantity",
    "value": "valueQuantity",
    "result_value": "valueQuantity",
    "birth_date": "birthDate",
    "start_at": "period.start",
    "end_at": "period.end",
    "recorded_date": "recordedDate",
    "study_id": "identifier",
    "hn": "identifier",
    "prename": "name.prefix",
    "first_name": "name.given",
    "last_name": "name.family",
    "sex": "gender",
    "admission_id": "id",
    "location": "location",
    "chief_complaint": "reasonCode",
    "discharge_status": "hospitalization.dischargeDisposition",
    "diagnosis_type": "encounter",
    "provider_id": "performer",
    "drug_name": "medication[x]",
    "unit": "quantity.unit",
    "vaccine_place": "location",
    "result_text": "value[x]",
    "modality": "modality",
    "body_site": "series.bodySite",
    "conclusion": "conclusion",
    "allergy_type": "type",
    "severity": "criticality",
    "symptom": "reaction.manifestation",
    "informant": "asserter",
}


# Where a resource type keeps its visit date when the export does not hold the visit.
SERVICE_DATE_FIELDS: Final[dict[str, str]] = {
    "Encounter": "period.start",
    "Condition": "onset[x]",
    "MedicationDispense": "whenHandedOver",
    "MedicationRequest": "authoredOn",
    "Procedure": "performed[x]",
    "Immunization": "occurrence[x]",
    "ImagingStudy": "started",
}


class FhirBulkConnector(Connector):
    kind: ClassVar[str] = "fhir_bulk"

    def __init__(self, settings: FhirBulkSettings) -> None:
        self.settings = settings
        # national_ids() notes which Patient ids carry each national ID, for read_history to
        # ask the server by Patient id (a national ID is never sent). Personal: kept in
        # memory, for this connector's sync only, and dropped once the history is read.
        self._patients_by_national_id: dict[str, list[str]] | None = None

    @property
    def supports_history(self) -> bool:
        """A server can be asked for a patient's record; a folder of exports cannot."""
        return self.settings.server is not None

    def national_ids(self) -> Iterator[str | None]:
        """The national ID of every Patient the server holds (a Patient search, paged)."""
        by_national_id: dict[str, list[str]] = {}
        with server_session(self._server()) as session:
            for patient_id, cid in list_patients(session, self.settings.national_id_system):
                if cid:
                    by_national_id.setdefault(cid, []).append(patient_id)
                yield cid
        self._patients_by_national_id = by_national_id

    def read_history(
        self, hospital_code: str, national_ids: Sequence[str], extract_date: date
    ) -> Extract:
        """The named patients' whole records (`Patient/<id>/$everything`), whatever their
        dates, mapped as an export's resources are; the extract has no window."""
        if not national_ids:
            raise ValueError("read_history needs at least one national ID")
        if self._patients_by_national_id is None:
            for _ in self.national_ids():
                pass
        known = self._patients_by_national_id or {}
        patient_ids = sorted({pid for cid in national_ids for pid in known.get(cid, ())})
        self._patients_by_national_id = None
        with server_session(self._server()) as session:
            record = [r for pid in patient_ids for r in patient_record(session, pid, WANTED)]
        files, lines = as_files(record, WANTED)
        latest = list(_latest(lines).values())
        rows, rejected = self._rows(latest, self._context(latest))
        batch_id = batch_id_for(files)
        lineage = (hospital_code, extract_date, batch_id)
        return Extract(
            hospital_code=hospital_code,
            extract_date=extract_date,
            batch_id=batch_id,
            files=files,
            tables={entity: _table(entity, rows[entity], lineage) for entity in ENTITIES},
            rejected=rejected,
        )

    def _server(self) -> ExportServer:
        if self.settings.server is None:
            raise NotImplementedError("a FHIR hospital without a server cannot be asked")
        return self.settings.server

    def extract_dir(self, extract_date: date) -> Path:
        return self.settings.extract_dir(extract_date)

    def window(self, extract_date: date) -> ExtractWindow | None:
        """A day folder is the day's extract; a single export or a server has a window."""
        if self.settings.server is None and self.settings.layout == "dated":
            return None
        return ExtractWindow.for_day(extract_date, self.settings.overlap_days)

    def source_field(self, source_file: str, column: str) -> str:
        resource_type = source_file.split(".", 1)[0]
        if resource_type == "Patient" and column == "cid":
            return "Patient.identifier"
        if column == "service_date" and resource_type in SERVICE_DATE_FIELDS:
            return f"{resource_type}.{SERVICE_DATE_FIELDS[resource_type]}"
        return f"{resource_type}.{SOURCE_FIELDS.get(column, column)}"

    def row_location(self, source_file: str, source_line: int, record_key: str) -> Location:
        """The resource type and id (record_key is `Type|id`, a vital adds `|code`)."""
        resource_type, resource_id, *_ = record_key.split("|")
        return Location.fhir(resource_type, resource_id)

    def deleted_record_key(self, deleted: Location) -> str:
        """`Type|id`: the resource's rows in every entity (a vital adds `|code`)."""
        assert deleted.key is not None
        return record_key(deleted.source, deleted.key)

    def read(self, hospital_code: str, extract_dir: Path | None, extract_date: date) -> Extract:
        folder = extract_dir or self.extract_dir(extract_date)
        window = self.window(extract_date)
        server = self.settings.server
        if server is not None and read_manifest(folder) is None:
            assert window is not None
            since = min(
                filter(None, [window.start_utc, previous_transaction_time(folder, extract_date)])
            )
            download_export(server, folder, since, WANTED)
        _, read = read_export(folder, WANTED)
        deleted = _deleted(read.deletions)
        latest = [
            line
            for line in _latest(read.lines).values()
            if (line.resource["resourceType"], str(line.resource.get("id"))) not in deleted
        ]
        batch_id = batch_id_for(read.files)
        # National IDs and visits come from every version held, even one outside the window
        # (a Patient fetched because today's Condition names it); rows only from the window.
        context = self._context(latest)
        rows, rejected = self._rows([line for line in latest if _in_window(line, window)], context)
        for resource_type, reject in read.unreadable:
            entity = reject_entity({"resourceType": resource_type})
            rejected.append(
                Reject(entity, reject.location, None, reject.rule, reject.reason, reject.row_hash)
            )
        lineage = (hospital_code, extract_date, batch_id)
        return Extract(
            hospital_code=hospital_code,
            extract_date=extract_date,
            batch_id=batch_id,
            files=read.files,
            tables={entity: _table(entity, rows[entity], lineage) for entity in ENTITIES},
            rejected=rejected,
            window=window,
            deleted=[Location.fhir(kind, key) for kind, key in sorted(deleted)],
        )

    def _context(self, lines: list[Line]) -> Context:
        context = Context(self.settings)
        for line in lines:
            resource = line.resource
            if resource["resourceType"] == "Patient":
                context.national_ids[str(resource.get("id"))] = national_id(
                    resource, self.settings.national_id_system
                )
            elif resource["resourceType"] == "Encounter":
                try:
                    day = local_date((resource.get("period") or {}).get("start"))
                    visit = (encounter_class(resource), day)
                except (Unreadable, AttributeError, TypeError):
                    continue  # the Encounter itself is rejected; its rows get no visit
                context.visits[str(resource.get("id"))] = visit
        return context

    def _rows(
        self, lines: list[Line], context: Context
    ) -> tuple[dict[str, list[tuple[Line, Row]]], list[Reject]]:
        rows: dict[str, list[tuple[Line, Row]]] = {entity: [] for entity in ENTITIES}
        rejected: list[Reject] = []
        for line in lines:
            resource = line.resource
            try:
                if not isinstance(resource.get("id"), str) or not resource["id"]:
                    raise Refused("id", "resource_readable", "resource has no id")
                for row in MAPPERS[resource["resourceType"]](resource, context):
                    _check_text(row)
                    rows[row.entity].append((line, row))
            except Refused as refused:
                rejected.append(_reject(line, refused))
            except (AttributeError, TypeError, KeyError):
                # An element of the wrong shape (a string where FHIR has an object, ...).
                rejected.append(
                    _reject(
                        line,
                        Refused(
                            "(structure)",
                            "resource_readable",
                            "an element does not have its FHIR R4 shape",
                        ),
                    )
                )
        return rows, rejected


_TEXT_COLUMNS: Final = {
    entity: frozenset(f.name for f in schema_for(entity) if f.type == pa.string())
    for entity in ENTITIES
}


def _check_text(row: Row) -> None:
    """A text column given a number, a list or an object (a `family` that is a list, say)."""
    for column in _TEXT_COLUMNS[row.entity]:
        value = row.get(column)
        if value is not None and not isinstance(value, str):
            raise Refused(
                SOURCE_FIELDS.get(column, column),
                "resource_readable",
                "an element does not have its FHIR R4 shape",
            )


def _latest(lines: list[Line]) -> dict[tuple[str, str], Line]:
    """Each resource's latest version by meta.lastUpdated; a later line wins a tie."""
    latest: dict[tuple[str, str], Line] = {}
    for line in lines:
        resource_id = line.resource.get("id")
        if not isinstance(resource_id, str):
            resource_id = f"{line.file}:{line.line}"  # no id: cannot be a duplicate (a reject)
        key = (line.resource["resourceType"], resource_id)
        kept = latest.get(key)
        if kept is None or _updated(kept) <= _updated(line):
            latest[key] = line
    return latest


_NEVER: Final = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


def _updated(line: Line) -> datetime:
    return parse_instant(last_updated(line.resource)) or _NEVER


def _in_window(line: Line, window: ExtractWindow | None) -> bool:
    """Without a lastUpdated the version cannot be placed in time: it is kept."""
    updated = parse_instant(last_updated(line.resource))
    return window is None or updated is None or window.contains(updated)


def _deleted(bundles: list[Line]) -> set[tuple[str, str]]:
    """(type, id) of every DELETE entry of the `deleted` Bundles."""
    deleted = set()
    for bundle in bundles:
        for entry in bundle.resource.get("entry") or []:
            request = entry.get("request") if isinstance(entry, dict) else None
            if not isinstance(request, dict):
                continue
            parts = str(request.get("url", "")).rstrip("/").split("/")
            if request.get("method") == "DELETE" and len(parts) >= 2:
                deleted.add((parts[-2], parts[-1]))
    return deleted


def _reject(line: Line, refused: Refused) -> Reject:
    resource = line.resource
    resource_type = str(resource["resourceType"])
    resource_id = resource.get("id")
    location = (
        Location.fhir(resource_type, resource_id)
        if isinstance(resource_id, str) and resource_id
        else Location.in_file(line.file, line.line)
    )
    return Reject(
        entity=reject_entity(resource),
        location=location,
        field=f"{resource_type}.{refused.field}",
        rule=refused.rule,
        reason=refused.reason,
        row_hash=reject_hash([orjson.dumps(resource, option=orjson.OPT_SORT_KEYS).decode()]),
    )


def record_key(resource_type: str, resource_id: str) -> str:
    """A resource's record key (docs/connectors.md "Lineage"); a row may add a suffix."""
    return f"{resource_type}|{resource_id}"


def _table(entity: str, rows: list[tuple[Line, Row]], lineage: tuple[str, date, str]) -> pa.Table:
    hospital_code, extract_date, batch_id = lineage
    records = []
    for line, row in rows:
        resource = line.resource
        key = record_key(resource["resourceType"], resource["id"])
        try:
            recorded_at = local_moment(last_updated(resource))
        except Unreadable:
            recorded_at = None
            row.invalid.append("recorded_at")
        records.append(
            {
                **row,
                "hospital_code": hospital_code,
                "source_file": line.file,
                "source_line": line.line,
                "extract_date": extract_date,
                "batch_id": batch_id,
                "record_key": f"{key}|{row.key_suffix}" if row.key_suffix else key,
                "recorded_at": recorded_at,
                "invalid_fields": ",".join(row.invalid) or None,
            }
        )
    return pa.Table.from_pylist(records, schema=schema_for(entity))
