"""PNG charts of the ledger statistics, drawn with matplotlib's Agg renderer.

Every label is Chinese, and matplotlib's bundled fonts have no Chinese glyphs (they come
out as empty boxes), so a CJK font installed on the machine is required: found through
matplotlib's font list, or by well-known file names under the system font folders
(matplotlib caches its list and misses a font installed after the cache was built).
The project installs ``fonts-wqy-microhei`` (``.ci/run``); without any CJK font the
charts fail with :class:`NoChineseFont` naming that package — everything else works.

Figures are built without pyplot (no global figure registry, no GUI backend), and one
lock serialises drawing because matplotlib's rc settings are process-wide.

Usage::

    png = summary_chart(stats, catalog, scope="时代帝景", month="2026年3月")
    paths = write_charts(stats, catalog, Path("charts"))
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.catalog import Catalog
from handlers.statistics import STATUS_ORDER, Figures, Statistics
from knowledge.matters import load_matters

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FONT_PACKAGE = "fonts-wqy-microhei"
FONT_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Serif CJK SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
FONT_FILES = (
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansSC-Regular.otf",
    "SourceHanSansSC-Regular.otf",
    "DroidSansFallbackFull.ttf",
    "uming.ttc",
)
FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)
COLOURS = ("#4472C4", "#ED7D31", "#A5A5A5", "#FFC000", "#5B9BD5", "#70AD47", "#264478", "#9E480E")
CHART_FILES = ("cases_by_status", "top_matters", "on_time_rate", "home_level_rate")

_DRAWING = threading.Lock()


class NoChineseFont(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "no Chinese (CJK) font found for the charts: install one, e.g. "
            f"`apt-get install {FONT_PACKAGE}` (or fonts-noto-cjk); "
            "statistics and the ledger export work without it"
        )


@cache
def chinese_font() -> tuple[str, str]:
    """(family name, file) of an installed CJK font, registered with matplotlib."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    path = next((by_name[n] for n in FONT_FAMILIES if n in by_name), None)
    if path is None:
        path = _font_file()
    if path is None:
        raise NoChineseFont()
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name(), path


def _font_file() -> str | None:
    for directory in FONT_DIRS:
        if not directory.is_dir():
            continue
        for root, _dirs, files in os.walk(directory):
            for name in FONT_FILES:
                if name in files:
                    return str(Path(root) / name)
    return None


