"""The landing zone's files: Parquet named by its content's hash, written whole, and
rewritten without some rows.

The layout is `<landing>/hospital=<code>/extract_date=<YYYY-MM-DD>/batch=<id>/
<entity>-<sha256 of the content, 16 hex>.parquet`; warehouse.pipeline.landing lands batches
in it. The files live here, below the pipeline and the consent purge, because both rewrite
landed files: the purge without the patients consent no longer allows, the load without the
records a source deleted (warehouse.pipeline.deletions).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def content_path(directory: Path, entity: str, content: bytes) -> Path:
    """Where an entity's file with this content goes: the same content, the same name."""
    return directory / f"{entity}-{hashlib.sha256(content).hexdigest()[:16]}.parquet"


def write_whole(path: Path, content: bytes) -> None:
    """Write then rename, so a crash never leaves a half file under a final name."""
    partial = path.with_suffix(".partial")
    partial.write_bytes(content)
    partial.replace(path)


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
    column is read until a file has rows to drop. The new file is named by its content like
    every landed file: a crash leaves the old file or the new one."""
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
        content = parquet_bytes(pq.read_table(path).filter(pc.invert(mask)))
        target = content_path(path.parent, entity, content)
        write_whole(target, content)
        if target != path:
            path.unlink()
        rewritten += 1
    return rewritten
