"""The /stats chart: tickets sold per travel day, stacked by route, with the load factor.

matplotlib with its Agg backend (no screen) renders a PNG; Chinese and Cyrillic route names
fall back to the fonts the tickets use.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from booking.stats import SalesReport
from booking.tickets.fonts import DEFAULT_FONTS

ROUTES_SHOWN = 6  # the busiest routes get their own colour; the rest are one "other" band
_LOCK = threading.Lock()  # matplotlib's font cache is not thread-safe

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@cache
def _figure_class() -> type[Figure]:
    # matplotlib is imported on the first chart, not with the bot: it was a third of every
    # `kassa` process's start (0.7 s of 2), for a staff command.
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: no display here, and no GUI toolkit wanted
    from matplotlib.figure import Figure

    return Figure


@dataclass(frozen=True, slots=True)
class ChartWords:
    title: str
    tickets: str
    load_factor: str
    other: str
    day_labels: tuple[str, ...]  # one per day of the report, as the reader writes days


@cache
def _font_families() -> list[str]:
    _figure_class()  # matplotlib set up first
    from matplotlib import font_manager

    families = []
    for font in (DEFAULT_FONTS.regular, DEFAULT_FONTS.cjk):
        if font.path.is_file():
            font_manager.fontManager.addfont(str(font.path))
            families.append(font_manager.FontProperties(fname=str(font.path)).get_name())
    return families or ["sans-serif"]


def render_chart(report: SalesReport, words: ChartWords) -> bytes:
    """A PNG of the report (about 1000 x 600 px)."""
    days = report.days()
    totals: dict[str, int] = {}
    for row in report.rows:
        totals[row.route] = totals.get(row.route, 0) + row.tickets
    shown = [route for route, count in sorted(totals.items(), key=lambda kv: -kv[1])
             if count][:ROUTES_SHOWN]
    series: dict[str, list[int]] = {route: [0] * len(days) for route in [*shown, words.other]}
    seat_legs = [0] * len(days)
    capacity = [0] * len(days)
    for row in report.rows:
        index = (row.day - report.first_day).days
        series[row.route if row.route in shown else words.other][index] += row.tickets
        seat_legs[index] += row.seat_legs
        capacity[index] += row.capacity_legs
    with _LOCK:
        families = _font_families()
        figure = _figure_class()(figsize=(10, 6), dpi=100)
        axes = figure.add_subplot()
        bottom = [0] * len(days)
        positions = list(range(len(days)))
        for route, counts in series.items():
            if not any(counts):
                continue
            axes.bar(positions, counts, bottom=bottom, label=route)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        axes.set_ylabel(words.tickets, fontfamily=families)
        axes.set_title(words.title, fontfamily=families)
        step = max(1, len(days) // 12)
        axes.set_xticks(positions[::step], words.day_labels[::step], fontfamily=families)
        factor = axes.twinx()
        factor.plot(positions, [s / c * 100 if c else 0 for s, c in zip(seat_legs, capacity,
                                                                          strict=True)],
                    color="black", marker="o", label=words.load_factor)
        factor.set_ylim(0, 100)
        factor.set_ylabel(f"{words.load_factor}, %", fontfamily=families)
        handles, labels = axes.get_legend_handles_labels()
        more, more_labels = factor.get_legend_handles_labels()
        if handles or more:
            axes.legend(handles + more, labels + more_labels, loc="upper left",
                        prop={"family": families, "size": 8})
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()
