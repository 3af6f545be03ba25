"""Split a generated file by hospital and day, render it as pipe-delimited text, write it."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import fmt
from synthetic.errors import spoil_check_digit
from synthetic.hospitals import Hospitals
from synthetic.layout import FILE_FIELDS
from synthetic.rows import FileRows

PIPE = pa.scalar("|", pa.large_string())
NEWLINE = pa.scalar("\n", pa.large_string())


def _columns(rows: FileRows, hospitals: Hospitals, cid: np.ndarray) -> list[pa.Array]:
    cid = cid[rows.patient]  # a copy: spoiling it leaves the patients' IDs intact
    cid[rows.invalid_cid] = spoil_check_digit(cid[rows.invalid_cid])
    given = {"HOSPCODE": fmt.pick(hospitals.codes, rows.hosp), "CID": fmt.ints(cid)}
    columns = [given[f] if f in given else rows.columns[f] for f in FILE_FIELDS[rows.name]]
    # 64-bit offsets: one file type of a national-scale day can exceed 2 GB of text.
    return [c.cast(pa.large_string()) for c in columns]


def render_lines(rows: FileRows, hospitals: Hospitals, cid: np.ndarray) -> pa.Array:
    """One text line per row, newline included."""
    columns = _columns(rows, hospitals, cid)
    lines = pc.binary_join_element_wise(*columns, PIPE)
    if len(rows.short_rows):
        # A line with a missing field: the last field and its delimiter are gone.
        take = pa.array(rows.short_rows)
        short = pc.binary_join_element_wise(*(c.take(take) for c in columns[:-1]), PIPE)
        mask = np.zeros(len(rows), bool)
        mask[rows.short_rows] = True
        lines = pc.replace_with_mask(lines, pa.array(mask), short)
    empty = fmt.const("", len(rows)).cast(pa.large_string())
    return pc.binary_join_element_wise(lines, empty, NEWLINE)


def _text(lines: pa.Array, first: int, last: int) -> bytes | pa.Buffer:
    if first == last:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:]
    begin, end = int(offsets[first]), int(offsets[last])
    return lines.buffers()[2].slice(begin, end - begin)


def write_file(out_dir: Path, rows: FileRows, hospitals: Hospitals, cid: np.ndarray,
               start: date, days: int) -> dict[tuple[int, int], int]:
    """Write <out>/extracts/<HCODE>/<date>/<FILE>.txt for every hospital and day."""
    lines = render_lines(rows, hospitals, cid)
    order = np.lexsort((rows.day, rows.hosp))
    lines = lines.take(pa.array(order))
    group = (rows.hosp * days + rows.day)[order]
    bounds = np.searchsorted(group, np.arange(len(hospitals) * days + 1), side="left")
    header = ("|".join(FILE_FIELDS[rows.name]) + "\n").encode("ascii")
    counts = {}
    for h, code in enumerate(hospitals.codes):
        for d in range(days):
            g = h * days + d
            folder = out_dir / "extracts" / code / (start + timedelta(days=d)).isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            text = _text(lines, int(bounds[g]), int(bounds[g + 1]))
            if hospitals.encoding[h] == "tis-620":
                text = bytes(text).decode("utf-8").encode("tis_620")
            with (folder / f"{rows.name}.txt").open("wb") as handle:
                if hospitals.header[h]:
                    handle.write(header)
                handle.write(text)
            counts[(h, d)] = int(bounds[g + 1] - bounds[g])
    return counts
