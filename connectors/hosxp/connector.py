"""The HOSxP connector: a hospital's HOSxP database (MySQL/MariaDB) read over the MySQL
protocol, the day's window of changed rows mapped onto the canonical contract."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, Final

import pyarrow as pa

from connectors.base import (
    Connector,
    Extract,
    ExtractError,
    Location,
    Reject,
    SourceFile,
    batch_id_for,
    reject_hash,
)
from connectors.contract import ENTITIES, empty_table, schema_for
from connectors.hosxp.clinical import (
    ADMISSION_DIAGNOSES,
    ADMISSION_OPERATIONS,
    DISPENSING,
    EMERGENCY_PROCEDURES,
    VISIT_DIAGNOSES,
    VISIT_OPERATIONS,
)
from connectors.hosxp.credentials import load_credentials
from connectors.hosxp.query import Canonical, Query
from connectors.hosxp.results import ALLERGIES, IMAGING, IMMUNIZATIONS, LAB_RESULTS
from connectors.hosxp.row import SourceRow
from connectors.hosxp.settings import HosxpSettings
from connectors.hosxp.source import open_source
from connectors.hosxp.visits import ADMISSIONS, OUTPATIENT_VISITS, PATIENT, VITAL_SIGNS
from connectors.window import ExtractWindow

QUERIES: Final[tuple[Query, ...]] = (
    PATIENT,
    OUTPATIENT_VISITS,
    ADMISSIONS,
    VITAL_SIGNS,
    VISIT_DIAGNOSES,
    ADMISSION_DIAGNOSES,
    DISPENSING,
    EMERGENCY_PROCEDURES,
    VISIT_OPERATIONS,
    ADMISSION_OPERATIONS,
    LAB_RESULTS,
    IMMUNIZATIONS,
    ALLERGIES,
    IMAGING,
)
_BY_TABLE: Final = {query.table: query for query in QUERIES}
# A row that could not be read at the source (a date that does not exist): the database's
# counterpart of a 43-file line that cannot be split (docs/contract.md "Rejects").
ROW_READABLE: Final = "row_readable"


@dataclass
class _TableRead:
    """What one query read: canonical rows, rejects and the hash of the rows as sent."""

    query: Query
    rows: list[Canonical] = field(default_factory=list)
    rejected: list[Reject] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)
    size: int = 0

    @property
    def source(self) -> SourceFile:
        return SourceFile(self.query.table, self.digest.hexdigest(), self.size)


class HosxpConnector(Connector):
    kind: ClassVar[str] = "hosxp"

    @property
    def supports_history(self) -> bool:
        return True

    def __init__(self, settings: HosxpSettings) -> None:
        self.settings = settings

    def window(self, extract_date: date) -> ExtractWindow:
        return ExtractWindow.for_day(extract_date, self.settings.overlap_days)

    def read(self, hospital_code: str, extract_dir: Path | None, extract_date: date) -> Extract:
        window = self.window(extract_date)
        params = {"start": window.start_local, "end": window.end_local}
        return self._extract(hospital_code, extract_date, lambda q: q.sql, params, window)

    def national_ids(self) -> Iterator[str | None]:
        """patient.cid of every patient (to resolve history requests' keys)."""
        credentials = load_credentials(self.settings)
        with open_source(credentials, self.settings.database) as source:
            yield from source.national_ids()

    def read_history(
        self, hospital_code: str, national_ids: Sequence[str], extract_date: date
    ) -> Extract:
        """The full history of the named patients, whatever its dates (a history request of
        newly consenting patients: ops.history_request); the extract has no window."""
        if not national_ids:
            raise ValueError("read_history needs at least one national ID")
        params = {"national_ids": tuple(national_ids)}
        return self._extract(hospital_code, extract_date, lambda q: q.history_sql, params, None)

    def _extract(
        self,
        hospital_code: str,
        extract_date: date,
        sql_of: Callable[[Query], str],
        params: dict[str, Any],
        window: ExtractWindow | None,
    ) -> Extract:
        credentials = load_credentials(self.settings)
        with open_source(credentials, self.settings.database) as source:
            present = source.columns()
            queries = self._queries_the_schema_serves(present)
            reads = [self._read_table(source.rows(sql_of(q), params), q) for q in queries]
        files = [read.source for read in reads]
        batch_id = batch_id_for(files)
        lineage = {
            "hospital_code": hospital_code,
            "extract_date": extract_date,
            "batch_id": batch_id,
        }
        pieces: dict[str, list[pa.Table]] = {entity: [] for entity in ENTITIES}
        for read in reads:
            rows = [{**row, **lineage} for row in read.rows]
            pieces[read.query.entity].append(
                pa.Table.from_pylist(rows, schema=schema_for(read.query.entity))
            )
        return Extract(
            hospital_code=hospital_code,
            extract_date=extract_date,
            batch_id=batch_id,
            files=files,
            tables={
                entity: pa.concat_tables(parts) if parts else empty_table(entity)
                for entity, parts in pieces.items()
            },
            rejected=[reject for read in reads for reject in read.rejected],
            window=window,
            source_schema={
                table: tuple(sorted(present[table])) for query in queries for table in query.needs
            },
        )

    def source_field(self, source_file: str, column: str) -> str:
        """The HOSxP `table.column` a canonical column of a row from `source_file` came from."""
        return _BY_TABLE[source_file].origins[column]

    def row_location(self, source_file: str, source_line: int, record_key: str) -> Location:
        """The HOSxP table and the row's primary key (record_key is `<table>|<key>`)."""
        return Location.in_table(source_file, _BY_TABLE[source_file].primary_key_of(record_key))

    def schema_gaps(self) -> list[SchemaGap]:
        """Every table and column the contract's queries need and the database lacks (for
        onboarding: all of them at once, where a read stops at the first)."""
        credentials = load_credentials(self.settings)
        with open_source(credentials, self.settings.database) as source:
            return schema_gaps(source.columns())

    def _queries_the_schema_serves(self, present: dict[str, set[str]]) -> list[Query]:
        """The queries to run; a table or column the contract needs and the schema lacks
        quarantines the batch, naming it (an optional table, imaging, is skipped instead)."""
        gaps = schema_gaps(present)
        for gap in gaps:
            if not gap.optional:
                raise gap.error()
        skipped = {gap.query.table for gap in gaps}  # a query's table names it (_BY_TABLE)
        return [query for query in QUERIES if query.table not in skipped]

    def _read_table(self, results: Iterable[dict[str, Any]], query: Query) -> _TableRead:
        read = _TableRead(query)
        for ordinal, values in enumerate(results, start=1):
            line = _hash_line(values.values())
            read.digest.update(line)
            read.size += len(line)
            row = query.source_row(values)
            built = query.rows(row)
            if row.unreadable:
                read.rejected.append(_unreadable_row(query, row))
                continue
            # source_line: the row's place in the table's read, ordered by primary key.
            read.rows.extend(
                {**canonical, "source_file": query.table, "source_line": ordinal}
                for canonical in built
            )
        return read


@dataclass(frozen=True)
class SchemaGap:
    """A table (column None) or column a query needs that the database lacks."""

    query: Query
    table: str
    column: str | None

    @property
    def optional(self) -> bool:
        """A table an optional query reads (imaging) is skipped; its columns are not."""
        return self.query.optional and self.column is None

    @property
    def reason_code(self) -> str:
        return "missing_table" if self.column is None else "missing_column"

    def error(self) -> ExtractError:
        thing = "table" if self.column is None else "column"
        return ExtractError(
            self.reason_code,
            f"HOSxP {thing} not found (needed for {self.query.entity})",
            source_file=self.table,
            field=self.column,
        )


def schema_gaps(present: dict[str, set[str]]) -> list[SchemaGap]:
    """What each query needs and `present` (table -> columns, lower case) lacks; a missing
    table hides its columns."""
    gaps = []
    for query in QUERIES:
        missing_tables = [table for table in query.needs if table not in present]
        gaps += [SchemaGap(query, table, None) for table in missing_tables]
        if missing_tables:
            continue
        for table, columns in query.needs.items():
            gaps += [SchemaGap(query, table, column) for column in sorted(columns - present[table])]
    return gaps


def _hash_line(values: Iterable[object]) -> bytes:
    """A row as hashed into the batch id: the repr of its values (None, str, int, Decimal,
    float, bytes, date, datetime, timedelta: each repr is exact and stable), one per line.
    One repr per row costs a third of joining each value's text."""
    return (repr(tuple(values)) + "\n").encode("utf-8")


def _unreadable_row(query: Query, row: SourceRow) -> Reject:
    column = row.unreadable[0]
    return Reject(
        entity=query.entity,
        location=Location.in_table(query.table, row.primary_key),
        field=query.origins.get(column, column),
        rule=ROW_READABLE,
        reason=f"{column} could not be read (a date or time that does not exist, or not a number)",
        row_hash=reject_hash(row.values.values()),
    )
