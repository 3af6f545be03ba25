"""The operations page's charts, drawn on the server by matplotlib's SVG backend.

No pyplot (its global state is not thread-safe): a Figure per chart, printed to SVG text.
The page shows each as an <img> of a data: URL, so the SVG's own styling never meets the
page's Content-Security-Policy (no inline style or script on the page itself), and the
browser runs nothing of it (an SVG image runs no script). Codes and counts only.
"""

from __future__ import annotations

import base64
import io
from datetime import date, timedelta
from typing import Any

from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

STATUSES = ("loaded", "quarantined", "failed", "missing")
STATUS_COLOURS = ("#2e7d32", "#f9a825", "#c62828", "#9e9e9e")
NO_ROW_COLOUR = "#ffffff"
MAX_TREND_LINES = 10


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day_ticks(axis: Any, days: list[date], *, x: bool) -> None:
    step = max(1, len(days) // 10)
    positions = list(range(0, len(days), step))
    labels = [days[i].strftime("%m-%d") for i in positions]
    if x:
        axis.set_xticks(positions, labels, rotation=90, fontsize=7)
    else:
        axis.set_yticks(positions, labels, fontsize=7)


def heatmap(grid: list[dict[str, Any]], first: date, last: date) -> str:
    """Two panels, hospitals down and days across: the day's status, and the lag in days."""
    days = _days(first, last)
    codes = sorted({row["hospital_code"] for row in grid})
    column = {day: i for i, day in enumerate(days)}
    line = {code: i for i, code in enumerate(codes)}
    status = [[0.0] * len(days) for _ in codes]  # 0: no ledger row
    lag: list[list[float]] = [[float("nan")] * len(days) for _ in codes]
    for row in grid:
        i, j = line[row["hospital_code"]], column.get(row["extract_date"])
        if j is None:
            continue
        kind = row["status"]
        status[i][j] = float(STATUSES.index(kind) + 1) if kind in STATUSES else 0.0
        if row["lag_days"] is not None:
            lag[i][j] = float(row["lag_days"])
    height = min(40.0, 1.6 + 0.16 * max(len(codes), 1))
    figure = Figure(figsize=(11, height))
    status_axis, lag_axis = figure.subplots(1, 2, sharey=True)
    colours = ListedColormap([NO_ROW_COLOUR, *STATUS_COLOURS])
    status_axis.imshow(
        status or [[0.0] * len(days)],
        aspect="auto",
        interpolation="nearest",
        cmap=colours,
        norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5, 3.5, 4.5], colours.N),
    )
    status_axis.set_title("Status per day", fontsize=9)
    shown = lag_axis.imshow(
        lag or [[float("nan")] * len(days)],
        aspect="auto",
        interpolation="nearest",
        cmap="magma_r",
        vmin=0,
    )
    lag_axis.set_title("Lag (days behind)", fontsize=9)
    figure.colorbar(shown, ax=lag_axis, fraction=0.04, pad=0.02)
    for axis in (status_axis, lag_axis):
        _day_ticks(axis, days, x=True)
    if len(codes) <= 80:
        status_axis.set_yticks(range(len(codes)), codes, fontsize=6)
    else:
        status_axis.set_ylabel(f"{len(codes)} hospitals (by code)", fontsize=8)
        status_axis.set_yticks([])
    handles = [
        status_axis.scatter([], [], marker="s", color=colour, label=name)
        for name, colour in zip(STATUSES, STATUS_COLOURS, strict=True)
    ]
    figure.legend(handles=handles, loc="upper center", ncol=4, fontsize=8, frameon=False)
    return _svg(figure)


def reject_trend(trend: list[dict[str, Any]], first: date, last: date) -> str:
    """Reject rate per day of the hospitals with the highest mean rate (at most ten lines)."""
    by_hospital: dict[str, dict[date, float]] = {}
    for row in trend:
        if row["reject_rate"] is not None:
            by_hospital.setdefault(row["hospital_code"], {})[row["extract_date"]] = float(
                row["reject_rate"]
            )
    worst = sorted(
        by_hospital,
        key=lambda code: (-sum(by_hospital[code].values()) / len(by_hospital[code]), code),
    )[:MAX_TREND_LINES]
    days = _days(first, last)
    figure = Figure(figsize=(11, 3.6))
    axis = figure.subplots()
    for code in sorted(worst):
        points = sorted(by_hospital[code].items())
        axis.plot(
            [(day - first).days for day, _ in points],
            [100 * rate for _, rate in points],
            marker="o",
            markersize=2.5,
            linewidth=1.2,
            label=code,
        )
    _day_ticks(axis, days, x=True)
    axis.set_xlim(-0.5, len(days) - 0.5)
    axis.set_ylim(bottom=0)
    axis.set_ylabel("rows rejected (%)", fontsize=8)
    title = "Reject rate per day"
    if len(by_hospital) > len(worst):
        title += f" (the {len(worst)} highest of {len(by_hospital)} hospitals)"
    axis.set_title(title, fontsize=9)
    if worst:
        axis.legend(fontsize=7, ncol=min(5, len(worst)), loc="upper left", frameon=False)
    else:
        axis.text(0.5, 0.5, "no loaded rows in the window", ha="center", transform=axis.transAxes)
    axis.grid(alpha=0.3)
    return _svg(figure)
