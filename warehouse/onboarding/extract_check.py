"""`healthlink extract check`: what a first ingest of a 43-file folder would do, without one.

The folder goes through the same steps as a batch (warehouse/pipeline/batch.py) up to the
point where a batch would write: the file43 connector reads it, unreadable national IDs are
rejected by the sync step's own rule, and every entity is validated by its expectation
suite. Nothing is filtered by consent (no patient is known here) and nothing is written.
The report holds file names, line numbers, field and rule names, counts, dates and reference
codes: never a value of a row.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from connectors.base import Extract, ExtractError, Reject
from connectors.file43 import File43Connector, File43Settings
from connectors.file43.layout import FILE_NAMES, LAYOUTS
from warehouse.onboarding.batch_rules import apply_batch_rules, batch_would_quarantine, row_dates
from warehouse.onboarding.detect import FileFormat, detect_file
from warehouse.onboarding.proposal import Disagreement, Proposal, disagreements, propose
from warehouse.onboarding.reference_codes import DEFAULT_DIR, Coverage, coverage

LINES_SHOWN: Final = 100  # line numbers listed per (file, rule, field); the count is whole
_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Hospital code put on the rows' lineage when no hospital is named (validation needs one).
UNNAMED_HOSPITAL: Final = "00000"


class NoExtract(ValueError):
    """The path is neither an extract folder nor a connector path with one."""


@dataclass
class RuleRejects:
    file: str
    rule: str
    field: str | None
    lines: list[int]  # every line, sorted; reports show the first LINES_SHOWN

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "rule": self.rule,
            "field": self.field,
            "rows": len(self.lines),
            "lines": self.lines[:LINES_SHOWN],
        }


@dataclass
class FileReport:
    format: FileFormat
    rows: int = 0  # canonical rows read from it (a SERVICE line feeds several entities)
    field_count_anomalies: list[int] = field(default_factory=list)  # lines
    rejected_lines: int = 0
    first_date: date | None = None
    last_date: date | None = None

    def to_dict(self) -> dict[str, object]:
        found = self.format
        return {
            "file": found.name,
            "size_bytes": found.size_bytes,
            "encoding": found.encoding,
            "first_invalid_line": found.first_invalid_line,
            "delimiter": found.delimiter,
            "header": found.header,
            "date_era": found.era,
            "years_by_era": found.years_by_era,
            "data_lines": found.data_lines,
            "rows": self.rows,
            "field_count_anomalies": len(self.field_count_anomalies),
            "field_count_anomaly_lines": self.field_count_anomalies[:LINES_SHOWN],
            "rejected_lines": self.rejected_lines,
            "first_date": self.first_date,
            "last_date": self.last_date,
        }


@dataclass
class ExtractCheck:
    folder: Path
    extract_date: date
    hospital_code: str | None
    proposal: Proposal
    settings_used: File43Settings
    declared: File43Settings | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    read_error: str | None = None  # the connector's refusal: file, line, field, reason
    read_error_code: str | None = None
    files: list[FileReport] = field(default_factory=list)
    rejects: list[RuleRejects] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0
    reject_threshold: float = 0.05

    @property
    def readable(self) -> bool:
        """The folder reads as declared (or, with no declaration, as detected)."""
        return self.read_error is None and not self.disagreements and not self.proposal.conflicts

    @property
    def would_quarantine(self) -> bool:
        return batch_would_quarantine(
            self.critical, self.rows_read, self.rows_rejected, self.reject_threshold
        )

    @property
    def ok(self) -> bool:
        return self.readable and not self.would_quarantine

    def proposed_connector(self) -> dict[str, object]:
        """The `connector:` block the files call for (path: the folder holding the days)."""
        return {"kind": "file43", "path": str(self.folder.parent), **self.proposal.settings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "extract_date": self.extract_date,
            "hospital_code": self.hospital_code,
            "ok": self.ok,
            "readable": self.readable,
            "would_quarantine": self.would_quarantine,
            "proposed_connector": self.proposed_connector(),
            "settings_evidence": self.proposal.evidence,
            "conflicts": self.proposal.conflicts,
            "declared_connector": (
                None if self.declared is None else self.declared.model_dump(mode="json")
            ),
            "disagreements": [d.to_dict() for d in self.disagreements],
            "missing_files": self.missing_files,
            "read_error": self.read_error,
            "read_error_code": self.read_error_code,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "reject_threshold": self.reject_threshold,
            "critical_failures": self.critical,
            "files": [f.to_dict() for f in self.files],
            "rejects": [r.to_dict() for r in self.rejects],
            "coverage": [c.to_dict() for c in self.coverage],
        }


@dataclass(frozen=True)
class ExtractFolder:
    """An extract folder and what each of its 43-files' bytes say (detected once)."""

    path: Path
    formats: list[FileFormat]
    missing_files: list[str]

    @classmethod
    def detect(cls, path: Path) -> ExtractFolder:
        present = {p.name.upper(): p for p in path.iterdir() if p.is_file()}
        formats = [
            detect_file(present[f"{name}.TXT"], LAYOUTS[name])
            for name in FILE_NAMES
            if f"{name}.TXT" in present
        ]
        missing = [f"{name}.txt" for name in FILE_NAMES if f"{name}.TXT" not in present]
        return cls(path, formats, missing)

    @property
    def has_rows(self) -> bool:
        return any(found.data_lines > 0 for found in self.formats)


