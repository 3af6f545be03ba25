"""The landing zone: immutable Parquet per hospital / extract date / batch.

Each entity file is named by the hash of its content, so landing the same content twice
writes nothing. A batch directory holds exactly the current files of that batch: when a
replay under a changed consent state lands different content, the superseded files are
removed, so a purged patient does not survive in the landing zone. `rewrite_without` removes
rows from the files already landed (a consent purge, a source's deletions).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


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


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


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
        content = _parquet_bytes(table)
        path = directory / f"{entity}-{hashlib.sha256(content).hexdigest()[:16]}.parquet"
        if not path.exists():
            # Write then rename, so a crash never leaves a half file under a final name.
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(path)
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


# Which rows of a landed entity file go, given the file's extract date, entity and values of
# one column: a boolean mask (null counts as keep), or None to leave the file as it is.
RowsToDrop = Callable[[date, str, pa.ChunkedArray], pa.Array | pa.ChunkedArray | None]


def rewrite_without(
    landing_dir: Path,
    hospital_code: str,
    column: str,
    dropped: RowsToDrop,
    *,
    through: date | None = None,
) -> int:
    """Rewrite the hospital's landing files (of extract dates up to `through`, when given)
    without the rows `dropped` marks by their `column`; returns the files rewritten. Only the
    column is read until a file has rows to drop. Same naming as `land`
    (entity-<content hash>.parquet), written then renamed: a crash leaves the old file or the
    new one."""
    rewritten = 0
    for path in sorted((landing_dir / f"hospital={hospital_code}").glob("**/*.parquet")):
        extract_date = date.fromisoformat(path.parent.parent.name.split("=", 1)[1])
        if (through is not None and extract_date > through) or column not in pq.read_schema(
            path
        ).names:
            continue
        entity = path.name.rsplit("-", 1)[0]
        values = pq.read_table(path, columns=[column]).column(column)
        mask = dropped(extract_date, entity, values)
        if mask is None:
            continue
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            continue
        content = _parquet_bytes(pq.read_table(path).filter(pc.invert(mask)))
        target = path.with_name(f"{entity}-{hashlib.sha256(content).hexdigest()[:16]}.parquet")
        partial = target.with_suffix(".partial")
        partial.write_bytes(content)
        partial.replace(target)
        if target != path:
            path.unlink()
        rewritten += 1
    return rewritten
