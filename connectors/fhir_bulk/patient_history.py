"""A FHIR server asked for patients' full records (history requests: warehouse.pipeline.history).

The server's patients are listed by a Patient search (`Patient?_elements=identifier`, paged):
no national ID is ever sent to the server, in a URL or a body. Each asked Patient's record is
read with `Patient/<id>/$everything`, page by page; a server that does not offer it (404 or
501) is asked type by type (`<Type>?patient=<id>`, the Patient itself by `_id`).

The record is returned as one NDJSON "file" per resource type, resources sorted by id and
written with sorted keys: the same record hashes the same on a re-run, whatever order the
server answered in, so a re-run of the day keeps its batch id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final
from urllib.parse import quote

import orjson

from connectors.base import SourceFile
from connectors.fhir_bulk.export_folder import Line
from connectors.fhir_bulk.rows import national_id
from connectors.fhir_bulk.server_session import ServerSession
from connectors.fhir_bulk.values import Resource

PAGE_SIZE: Final = 500
# What a server answers for an operation it does not offer (or a Patient it cannot expand).
EVERYTHING_REFUSED: Final = frozenset({404, 501})
HISTORY_FILE_SUFFIX: Final = ".history.ndjson"


def list_patients(session: ServerSession, system: str) -> Iterator[tuple[str, str | None]]:
    """(Patient id, national ID or None) of every Patient the server holds."""
    params = {"_elements": "identifier", "_count": str(PAGE_SIZE)}
    for resource in session.search(f"{session.base}/Patient", "Patient search", params):
        resource_id = resource.get("id")
        if resource.get("resourceType") == "Patient" and isinstance(resource_id, str):
            yield resource_id, national_id(resource, system)


def patient_record(
    session: ServerSession, patient_id: str, types: Iterable[str]
) -> Iterator[Resource]:
    """Every resource of one patient's record, of any type (the caller keeps what it reads)."""
    url = f"{session.base}/Patient/{quote(patient_id, safe='')}/$everything"
    first = session.get(url, "$everything", {"_count": str(PAGE_SIZE)})
    if first.status_code in EVERYTHING_REFUSED:
        yield from _type_by_type(session, patient_id, types)
    else:
        yield from session.resources(first, "$everything")


def _type_by_type(
    session: ServerSession, patient_id: str, types: Iterable[str]
) -> Iterator[Resource]:
    for kind in sorted(types):
        by = {"_id": patient_id} if kind == "Patient" else {"patient": patient_id}
        params = {**by, "_count": str(PAGE_SIZE)}
        yield from session.search(f"{session.base}/{kind}", f"{kind} search", params)


def as_files(
    resources: Iterable[Resource], wanted: frozenset[str]
) -> tuple[list[SourceFile], list[Line]]:
    """The wanted resources as `<Type>.history.ndjson` files: their hashes and their lines."""
    by_type: dict[str, dict[bytes, Resource]] = {}
    for resource in resources:
        kind = resource.get("resourceType")
        if kind in wanted:
            # keyed by the resource's canonical JSON: a resource sent twice is read once
            text = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
            by_type.setdefault(str(kind), {})[text] = resource
    files: list[SourceFile] = []
    lines: list[Line] = []
    for kind in sorted(by_type):
        name = kind + HISTORY_FILE_SUFFIX
        ordered = sorted(by_type[kind].items(), key=lambda item: (str(item[1].get("id")), item[0]))
        files.append(SourceFile.of(name, b"".join(text + b"\n" for text, _ in ordered)))
        lines.extend(
            Line(name, number, resource) for number, (_, resource) in enumerate(ordered, 1)
        )
    return files, lines
