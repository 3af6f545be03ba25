"""Realistic bad rows, injected on purpose so that validation has something to catch."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic import fmt
from synthetic.rows import FileRows
from synthetic.visits import folder_end

ERROR_KINDS = ("invalid_cid", "future_date", "implausible_vital", "malformed_code",
               "missing_field")
GroupCounts = dict[tuple[int, int], Counter]


def _kinds(rows: FileRows) -> list[str]:
    missing = {"implausible_vital": rows.vital is None, "malformed_code": rows.bad_code is None}
    return [k for k in ERROR_KINDS if not missing.get(k, False)]


def _replace(column: pa.Array, rows: np.ndarray, n: int, values: pa.Array) -> pa.Array:
    mask = np.zeros(n, bool)
    mask[rows] = True
    return pc.replace_with_mask(column, pa.array(mask), values.cast(column.type))


def inject_errors(rows: FileRows, rng: np.random.Generator, error_rate: float, days: int,
                  start: date, buddhist: np.ndarray) -> GroupCounts:
    """Spoil about error_rate of the rows of every hospital/day file, one kind per bad row."""
    n = len(rows)
    if error_rate <= 0 or n == 0:
        return {}
    kinds = _kinds(rows)
    group = rows.hosp * days + rows.day
    order = np.argsort(group, kind="stable")
    keys, starts, sizes = np.unique(group[order], return_index=True, return_counts=True)
    chosen_rows, chosen_kinds, counts = [], [], {}
    for key, first, size in zip(keys, starts, sizes, strict=True):
        # Stochastic rounding: error_rate of the rows on average, even in tiny daily files.
        n_bad = min(int(size), int(np.floor(size * error_rate + rng.random())))
        if n_bad == 0:
            continue
        picked = order[first + rng.choice(int(size), n_bad, replace=False)]
        kind = rng.integers(0, len(kinds), n_bad)
        chosen_rows.append(picked)
        chosen_kinds.append(kind)
        counts[(int(key) // days, int(key) % days)] = Counter(kinds[k] for k in kind)
    if not chosen_rows:
        return {}
    picked, kind = np.concatenate(chosen_rows), np.concatenate(chosen_kinds)
    by_kind = {k: np.sort(picked[kind == i]) for i, k in enumerate(kinds)}

    rows.invalid_cid = by_kind["invalid_cid"]
    rows.short_rows = by_kind["missing_field"]
    late = by_kind["future_date"]
    if len(late):
        moment = folder_end(start, rows.day[late]) + rng.integers(
            1, 31, len(late)).astype("timedelta64[D]") - np.timedelta64(3 * 3600, "s")
        render = fmt.datetimes if rows.date_is_datetime else fmt.dates
        rows.columns[rows.date_field] = _replace(
            rows.columns[rows.date_field], late, n, render(moment, buddhist[rows.hosp[late]]))
    for kind_name, spec in (("implausible_vital", rows.vital), ("malformed_code", rows.bad_code)):
        bad = by_kind.get(kind_name, np.empty(0, np.int64))
        if spec is not None and len(bad):
            field, value = spec
            rows.columns[field] = _replace(rows.columns[field], bad, n, fmt.const(value, len(bad)))
    return counts


def spoil_check_digit(cid: np.ndarray) -> np.ndarray:
    """The same national IDs with a wrong check digit."""
    check = cid % 10
    return cid - check + (check + 1 + cid // 10 % 9) % 10
