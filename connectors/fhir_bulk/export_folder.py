"""An export as found on disk: its manifest (when there is one) and its NDJSON files.

A Bulk Data export is a folder of NDJSON files, one resource per line, and a manifest
(`manifest.json`, the status response of the `$export` that made it) listing the output
files by type, the `deleted` files (Bundles of deleted resources) and `transactionTime`.
A folder without a manifest (a Synthea export, say) is read by file name: `<Type>.ndjson`
or `<Type>.<n>.ndjson`. Lines are parsed with orjson; a line that is not a JSON object
becomes a reject (file and line, never its content).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

import orjson

from connectors.base import ExtractError, Location, Reject, SourceFile, reject_hash

MANIFEST_NAME: Final = "manifest.json"


@dataclass(frozen=True)
class ExportFile:
    name: str
    resource_type: str  # the manifest's `type` (Bundle for deletions)


@dataclass(frozen=True)
class Manifest:
    transaction_time: datetime | None
    output: tuple[ExportFile, ...]
    deleted: tuple[ExportFile, ...] = ()
    errors: tuple[ExportFile, ...] = ()  # OperationOutcomes of what the server could not export


@dataclass(frozen=True)
class Line:
    """One resource as read: where it came from and the parsed JSON."""

    file: str
    line: int
    resource: dict[str, Any]


@dataclass
class ReadFiles:
    files: list[SourceFile] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    deletions: list[Line] = field(default_factory=list)
    unreadable: list[tuple[str, Reject]] = field(default_factory=list)  # (resource type, reject)


def parse_instant(text: object) -> datetime | None:
    """A FHIR instant (always with a zone); None when absent or not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = orjson.loads(path.read_bytes())
        return Manifest(
            transaction_time=parse_instant(data.get("transactionTime")),
            output=tuple(_files(data.get("output", []))),
            deleted=tuple(_files(data.get("deleted", []))),
            errors=tuple(_files(data.get("error", []))),
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        raise ExtractError(
            "unreadable",
            "not a Bulk Data manifest (JSON with output[].type/url)",
            source_file=MANIFEST_NAME,
        ) from None


def _files(entries: list[dict[str, Any]]) -> Iterator[ExportFile]:
    for entry in entries:
        yield ExportFile(Path(urlparse(entry["url"]).path).name, entry["type"])


def files_by_name(folder: Path) -> Manifest:
    """No manifest: every `<Type>[.<n>].ndjson` is that type's output."""
    output = []
    for path in sorted(folder.glob("*.ndjson")):
        resource_type = path.name.split(".", 1)[0]
        if resource_type[:1].isupper():  # log.ndjson and the like are not resources
            output.append(ExportFile(path.name, resource_type))
    return Manifest(transaction_time=None, output=tuple(output))


def read_export(folder: Path, wanted: frozenset[str]) -> tuple[Manifest, ReadFiles]:
    """The manifest (or the folder's files by name) and every wanted file, read and parsed."""
    if not folder.is_dir():
        raise ExtractError("missing_file", "export folder not found", source_file=folder.name)
    manifest = read_manifest(folder) or files_by_name(folder)
    read = ReadFiles()
    if (folder / MANIFEST_NAME).is_file():
        read.files.append(SourceFile.of(MANIFEST_NAME, (folder / MANIFEST_NAME).read_bytes()))
    for entry in manifest.output:
        if entry.resource_type in wanted:
            _read_file(folder, entry, read, read.lines)
    for entry in manifest.deleted:
        _read_file(folder, entry, read, read.deletions)
    outcomes: list[Line] = []
    for entry in manifest.errors:
        _read_file(folder, entry, read, outcomes)
    _refuse_incomplete(outcomes, read)
    return manifest, read


def _refuse_incomplete(outcomes: list[Line], read: ReadFiles) -> None:
    """An error or fatal issue means resources the server did not export: the extract is
    incomplete, and loading it would lose them without a trace. (Warnings do not count.)"""
    for outcome in outcomes:
        issues = outcome.resource.get("issue") or []
        if any(i.get("severity") in ("error", "fatal") for i in issues if isinstance(i, dict)):
            error = ExtractError(
                "unreadable",
                "the export's error file reports resources the server could not export",
                source_file=outcome.file,
                source_line=outcome.line,
            )
            error.files = list(read.files)
            raise error


def _read_file(folder: Path, entry: ExportFile, read: ReadFiles, into: list[Line]) -> None:
    path = folder / entry.name
    if not path.is_file():
        error = ExtractError(
            "missing_file", "file listed in the manifest not found", source_file=entry.name
        )
        error.files = list(read.files)
        raise error
    content = path.read_bytes()
    read.files.append(SourceFile.of(entry.name, content))
    for number, text in enumerate(content.splitlines(), start=1):
        if not text.strip():
            continue  # blank lines still count for line numbers
        try:
            resource = orjson.loads(text)
        except orjson.JSONDecodeError:
            resource = None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            read.unreadable.append((entry.resource_type, _unreadable(entry.name, number, text)))
            continue
        into.append(Line(entry.name, number, resource))


def _unreadable(name: str, line: int, text: bytes) -> Reject:
    return Reject(
        entity="",  # set by the caller, which knows the type's entity
        location=Location.in_file(name, line),
        field=None,
        rule="line_readable",
        reason="not a FHIR resource (a JSON object with resourceType)",
        row_hash=reject_hash([text.decode("utf-8", errors="replace")]),
    )
