"""The landing zone: immutable Parquet per hospital / extract date / batch.

Each entity file is named by the hash of its content, so landing the same content twice
writes nothing. A batch directory holds exactly the current files of that batch: when a
replay under a changed consent state lands different content, the superseded files are
removed, so a purged patient does not survive in the landing zone. The files themselves
(naming, writing, rewriting without some rows) are warehouse.storage.landing_files'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from warehouse.storage.landing_files import content_path, parquet_bytes, write_whole


@dataclass(frozen=True)
class LandedBatch:
    directory: Path
    files: dict[str, Path]  # entity -> parquet file
    written: int  # files actually written (0 when the content was already there)


def batch_directory(
    landing_dir: Path, hospital_code: str, extract_date: date, batch_id: str
) -> Path:
    return (
        landing_dir
        / f"hospital={hospital_code}"
        / f"extract_date={extract_date.isoformat()}"
        / f"batch={batch_id}"
    )


def land(
    landing_dir: Path,
    hospital_code: str,
    extract_date: date,
    batch_id: str,
    tables: dict[str, pa.Table],
) -> LandedBatch:
    directory = batch_directory(landing_dir, hospital_code, extract_date, batch_id)
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    written = 0
    for entity, table in tables.items():
        content = parquet_bytes(table)
        path = content_path(directory, entity, content)
        if not path.exists():
            write_whole(path, content)
            written += 1
        for stale in directory.glob(f"{entity}-*.parquet"):
            if stale != path:
                stale.unlink()
        files[entity] = path
    # Other batches of the same hospital and day were superseded by this one.
    for sibling in directory.parent.iterdir():
        if sibling != directory and sibling.is_dir():
            for leftover in sibling.iterdir():
                leftover.unlink()
            sibling.rmdir()
    return LandedBatch(directory=directory, files=files, written=written)
