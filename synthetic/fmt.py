"""Vectorised text formatting of generated columns (numpy in, Arrow strings out).

Every generated value becomes text once, column at a time; no Python loop per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BUDDHIST_YEARS = 543


def ints(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(ints(values), width=width, padding="0")


def fixed(values: np.ndarray, decimals: int) -> pa.Array:
    """Non-negative numbers with exactly `decimals` decimals ("36.5", "120.00")."""
    scale = 10**decimals
    scaled = np.round(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)
    if decimals == 0:
        return ints(scaled)
    whole = ints(scaled // scale)
    return pc.binary_join_element_wise(whole, padded(scaled % scale, decimals), ".")


def pick(choices: Sequence[str], index: np.ndarray) -> pa.Array:
    """choices[index] for every row."""
    return pa.array(list(choices), pa.string()).take(pa.array(np.asarray(index, np.int64)))


def const(value: str, n: int) -> pa.Array:
    return pick([value], np.zeros(n, dtype=np.int64))


def blank_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, bool)), "", values)


def _ymd(days: np.ndarray, buddhist: np.ndarray) -> np.ndarray:
    days = days.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    year = year + BUDDHIST_YEARS * np.asarray(buddhist, dtype=np.int64)
    return year * 10_000 + month * 100 + day


def dates(days: np.ndarray, buddhist: np.ndarray) -> pa.Array:
    """YYYYMMDD; Buddhist-era rows get year + 543."""
    return ints(_ymd(days, buddhist))


def datetimes(moments: np.ndarray, buddhist: np.ndarray) -> pa.Array:
    """YYYYMMDDHHMMSS; Buddhist-era rows get year + 543."""
    moments = moments.astype("datetime64[s]")
    days = moments.astype("datetime64[D]")
    secs = (moments - days).astype(np.int64)
    hms = (secs // 3600) * 10_000 + (secs // 60 % 60) * 100 + secs % 60
    return ints(_ymd(days, buddhist) * 1_000_000 + hms)


def hhmmss(seconds_of_day: np.ndarray) -> pa.Array:
    s = np.asarray(seconds_of_day, dtype=np.int64)
    return padded((s // 3600) * 10_000 + (s // 60 % 60) * 100 + s % 60, 6)
