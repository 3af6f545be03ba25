"""A FHIR Bulk Data export folder for onboarding: finding one, and which Patient identifier
system carries the Thai national ID (the one setting of a `fhir_bulk` block its bytes show).

Only identifier systems and counts leave here; the identifiers are checked and forgotten.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa

from connectors.fhir_bulk.export_folder import MANIFEST_NAME, read_export
from expectations.national_id import valid_national_id_mask

_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_fhir_export(path: Path) -> bool:
    """A folder holding a Bulk Data manifest or NDJSON files."""
    return path.is_dir() and ((path / MANIFEST_NAME).is_file() or any(path.glob("*.ndjson")))


def find_fhir_export(path: Path) -> Path | None:
    """`path` when it is an export; else its latest YYYY-MM-DD sub-folder that is one."""
    if is_fhir_export(path):
        return path
    if not path.is_dir():
        return None
    days = sorted(p for p in path.iterdir() if p.is_dir() and _DAY_FOLDER.match(p.name))
    return next((day for day in reversed(days) if is_fhir_export(day)), None)


def national_id_systems(folder: Path) -> Counter[str]:
    """Per Patient.identifier system, how many Patients it gives a valid Thai national ID."""
    _, read = read_export(folder, frozenset({"Patient"}))
    by_system: dict[str, list[str]] = {}
    for line in read.lines:
        for identifier in line.resource.get("identifier") or []:
            if not isinstance(identifier, dict):
                continue
            system, value = identifier.get("system"), identifier.get("value")
            if isinstance(system, str) and isinstance(value, str):
                by_system.setdefault(system, []).append(value.strip())
    return Counter(
        {
            system: int(valid_national_id_mask(pa.array(values, pa.string())).true_count)
            for system, values in by_system.items()
        }
    )


def detected_national_id_system(folder: Path) -> str | None:
    """The system that gives the most Patients a valid Thai national ID (None: none does)."""
    counts = +national_id_systems(folder)  # `+` drops the systems with no valid ID
    return counts.most_common(1)[0][0] if counts else None


def coding_systems(folder: Path, resource_type: str, element: str, ids: set[str]) -> Counter[str]:
    """Per code system URI, how many of the resources `ids` of `resource_type` carry a coding
    of it in `element` (what a `code_system_declared` reject was coded in instead). URIs of
    code systems only: the codes themselves are not read out."""
    _, read = read_export(folder, frozenset({resource_type}))
    counts: Counter[str] = Counter()
    for line in read.lines:
        resource = line.resource
        if resource.get("resourceType") != resource_type or resource.get("id") not in ids:
            continue
        concept = resource.get(element)
        codings = concept.get("coding") if isinstance(concept, dict) else None
        systems = {
            c["system"]
            for c in codings or []
            if isinstance(c, dict) and isinstance(c.get("system"), str)
        }
        counts.update(systems)
    return counts
