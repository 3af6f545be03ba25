"""The one interface every connector implements, and what it returns."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import ClassVar

import pyarrow as pa


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


@dataclass(frozen=True)
class RejectedLine:
    """A source line the connector could not turn into a row (e.g. wrong field count)."""

    entity: str
    source_file: str
    source_line: int
    field: str | None
    reason: str
    row_hash: str  # sha256 of the raw line bytes; the line itself is never kept


@dataclass
class Extract:
    """What a connector read for one hospital and extract date."""

    hospital_code: str
    extract_date: date
    batch_id: str  # content hash of the source files
    files: list[SourceFile]
    tables: dict[str, pa.Table]  # entity -> table in the canonical contract
    rejected: list[RejectedLine] = field(default_factory=list)


class Connector(abc.ABC):
    """Discover what an extract holds and read it into the canonical contract.

    Connectors move data and record lineage; they know nothing of consent or of
    clinical rules (those live in the sync step, the expectations and dbt).
    """

    kind: ClassVar[str]

    @abc.abstractmethod
    def discover(self, extract_dir: Path) -> list[SourceFile]:
        """The source files of one extract, hashed; raises ExtractError if one is missing."""

    @abc.abstractmethod
    def read(self, hospital_code: str, extract_dir: Path, extract_date: date) -> Extract:
        """Read one extract; raises ExtractError when the batch cannot be read as a whole."""

    @abc.abstractmethod
    def source_field(self, source_file: str, column: str) -> str:
        """The source's own name for a canonical column of a row from `source_file`."""
