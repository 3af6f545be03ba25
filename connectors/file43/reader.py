"""Read one 43-file into string columns with exact source line numbers.

Steps: check the bytes strictly against the declared encoding (and transcode TIS-620 to
UTF-8), index the lines with numpy (so every row keeps its physical line number and lines
with the wrong field count become Rejects), then let pyarrow.csv parse the good
lines in parallel. Quoting is off: 43-files do not quote, and a stray quote in free text
must not swallow the next lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors.base import ExtractError, Location, Reject, SourceFile, reject_hash
from connectors.file43.layout import FileLayout

_ASCII_WHITESPACE = " \t\n\v\f\r"  # what the contract trims (pyarrow's ascii_trim_whitespace)

_TIS620_CHUNK = 8 << 20
_UTF8_BOM = b"\xef\xbb\xbf"
# TIS 620-2533 defines 0xA1-0xFB except 0xDB-0xDE; Python's codec also maps 0x80-0x9F to C1
# controls, which never occur in real text but do occur when UTF-8 Thai is misdeclared.
_TIS620_C1 = bytes(range(0x80, 0xA0))
_OTHER_DELIMITERS = (",", "\t", ";")


@dataclass
class ParsedFile:
    layout: FileLayout
    source: SourceFile
    table: pa.Table  # one string column per needed source field
    source_lines: pa.Array  # int64, physical line number of each row (1-based)
    rejected: list[Reject]
    columns: tuple[str, ...] = ()  # the file's columns, as schema_of names them


def schema_of(names: list[str], layout: FileLayout) -> tuple[str, ...]:
    """A file's columns for schema-drift checks: the layout's names in file order, and any
    other column only counted (`+N other`), since a "header" may really be a data line."""
    known = set(layout.fields)
    listed = tuple(name for name in names if name in known)
    others = len(names) - len(listed)
    return (*listed, f"+{others} other") if others else listed


@dataclass
class _Lines:
    """Byte spans of every physical line (terminators excluded) and their field counts."""

    starts: np.ndarray
    ends: np.ndarray
    field_counts: np.ndarray

    @property
    def empty(self) -> np.ndarray:
        return self.ends == self.starts


def read_source_file(
    path: Path,
    layout: FileLayout,
    *,
    encoding: str,
    header: bool,
    delimiter: str = "|",
    hashed: list[SourceFile] | None = None,
) -> ParsedFile:
    """Hash and parse one file; its SourceFile goes into `hashed` before anything can fail."""
    raw = path.read_bytes()
    source = SourceFile.of(path.name, raw)
    if hashed is not None:
        hashed.append(source)
    data = to_utf8(raw, encoding, path.name)
    if data.startswith(_UTF8_BOM):
        # Blank out the BOM rather than slicing so byte offsets stay those of the file.
        data = b"   " + data[3:]
    lines = _index_lines(data, delimiter)
    names, first_data_line = _column_names(data, lines, layout, path.name, header, delimiter)

    data_slice = slice(first_data_line, None)
    counts = lines.field_counts[data_slice]
    nonempty = ~lines.empty[data_slice]
    good = nonempty & (counts == len(names))
    bad_idx = np.flatnonzero(nonempty & ~good) + first_data_line
    good_idx = np.flatnonzero(good) + first_data_line

    rejected = [
        _reject(data, lines, int(i), layout, names, source.name, delimiter) for i in bad_idx
    ]
    needed = [f for f in layout.fields if f in set(layout.required_fields()) and f in names]
    if len(good_idx) == 0:
        table = pa.table({name: pa.array([], pa.string()) for name in needed})
    else:
        start = int(lines.starts[good_idx[0]])
        table = _parse(data, start, names, needed, delimiter)
        if table.num_rows != len(good_idx):
            raise ExtractError(
                "unreadable",
                f"parser found {table.num_rows} rows where {len(good_idx)} lines were expected",
                source_file=source.name,
            )
    source_lines = pa.array(good_idx + 1, pa.int64())
    return ParsedFile(layout, source, table, source_lines, rejected, schema_of(names, layout))


def to_utf8(raw: bytes, encoding: str, file_name: str) -> bytes:
    """The file as UTF-8 bytes; bytes invalid in `encoding` raise ExtractError naming the line."""
    if encoding == "utf-8":
        offset = _utf8_error_offset(raw)
        if offset is not None:
            raise _encoding_error(raw, offset, encoding, file_name)
        return raw
    if encoding == "tis-620":
        if raw.translate(None, _TIS620_C1) != raw:
            offset = min(i for i in (raw.find(bytes([b])) for b in _TIS620_C1) if i >= 0)
            raise _encoding_error(raw, offset, encoding, file_name)
        parts = []
        for start in range(0, len(raw), _TIS620_CHUNK):
            chunk = raw[start : start + _TIS620_CHUNK]
            try:
                parts.append(chunk.decode("tis_620").encode("utf-8"))
            except UnicodeDecodeError as err:
                raise _encoding_error(raw, start + err.start, encoding, file_name) from None
        return b"".join(parts)
    raise ValueError(f"unsupported encoding {encoding!r}")


def _utf8_error_offset(raw: bytes) -> int | None:
    # Arrow validates UTF-8 without copying; Python only runs to locate a known error.
    offsets = pa.array([0, len(raw)], pa.int64()).buffers()[1]
    array = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(raw)])
    try:
        array.validate(full=True)
        return None
    except pa.ArrowInvalid:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return err.start
        return 0


def _encoding_error(raw: bytes, offset: int, encoding: str, file_name: str) -> ExtractError:
    line = raw.count(b"\n", 0, offset) + 1
    return ExtractError(
        "invalid_encoding",
        f"byte {offset} is not valid {encoding} (declared encoding of this hospital)",
        source_file=file_name,
        source_line=line,
    )


def _index_lines(data: bytes, delimiter: str) -> _Lines:
    """Line spans as pyarrow splits them: on \\n, \\r\\n and a lone \\r."""
    arr = np.frombuffer(data, dtype=np.uint8)
    n = len(arr)
    breaks = np.flatnonzero(arr == 0x0A)
    crs = np.flatnonzero(arr == 0x0D)
    if len(crs):
        followed_by_lf = np.zeros(len(crs), dtype=bool)
        inside = crs + 1 < n
        followed_by_lf[inside] = arr[crs[inside] + 1] == 0x0A
        lone = crs[~followed_by_lf]
        if len(lone):
            breaks = np.union1d(breaks, lone)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [n]))
    if starts[-1] >= n:  # file ends with a terminator: no line after it
        starts, ends = starts[:-1], ends[:-1]
    if len(crs):
        # a \r\n terminator: the \r is not content
        has_cr = np.zeros(len(ends), dtype=bool)
        positive = ends > starts
        has_cr[positive] = arr[ends[positive] - 1] == 0x0D
        ends = ends - has_cr
    delims = np.flatnonzero(arr == ord(delimiter))
    # No delimiter lies between one line's end and the next line's start, so one
    # searchsorted over the ends gives every line's delimiter count by differencing.
    counts = np.diff(np.searchsorted(delims, ends), prepend=0) + 1
    return _Lines(starts, ends, counts)


def _line_text(data: bytes, lines: _Lines, index: int) -> str:
    return data[int(lines.starts[index]) : int(lines.ends[index])].decode("utf-8")


def _column_names(
    data: bytes, lines: _Lines, layout: FileLayout, file_name: str, header: bool, delimiter: str
) -> tuple[list[str], int]:
    """Column names of the data lines and the index of the first data line."""
    nonempty = np.flatnonzero(~lines.empty)
    if len(nonempty) == 0:
        return list(layout.fields), len(lines.starts)
    first = int(nonempty[0])
    first_text = _line_text(data, lines, first)
    if header:
        names = [name.strip().upper() for name in first_text.split(delimiter)]
        _check_delimiter(len(names), first_text, layout, file_name, first + 1, delimiter)
        # Only layout names ever go into a message: a "header" may really be a data line.
        for required in layout.required_fields():
            if required not in names:
                raise ExtractError(
                    "missing_column",
                    "header lacks a required column",
                    source_file=file_name,
                    source_line=first + 1,
                    field=required,
                )
        for known in layout.fields:
            if names.count(known) > 1:
                raise ExtractError(
                    "unreadable",
                    "header names a column twice",
                    source_file=file_name,
                    source_line=first + 1,
                    field=known,
                )
        return names, first + 1

    counts = lines.field_counts[nonempty]
    matches = [(int(np.count_nonzero(counts == len(spec))), spec) for spec in layout.specs]
    best_count, best_spec = max(matches, key=lambda m: m[0])
    if best_count == 0:
        count = int(counts[0])
        _check_delimiter(count, first_text, layout, file_name, first + 1, delimiter)
        shortest = min(layout.specs, key=len)
        if count < len(shortest):
            raise ExtractError(
                "missing_column",
                f"{count} fields per line, expected {len(layout.fields)}",
                source_file=file_name,
                source_line=first + 1,
                field=layout.fields[count],
            )
        raise ExtractError(
            "unreadable",
            f"{count} fields per line, expected {len(layout.fields)}",
            source_file=file_name,
            source_line=first + 1,
        )
    if first_text.split(delimiter)[0].strip().upper() == layout.fields[0]:
        raise ExtractError(
            "unreadable",
            "first line is a header row but the hospital declares header: false",
            source_file=file_name,
            source_line=first + 1,
        )
    return list(best_spec), 0


def _check_delimiter(
    count: int, text: str, layout: FileLayout, file_name: str, line: int, delimiter: str
) -> None:
    expected = len(min(layout.specs, key=len))
    looks_other = any(text.count(d) + 1 >= expected // 2 for d in _OTHER_DELIMITERS)
    if count == 1 or (count * 2 < expected and looks_other):
        raise ExtractError(
            "wrong_delimiter",
            f"line has {count} field(s) when split on {delimiter!r}, expected {expected}",
            source_file=file_name,
            source_line=line,
        )


def _reject(
    data: bytes,
    lines: _Lines,
    index: int,
    layout: FileLayout,
    names: list[str],
    file_name: str,
    delimiter: str,
) -> Reject:
    count = int(lines.field_counts[index])
    raw_line = data[int(lines.starts[index]) : int(lines.ends[index])]
    return Reject(
        entity=layout.primary_entity,
        location=Location.in_file(file_name, index + 1),
        field=names[count] if count < len(names) else None,
        reason=f"wrong_field_count: {count} fields, expected {len(names)}",
        rule="line_readable",
        row_hash=reject_hash(
            field.strip(_ASCII_WHITESPACE) or None
            for field in raw_line.decode("utf-8").split(delimiter)
        ),
    )


def _parse(
    data: bytes, start: int, names: list[str], needed: list[str], delimiter: str
) -> pa.Table:
    def skip_invalid(_row: object) -> str:
        # Already recorded as a Reject (with its line number) from the line index.
        return "skip"

    buffer = pa.py_buffer(data)
    return pacsv.read_csv(
        pa.BufferReader(buffer.slice(start)),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=True, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=True,
            invalid_row_handler=skip_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in needed},
            include_columns=needed,
            strings_can_be_null=True,  # empty field -> null, saving a pass per column
            null_values=[""],
            check_utf8=False,  # validated above
        ),
    )