def render(draw: Callable[[Figure], None], size: tuple[float, float] = (9, 5)) -> bytes:
    """Run ``draw`` on a fresh figure with the Chinese font; the PNG's bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family, _path = chinese_font()
    settings = {
        "font.family": "sans-serif",
        "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with _DRAWING, matplotlib.rc_context(settings):
        figure = Figure(figsize=size, dpi=110)
        FigureCanvasAgg(figure)
        draw(figure)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _matter_name(matter_id: str) -> str:
    matter = load_matters().matters.get(matter_id)
    return matter.name if matter else matter_id


def _percent(value: float | None) -> float:
    return math.nan if value is None else value * 100


def _no_data(axes: Axes, catalog: Catalog) -> None:
    axes.text(0.5, 0.5, catalog.t("stats.no_data"), ha="center", va="center")


def status_chart(stats: Statistics, catalog: Catalog) -> bytes:
    """Cases reported each month, stacked by their status now."""
    months = stats.month_totals()

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.set_title(catalog.t("stats.chart_status"))
        labels = [m for m, _ in months]
        positions = list(range(len(months)))
        bottom = [0] * len(months)
        for index, status in enumerate(STATUS_ORDER):
            values = [f.by_status.get(status, 0) for _, f in months]
            if not any(values):
                continue
            axes.bar(
                positions,
                values,
                bottom=bottom,
                label=catalog.t(f"statuses.{status}"),
                color=COLOURS[index % len(COLOURS)],
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        if not any(bottom):
            _no_data(axes, catalog)
        else:
            axes.legend(fontsize=8, ncols=2)
        axes.set_ylabel(catalog.t("stats.axis_cases"))
        _whole_numbers(axes.yaxis)
        _month_ticks(axes, labels)

    return render(draw)


def _whole_numbers(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _month_ticks(axes: Axes, labels: list[str]) -> None:
    """Months as category ticks (strings like 2026-03 would otherwise be parsed as dates)."""
    axes.set_xticks(list(range(len(labels))), labels, rotation=45 if len(labels) > 6 else 0)


def _top_matters(figures: Figures, count: int) -> list[tuple[str, int]]:
    return [(_matter_name(m), n) for m, n in figures.by_matter.most_common(count)]


def matters_chart(stats: Statistics, catalog: Catalog, top: int = 10) -> bytes:
    items = _top_matters(stats.total, top)

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.set_title(catalog.t("stats.chart_matters"))
        _matter_bars(axes, items, catalog)

    return render(draw)


def _matter_bars(axes: Axes, items: list[tuple[str, int]], catalog: Catalog) -> None:
    if not items:
        _no_data(axes, catalog)
        return
    names = [n for n, _ in reversed(items)]
    counts = [c for _, c in reversed(items)]
    bars = axes.barh(names, counts, color=COLOURS[0])
    axes.bar_label(bars, padding=2, fontsize=8)
    axes.set_xlabel(catalog.t("stats.axis_cases"))
    _whole_numbers(axes.xaxis)


def rate_chart(stats: Statistics, catalog: Catalog, rate: str, title_key: str) -> bytes:
    """A rate (``on_time_rate``, ``home_level_rate``) month by month, in percent."""
    months = stats.month_totals()

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.set_title(catalog.t(title_key))
        labels = [m for m, _ in months]
        values = [_percent(getattr(f, rate)) for _, f in months]
        if all(math.isnan(v) for v in values):
            _no_data(axes, catalog)
        axes.plot(list(range(len(labels))), values, marker="o", color=COLOURS[0])
        axes.set_ylim(0, 105)
        axes.set_ylabel(catalog.t("stats.axis_rate") + " (%)")
        _month_ticks(axes, labels)
        axes.grid(axis="y", alpha=0.3)

    return render(draw)


def summary_chart(stats: Statistics, catalog: Catalog, *, scope: str, month: str) -> bytes:
    """The chat's 本月统计 picture: the period's cases by status beside the top matters."""
    total = stats.total
    statuses = [(s, total.by_status.get(s, 0)) for s in STATUS_ORDER if total.by_status.get(s)]
    items = _top_matters(total, 5)

    def draw(figure: Figure) -> None:
        figure.suptitle(catalog.t("stats.chart_summary", scope=scope, month=month))
        left = figure.add_subplot(1, 2, 1)
        left.set_title(catalog.t("stats.chart_summary_status"), fontsize=10)
        if statuses:
            bars = left.bar(
                [catalog.t(f"statuses.{s}") for s, _ in statuses],
                [n for _, n in statuses],
                color=[COLOURS[STATUS_ORDER.index(s) % len(COLOURS)] for s, _ in statuses],
            )
            left.bar_label(bars, padding=2, fontsize=8)
            _whole_numbers(left.yaxis)
            left.tick_params(axis="x", labelrotation=30, labelsize=8)
        else:
            _no_data(left, catalog)
        right = figure.add_subplot(1, 2, 2)
        right.set_title(catalog.t("stats.chart_summary_matters"), fontsize=10)
        _matter_bars(right, items, catalog)

    return render(draw, size=(10, 4.5))


def write_charts(stats: Statistics, catalog: Catalog, directory: Path) -> list[Path]:
    """The operator's set of charts (``linli stats --charts DIR``)."""
    directory.mkdir(parents=True, exist_ok=True)
    images = {
        "cases_by_status": status_chart(stats, catalog),
        "top_matters": matters_chart(stats, catalog),
        "on_time_rate": rate_chart(stats, catalog, "on_time_rate", "stats.chart_on_time"),
        "home_level_rate": rate_chart(stats, catalog, "home_level_rate", "stats.chart_home_level"),
    }
    paths = []
    for name in CHART_FILES:
        path = directory / f"{name}.png"
        path.write_bytes(images[name])
        paths.append(path)
    return paths
