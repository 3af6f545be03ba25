"""Throughput of validate_entity on synthetic rows (not a test; run by hand).

.venv/bin/python -m bench.validation [rows] [--profile]

Not one of `make bench`'s figures: a profiling aid for the validation step.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time

from expectations.validate import validate_entity
from tests.support.entity_tables import EXTRACT_DATE, synthetic_table


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1_000_000
    validate_entity("lab_result", synthetic_table("lab_result", 1000), EXTRACT_DATE)  # warm-up
    for entity in ("lab_result", "vital_sign"):
        table = synthetic_table(entity, rows)
        profiler = cProfile.Profile() if "--profile" in sys.argv else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        result = validate_entity(entity, table, EXTRACT_DATE)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        print(
            f"{entity}: {rows} rows in {elapsed:.2f}s = {rows / elapsed:,.0f} rows/s "
            f"(rejected {result.rejected_row_count}, critical {result.critical_failures})"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
