"""The one Great Expectations context of this process, and the way batches reach it.

Analytics are switched off by the package's __init__ before great_expectations is imported;
the ephemeral context (nothing written to disk) is made once per process and reused, and so
are the data source, asset and batch definition every validation goes through. `BUILT` counts
what was constructed (contexts, batch definitions, suites): a long-lived worker builds each once,
however many batches it validates (tests/expectations/test_built_once.py).
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import cache
from typing import TYPE_CHECKING

import great_expectations as gx
import great_expectations.execution_engine.pandas_execution_engine as _pandas_engine
from great_expectations.data_context.types.base import ProgressBarsConfig

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.datasource.fluent.interfaces import Batch

# GE fingerprints every in-memory DataFrame under 1 GB by hashing all of its values, only to
# label the batch (measured: 1.4 s of a 4.9 s validation of 1M rows). We never read that
# label, so the fingerprint is switched off for this process.
_pandas_engine.HASH_THRESHOLD = 0

_lock = threading.Lock()

# What this process has constructed, by kind: "context", "batch_definition", "suite" (once
# each), and "batch" (one per validation GE runs).
BUILT: Counter[str] = Counter()


def context() -> gx.data_context.AbstractDataContext:
    with _lock:
        return _context()


@cache
def _context() -> gx.data_context.AbstractDataContext:
    ctx = gx.get_context(mode="ephemeral")
    BUILT["context"] += 1
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


@cache
def _batch_definition() -> BatchDefinition:
    source = _context().data_sources.add_pandas("healthlink_validation")
    asset = source.add_dataframe_asset("canonical_entity")
    BUILT["batch_definition"] += 1
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def warm() -> None:
    """Build the context, data source and batch definition now (a worker does it before it
    forks its task processes: warehouse/pipeline/worker_preload.py)."""
    with _lock:
        _batch_definition()


def add_suite(suite: ExpectationSuite) -> ExpectationSuite:
    """Register a suite with the context (GE validates only suites that belong to one)."""
    with _lock:
        BUILT["suite"] += 1
        return _context().suites.add(suite)


def batch_for(frame: pd.DataFrame) -> Batch:
    """A GE batch over `frame` (the context's registries are shared, so creation is locked)."""
    with _lock:
        BUILT["batch"] += 1
        return _batch_definition().get_batch(batch_parameters={"dataframe": frame})
