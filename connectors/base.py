"""The one interface every connector implements, and what it returns."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import ClassVar, Final

import pyarrow as pa

from connectors.contract import schema_for
from connectors.window import ExtractWindow


class ExtractError(Exception):
    """The extract as a whole cannot be read: the batch must be quarantined.

    `reason_code` is stable for machines (missing_file, missing_column, wrong_delimiter,
    invalid_encoding, unreadable); the message is for people and never quotes row content.
    """

    def __init__(
        self,
        reason_code: str,
        message: str,
        *,
        source_file: str | None = None,
        source_line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason_code = reason_code
        self.source_file = source_file
        self.source_line = source_line
        self.field = field
        # The extract's files as the connector hashed them before it stopped (None when it
        # stopped before hashing, e.g. a missing file): a quarantine records them as they are.
        self.files: list[SourceFile] | None = None
        where = ", ".join(
            part
            for part in (
                source_file,
                f"line {source_line}" if source_line is not None else None,
                f"field {field}" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message


@dataclass(frozen=True)
class SourceFile:
    """One file of an extract, as found at the source (it stays there)."""

    name: str
    sha256: str
    size_bytes: int

    @classmethod
    def of(cls, name: str, content: bytes) -> SourceFile:
        """The one way a source file is hashed (sha256 of its bytes)."""
        return cls(name, hashlib.sha256(content).hexdigest(), len(content))


def batch_id_for(files: Iterable[SourceFile]) -> str:
    """Content hash of an extract: sha256 over the sorted 'name:sha256' lines, hex[:16]."""
    lines = sorted(f"{f.name}:{f.sha256}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Location:
    """Where a record was read, in the source's own terms; never the record's content.

    Files: `source` is the file name and `line` the physical line (1-based). Databases:
    `source` is the table and `key` its primary key values joined by `|`. FHIR: `source` is
    the resource type and `key` the resource id. A key must not be a national ID.
    """

    source: str
    line: int | None = None
    key: str | None = None

    @classmethod
    def in_file(cls, name: str, line: int) -> Location:
        return cls(name, line=line)

    @classmethod
    def in_table(cls, table: str, primary_key: str) -> Location:
        return cls(table, key=primary_key)

    @classmethod
    def fhir(cls, resource_type: str, resource_id: str) -> Location:
        return cls(resource_type, key=resource_id)


@dataclass(frozen=True)
class Reject:
    """A record refused by a rule: the connector (unreadable line), the consent filter
    (unreadable national ID) or validation. It says where and why, never the values;
    `row_hash` is `reject_hash` of the record (docs/contract.md "Rejects")."""

    entity: str
    location: Location
    field: str | None  # the source's own name for the failing field, when there is one
    rule: str
    reason: str
    row_hash: str


# Left out of a row's reject hash: where and when it was read (so a re-sent record hashes
# the same) and the person identifier, which the consent filter swaps for the patient key.
REJECT_HASH_SKIPPED: Final = frozenset(
    {"source_file", "source_line", "extract_date", "batch_id", "cid", "patient_key"}
)
_NULL = "\x00"
_SEPARATOR = "\x1f"


def _as_text(value: object) -> str:
    if value is None:
        return _NULL
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def reject_hash(values: Iterable[object]) -> str:
    """THE row hash of every reject: sha256 (hex) of the UTF-8 text of the values joined by
    U+001F, a null written as U+0000, dates and timestamps in ISO 8601, floats as Python's
    shortest round-trip text."""
    text = _SEPARATOR.join(_as_text(value) for value in values)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reject_hashes(entity: str, table: pa.Table, rows: pa.Array) -> list[str]:
    """`reject_hash` of the selected rows of a canonical `entity` table: the values of its
    contract columns in contract order, REJECT_HASH_SKIPPED left out."""
    present = set(table.column_names)
    names = [n for n in schema_for(entity).names if n in present and n not in REJECT_HASH_SKIPPED]
    subset = table.select(names).take(rows)
    columns = [column.to_pylist() for column in subset.columns]
    return [reject_hash(values) for values in zip(*columns, strict=True)]


@dataclass
class Extract:
    """What a connector read for one hospital and extract date."""

    hospital_code: str
    extract_date: date
    batch_id: str  # content hash of the source files
    files: list[SourceFile]
    tables: dict[str, pa.Table]  # entity -> table in the canonical contract
    rejected: list[Reject] = field(default_factory=list)  # rule line_readable
    # Databases and FHIR servers: the window of update times this extract covers (kept on
    # the batch and any quarantine, since such a source cannot be "checked again" later).
    window: ExtractWindow | None = None
    # What the source looked like, per file, table or resource type: the columns or fields
    # it had, so that a change from the last loaded extract (schema drift) is noticed. Names
    # that could be data (a file "header" that is really a data line) are never listed here.
    source_schema: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Records the source says were deleted since the last extract (FHIR: the manifest's
    # `deleted` Bundles), by resource type and id; nothing of them is in `tables`. The load
    # deletes their earlier versions (Connector.deleted_record_key, docs/contract.md
    # "Deletions").
    deleted: list[Location] = field(default_factory=list)


class Connector(abc.ABC):
    """Read what one extract holds into the canonical contract.

    Connectors move data and record lineage; they know nothing of consent or of
    clinical rules (those live in the sync step, the expectations and dbt). A file source
    reads the day's folder; a database or FHIR server reads the day's window of updates
    (connectors.window) and ignores `extract_dir`.
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def read(self, hospital_code: str, extract_dir: Path | None, extract_date: date) -> Extract:
        """Read one extract; raises ExtractError when the batch cannot be read as a whole.

        `extract_dir`: a file source's folder when it is not the one its settings name
        (`healthlink sync --extract-dir`); None reads where the settings say."""

    @abc.abstractmethod
    def source_field(self, source_file: str, column: str) -> str:
        """The source's own name for a canonical column of a row from `source_file`."""

    def row_location(self, source_file: str, source_line: int, record_key: str) -> Location:
        """Where a yielded row came from, in the source's own terms, for the rejects the
        consent filter and validation make of it: a file's line by default; a database or
        FHIR source names its table or resource type and key instead (never a national ID)."""
        return Location.in_file(source_file, source_line)

    def deleted_record_key(self, deleted: Location) -> str:
        """The record key prefix of a record on `Extract.deleted`: the record's rows, in any
        entity, have it as record_key or start with it and `|`. Sources reporting deletions."""
        raise NotImplementedError(f"{self.kind} sources report no deletions")

    def extract_dir(self, extract_date: date) -> Path | None:
        """Where a file source's extract for `extract_date` is; None for other sources."""
        return None

    def window(self, extract_date: date) -> ExtractWindow | None:
        """The update window a database or FHIR source reads for `extract_date`."""
        return None

    @property
    def supports_history(self) -> bool:
        """Whether the source can be asked for a patient's full history (a database, a FHIR
        server): such a source serves ops.history_request in the daily sync
        (warehouse.pipeline.history). A file source cannot (the hospital's side sends the
        history in its files), nor can a FHIR hospital that only delivers export folders."""
        return False

    def national_ids(self) -> Iterator[str | None]:
        """Every patient's national ID at the source, read cheaply (HOSxP: patient.cid), so
        that history requests, which name patients by key only, can be resolved. The IDs
        are personal: the caller keeps them in memory only. Sources with supports_history."""
        raise NotImplementedError(f"{self.kind} sources cannot be asked for a history")

    def read_history(
        self, hospital_code: str, national_ids: Sequence[str], extract_date: date
    ) -> Extract:
        """The full history of the named patients, whatever its dates (rows carry
        `extract_date`); the extract has no window. Sources with supports_history."""
        raise NotImplementedError(f"{self.kind} sources cannot be asked for a history")
