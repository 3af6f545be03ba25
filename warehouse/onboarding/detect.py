"""How a 43-file is written, read from its bytes: encoding, delimiter, header, date era.

A file is streamed in pieces that end at a line break (a break never splits a UTF-8 or
TIS-620 character), so memory stays one piece whatever the file's size. Each piece is
checked with the connector's own encoding rule (`to_utf8`); delimiter, header and era come
from the first lines, working on bytes (delimiters and date digits are ASCII), so nothing
is decoded and no value is ever kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from connectors.base import ExtractError
from connectors.file43.layout import FileLayout
from connectors.file43.reader import to_utf8
from connectors.file43.transform import YEAR_BOUNDS

ENCODINGS: Final = ("utf-8", "tis-620")
DELIMITERS: Final = ("|", ",", "\t", ";")
_PIECE = 8 << 20
_SAMPLE_LINES = 2000
_UTF8_BOM = b"\xef\xbb\xbf"
# Read kinds whose source fields hold YYYYMMDD[HHMMSS] (connectors/file43/layout.py).
_DATE_KINDS = frozenset({"date", "datetime", "date_of", "date_time", "date_or_date_of"})


@dataclass
class FileFormat:
    """What the bytes of one file say about how it is written (None: no evidence)."""

    name: str
    size_bytes: int = 0
    lines: int = 0  # non-blank physical lines, a header included
    # 'utf-8' or 'tis-620'; 'ascii' when no byte tells them apart; None when neither reads it.
    encoding: str | None = "ascii"
    first_invalid_line: dict[str, int] = field(default_factory=dict)  # encoding -> line
    delimiter: str | None = None
    header: bool | None = None
    era: str | None = None
    years_by_era: dict[str, int] = field(default_factory=dict)  # date values seen per era

    @property
    def data_lines(self) -> int:
        return self.lines - (1 if self.header else 0)


def detect_file(path: Path, layout: FileLayout) -> FileFormat:
    found = FileFormat(path.name, size_bytes=path.stat().st_size)
    possible = set(ENCODINGS)
    ascii_only = True
    lines_before = 0
    for piece in _pieces(path):
        if lines_before == 0:
            _read_first_lines(found, piece, layout)
        if not piece.isascii():
            ascii_only = False
            for encoding in sorted(possible):
                try:
                    to_utf8(piece, encoding, path.name)
                except ExtractError as error:
                    possible.discard(encoding)
                    found.first_invalid_line[encoding] = lines_before + (error.source_line or 1)
        breaks, blank = _line_breaks(piece)
        found.lines += breaks - blank
        lines_before += breaks
    found.encoding = _encoding(possible, ascii_only)
    return found


def _encoding(possible: set[str], ascii_only: bool) -> str | None:
    if ascii_only:
        return "ascii"
    # Thai in UTF-8 always has bytes TIS-620 lacks (0x80-0x9F), so a file valid in both
    # holds only other scripts: UTF-8 is the reading that makes sense of it.
    for encoding in ENCODINGS:
        if encoding in possible:
            return encoding
    return None


def _pieces(path: Path) -> Iterator[bytes]:
    """The file in pieces of about _PIECE bytes, each ending with a line break (the last
    one may not); the pieces join back into the file byte for byte."""
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_PIECE):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield data[:cut]
    if carry:
        yield carry + b"\n"  # a last line without its break counts as a line


def _line_breaks(piece: bytes) -> tuple[int, int]:
    """(line breaks, blank lines) of a piece ending with a break; '\\r\\n' lines count once."""
    ends = np.flatnonzero(np.frombuffer(piece, dtype=np.uint8) == 0x0A)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    carriage = np.frombuffer(piece, dtype=np.uint8)[np.maximum(ends - 1, 0)] == 0x0D
    blank = (lengths == 0) | ((lengths == 1) & carriage)
    return len(ends), int(np.count_nonzero(blank))


def _read_first_lines(found: FileFormat, piece: bytes, layout: FileLayout) -> None:
    head = piece.removeprefix(_UTF8_BOM)
    sample = [line.rstrip(b"\r") for line in head.split(b"\n", _SAMPLE_LINES)[:_SAMPLE_LINES]]
    sample = [line for line in sample if line.strip()]
    if not sample:
        return
    found.delimiter, field_count = _delimiter(sample, layout)
    if found.delimiter is None:
        return
    separator = found.delimiter.encode()
    first = sample[0].split(separator)
    found.header = first[0].strip().upper() == layout.fields[0].encode()
    if found.header:
        names = [name.strip().upper().decode("ascii", "replace") for name in first]
        rows = sample[1:]
    else:
        names = list(next((s for s in layout.specs if len(s) == field_count), layout.fields))
        rows = sample
    found.years_by_era = _years_by_era(rows, separator, names, layout)
    if found.years_by_era:
        found.era = max(found.years_by_era, key=lambda era: found.years_by_era[era])


def _delimiter(sample: list[bytes], layout: FileLayout) -> tuple[str | None, int]:
    """The candidate that splits the most lines into one plausible field count."""
    fewest = len(min(layout.specs, key=len))
    best: tuple[float, str | None, int] = (0.0, None, 0)
    for delimiter in DELIMITERS:
        counts = Counter(line.count(delimiter.encode()) + 1 for line in sample)
        field_count, lines = counts.most_common(1)[0]
        share = lines / len(sample)
        if field_count * 2 >= fewest and share > best[0]:
            best = (share, delimiter, field_count)
    return best[1], best[2]


def _date_fields(layout: FileLayout) -> set[str]:
    return {
        name
        for mapping in layout.mappings
        for source in mapping.columns.values()
        if source.kind in _DATE_KINDS
        for name in source.fields
        if source.kind != "date_time" or name == source.fields[0]  # its second is a time
    }


def _years_by_era(
    rows: list[bytes], separator: bytes, names: list[str], layout: FileLayout
) -> dict[str, int]:
    """How many date values of the sample have a year inside each era's bounds."""
    positions = [i for i, name in enumerate(names) if name in _date_fields(layout)]
    seen: Counter[str] = Counter()
    for row in rows:
        values = row.split(separator)
        for i in positions:
            value = values[i].strip() if i < len(values) else b""
            if len(value) < 8 or not value[:8].isdigit():
                continue
            year = int(value[:4])
            for era, (low, high) in YEAR_BOUNDS.items():
                if low <= year < high:
                    seen[era] += 1
    return dict(seen)
