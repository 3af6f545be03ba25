"""Patient search over published.patient only: national ID (exact) or Thai first + last name.

Names are compared after pythainlp's normalisation (no corpus download), with tone marks and
all spacing removed, then scored with rapidfuzz, so "สมชาย ใจดี", "สม ชาย ใจดี่" and a one-letter
typo find the same person. Counts are over visible patients only: nothing about anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from warehouse.api.names import blocking_keys, normalise_name
from warehouse.storage.connection import WarehouseConnection

# Each of first and last name must be at least this similar (0-100) once normalised.
NAME_THRESHOLD = 75.0
RESULT_COLUMNS = ("patient_key", "prename", "first_name", "last_name", "sex", "birth_date")


@dataclass
class SearchPage:
    total: int
    items: list[dict[str, Any]]


def by_national_id(conn: WarehouseConnection, national_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM published.patient WHERE cid = ?", [national_id]
    ).fetchall()
    return [dict(zip(RESULT_COLUMNS, r, strict=True)) | {"score": 100.0} for r in rows]


def by_name(conn: WarehouseConnection, first_name: str, last_name: str) -> list[dict[str, Any]]:
    """Every visible patient similar enough on both names, best first. Candidates come from
    the blocking keys (warehouse.api.name_index), joined back to published.patient so only
    patients visible now are scored."""
    wanted_first, wanted_last = normalise_name(first_name), normalise_name(last_name)
    keys = sorted(blocking_keys(wanted_first, wanted_last))
    rows = conn.execute(
        f"SELECT {', '.join('patient.' + c for c in RESULT_COLUMNS)} FROM published.patient "
        "WHERE patient.patient_key IN (SELECT candidate.patient_key FROM api.name_key AS "
        f"candidate WHERE candidate.name_key IN ({', '.join('?' for _ in keys)}))",
        keys,
    ).fetchall()
    found = []
    for row in rows:
        first = fuzz.ratio(wanted_first, normalise_name(row[2] or ""))
        if first < NAME_THRESHOLD:
            continue
        last = fuzz.ratio(wanted_last, normalise_name(row[3] or ""))
        if last < NAME_THRESHOLD:
            continue
        item = dict(zip(RESULT_COLUMNS, row, strict=True))
        item["score"] = round(min(first, last), 1)
        found.append(item)
    found.sort(key=lambda item: (-item["score"], item["patient_key"]))
    return found


def paginate(items: list[dict[str, Any]], page: int, page_size: int) -> SearchPage:
    start = (page - 1) * page_size
    return SearchPage(total=len(items), items=items[start : start + page_size])
