"""Pseudonymous patient keys: a keyed HMAC of the national ID.

The warehouse joins on this key; the national ID itself is kept only in the patient
entity, where search needs it.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

KEY_LENGTH = 32  # hex characters (128 bits)


def patient_key(national_id: str, key: bytes) -> str:
    return hmac.new(key, national_id.encode("ascii"), hashlib.sha256).hexdigest()[:KEY_LENGTH]


def patient_keys(national_ids: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """Vectorised over distinct IDs: a batch repeats each patient's ID on many rows."""
    encoded = pc.dictionary_encode(national_ids)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    keys = pa.array(
        [patient_key(value, key) for value in encoded.dictionary.to_pylist()], pa.string()
    )
    return pc.take(keys, encoded.indices)