def find_extract(path: Path) -> ExtractFolder:
    """`path` itself when it holds 43-files; else, of its YYYY-MM-DD sub-folders, the latest
    with any data line (a day without rows shows nothing of how the hospital writes), or the
    latest when all are empty."""
    if not path.is_dir():
        raise NoExtract(f"{path}: not a folder")
    if any(p.suffix.lower() == ".txt" for p in path.iterdir() if p.is_file()):
        return ExtractFolder.detect(path)
    days = sorted(p for p in path.iterdir() if p.is_dir() and _DAY_FOLDER.match(p.name))
    if not days:
        raise NoExtract(f"{path}: no 43-files and no YYYY-MM-DD extract folder in it")
    latest = ExtractFolder.detect(days[-1])
    for day in reversed(days):
        found = latest if day == latest.path else ExtractFolder.detect(day)
        if found.has_rows:
            return found
    return latest


def folder_date(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        return None


def check_extract(
    extract: ExtractFolder,
    extract_date: date,
    *,
    hospital_code: str | None = None,
    declared: File43Settings | None = None,
    reject_threshold: float,
    reference_codes: Path = DEFAULT_DIR,
) -> ExtractCheck:
    folder, formats = extract.path, extract.formats
    proposal = propose(formats)
    settings = declared or File43Settings(path=folder.parent, **proposal.settings)  # type: ignore[arg-type]
    check = ExtractCheck(
        folder=folder,
        extract_date=extract_date,
        hospital_code=hospital_code,
        proposal=proposal,
        settings_used=settings,
        declared=declared,
        disagreements=disagreements(formats, declared) if declared else [],
        missing_files=extract.missing_files,
        files=[FileReport(found) for found in formats],
        reject_threshold=reject_threshold,
    )
    connector = File43Connector(settings)
    try:
        read = connector.read(hospital_code or UNNAMED_HOSPITAL, folder, extract_date)
    except ExtractError as error:
        check.read_error, check.read_error_code = str(error), error.reason_code
        return check
    _validate(check, read, connector, reference_codes)
    return check


def _validate(
    check: ExtractCheck, extract: Extract, connector: File43Connector, reference_codes: Path
) -> None:
    """The batch's reject rules, in memory (batch_rules); then per-file counts, date ranges
    and code coverage."""
    found = apply_batch_rules(extract, connector, check.extract_date)
    check.rows_read, check.rows_rejected = found.rows_read, found.rows_rejected
    check.critical = found.critical
    _per_file(check, extract, found.rejects, found.accepted)
    check.coverage = coverage(found.accepted, reference_codes)


def _per_file(
    check: ExtractCheck,
    extract: Extract,
    rejects: list[Reject],
    accepted: dict[str, pa.Table],
) -> None:
    reports = {report.format.name: report for report in check.files}
    for table in extract.tables.values():
        for name, rows in Counter(table.column("source_file").to_pylist()).items():
            reports[name].rows += rows
    by_rule: dict[tuple[str, str, str | None], set[int]] = defaultdict(set)
    lines_by_file: dict[str, set[int]] = defaultdict(set)
    for reject in rejects:
        where = reject.location
        line = where.line or 0
        by_rule[(where.source, reject.rule, reject.field)].add(line)
        lines_by_file[where.source].add(line)
        if reject.rule == "line_readable":
            reports[where.source].field_count_anomalies.append(line)
    for name, lines in lines_by_file.items():
        reports[name].rejected_lines = len(lines)
    for report in reports.values():
        report.field_count_anomalies.sort()
    check.rejects = [
        RuleRejects(file, rule, field_name, sorted(lines))
        for (file, rule, field_name), lines in sorted(by_rule.items(), key=lambda i: i[0][:2])
    ]
    for table in accepted.values():
        _add_date_ranges(reports, table)


def _add_date_ranges(reports: dict[str, FileReport], table: pa.Table) -> None:
    days = row_dates(table)
    if days is None or table.num_rows == 0:
        return
    dated = pa.table({"source_file": table.column("source_file"), "day": days})
    ranges = dated.group_by("source_file").aggregate([("day", "min"), ("day", "max")])
    for name, first, last in zip(
        ranges.column("source_file").to_pylist(),
        ranges.column("day_min").to_pylist(),
        ranges.column("day_max").to_pylist(),
        strict=True,
    ):
        report = reports[name]
        if first is not None:
            report.first_date = min(filter(None, (report.first_date, first)))
        if last is not None:
            report.last_date = max(filter(None, (report.last_date, last)))


__all__ = ["ExtractCheck", "ExtractFolder", "NoExtract", "check_extract", "find_extract"]
