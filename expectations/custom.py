"""Expectations of our own: the Thai national ID check digit.

GE registers metric providers and expectations when their classes are defined, so importing
this module is what makes `expect_column_values_to_be_valid_thai_national_id` available.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from expectations.national_id import valid_national_id_mask


class ColumnValuesValidThaiNationalId(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_thai_national_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs) -> pd.Series:
        # GE has already dropped nulls; checking distinct values keeps this fast on millions.
        values = pa.array(column.astype("str"), from_pandas=True)
        mask = valid_national_id_mask(values).to_numpy(zero_copy_only=False)
        return pd.Series(np.asarray(mask, dtype=bool), index=column.index)


class ExpectColumnValuesToBeValidThaiNationalId(ColumnMapExpectation):
    """Expect each value to be a 13-digit Thai national ID with a correct check digit."""

    map_metric = "column_values.valid_thai_national_id"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict] = {"tags": ["healthlink", "thailand"], "contributors": []}
