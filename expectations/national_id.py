"""Thai national ID (13-digit PIN) check, one value at a time and vectorised.

The sync step uses `valid_national_id_mask` to reject rows whose national ID cannot be read
before anything is pseudonymised; the GE suite for `patient` uses it for the `cid` column.
An ID is valid when it is written exactly as 13 digits (no separators: the pseudonym is an
HMAC of the text, so '1-2345-...' and '12345...' must not become two patients), does not start
with 0 or 9, and carries the right check digit (python-stdnum's rules).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.th import pin

_ID_LENGTH = 13
# Same shape rule as stdnum.th.pin: 13 digits, first digit not 0 or 9.
_ID_PATTERN = r"^[1-8][0-9]{12}$"
# Check-digit weights 13..2 for the first 12 digits (equivalent to stdnum's (2 - i) mod 11).
_WEIGHTS = np.arange(13, 1, -1, dtype=np.int64)


def is_valid_thai_national_id(value: str | None) -> bool:
    """True when `value` is a 13-digit Thai national ID with a correct check digit."""
    if value is None or len(value) != _ID_LENGTH or not value.isascii() or not value.isdigit():
        return False
    return pin.is_valid(value)


def _check_digits_ok(ids: pa.StringArray) -> np.ndarray:
    """Check digits of strings already known to be exactly 13 ASCII digits (no nulls)."""
    if len(ids) == 0:
        return np.zeros(0, dtype=bool)
    ids = pc.cast(ids, pa.large_string()) if ids.type == pa.string() else ids
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    digits = data[offsets[0] : offsets[-1]].reshape(len(ids), _ID_LENGTH).astype(np.int64) - 48
    remainder = (digits[:, :12] @ _WEIGHTS) % 11
    return np.mod(11 - remainder, 10) == digits[:, 12]


def valid_national_id_mask(array: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """Per-row validity of national IDs; null and malformed values are False (never null).

    Only the distinct values are checked (a clinical table repeats each patient's ID many
    times), then the verdicts are mapped back to the rows through the dictionary indices.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], pa.string())
    if pa.types.is_dictionary(array.type):
        encoded = array
    else:
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            array = pc.cast(array, pa.string())
        encoded = array.dictionary_encode()
    distinct = encoded.dictionary
    if not (pa.types.is_string(distinct.type) or pa.types.is_large_string(distinct.type)):
        distinct = pc.cast(distinct, pa.string())

    well_formed = pc.fill_null(pc.match_substring_regex(distinct, _ID_PATTERN), False)
    verdict = np.zeros(len(distinct), dtype=bool)
    positions = np.flatnonzero(well_formed.to_numpy(zero_copy_only=False))
    if len(positions):
        candidates = pc.take(distinct, pa.array(positions))
        verdict[positions] = _check_digits_ok(candidates)
    per_row = pc.take(pa.array(verdict), encoded.indices)
    return pc.fill_null(per_row, False)
