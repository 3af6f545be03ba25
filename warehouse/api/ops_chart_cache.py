"""The operations page's charts, drawn once per (filter, window, ledger version).

Drawing the heatmap and the reject-rate trend for 1,100 hospitals x 30 days is most of a page
load (matplotlib, about half a second, BENCHMARKS.md), yet the ledger changes a few times a
day: at each batch recorded and at the day's close. So the drawn charts are kept per API
process, keyed by the hospitals the filters select, the window and the ledger's version
(warehouse.pipeline.ops.ledger_version: any batch or ledger row written changes it), and a
page load with the same key only reads the version and the page's tables. A bounded LRU:
the newest MAX_ENTRIES keys (an entry is a few hundred kB of SVG at 1,100 hospitals).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from typing import Any

from warehouse.api import ops_charts

MAX_ENTRIES = 32


@dataclass(frozen=True)
class Charts:
    heatmap: str  # data: URLs of the SVGs
    trend: str
    hospitals: int  # how many hospitals the heatmap shows


def draw(
    grid: list[dict[str, Any]], trend: list[dict[str, Any]], first: date, last: date
) -> Charts:
    return Charts(
        heatmap=ops_charts.data_url(ops_charts.heatmap(grid, first, last)),
        trend=ops_charts.data_url(ops_charts.reject_trend(trend, first, last)),
        hospitals=len({row["hospital_code"] for row in grid}),
    )


class ChartCache:
    """Thread-safe (the API's sync routes run in a thread pool). Two requests that miss the
    same key at once both draw; the result is the same."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Charts] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Charts | None:
        with self._lock:
            charts = self._entries.get(key)
            if charts is not None:
                self._entries.move_to_end(key)
            return charts

    def put(self, key: Hashable, charts: Charts) -> None:
        with self._lock:
            self._entries[key] = charts
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
