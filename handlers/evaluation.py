"""The 三维考评 sheet: for each person who led cases in the period, the three dimensions
the compound party organisation weighs — duty performance, residents' feedback and the
branch's own evaluation — and the 4:6 combination with the evaluating unit's score.

The bot can measure the first two from the ledger; the branch's score and the unit's
score are judgements people make, so the sheet leaves them blank to be filled in and
computes the rest with spreadsheet formulas (they update as soon as a score is typed):

- 履职得分 = on-time rate × 100; 群众评价得分 = the mean satisfaction score (0–100);
- 小区党组织评价 = the mean of the three dimensions (blank until the branch scores);
- 综合得分 = w₁ × 小区党组织评价 + w₂ × 单位评价 (``LINLI_EVALUATION_WEIGHTS``, 0.4,0.6).

The sheet is part of the ledger export and is also written alone by
``linli ledger evaluation`` for the branch to fill in.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.catalog import Catalog
from handlers.statistics import HandlerFigures, Statistics
from handlers.xlsx_stream import DECIMAL, PERCENT, Column, Formula, StreamingWorkbook


def _percent_label(weight: float) -> str:
    return f"{round(weight * 100, 1):g}%"


def evaluation_columns(catalog: Catalog, weights: tuple[float, float]) -> list[Column]:
    t = catalog.t
    return [
        Column(t("evaluation.col_name"), 12),
        Column(t("evaluation.col_roles"), 22),
        Column(t("evaluation.col_compound"), 12),
        Column(t("evaluation.col_cases_led"), 10),
        Column(t("evaluation.col_resolved"), 10),
        Column(t("evaluation.col_on_time"), 10),
        Column(t("evaluation.col_on_time_rate"), 12, PERCENT),
        Column(t("evaluation.col_duty_score"), 12, DECIMAL),
        Column(t("evaluation.col_rated"), 10),
        Column(t("evaluation.col_satisfied_share"), 10, PERCENT),
        Column(t("evaluation.col_feedback_score"), 14, DECIMAL),
        Column(t("evaluation.col_branch_score"), 16, DECIMAL),
        Column(t("evaluation.col_compound_score"), 16, DECIMAL),
        Column(t("evaluation.col_unit_score"), 16, DECIMAL),
        Column(
            t(
                "evaluation.col_total",
                compound=_percent_label(weights[0]),
                unit=_percent_label(weights[1]),
            ),
            24,
            DECIMAL,
        ),
    ]


def evaluation_row(
    catalog: Catalog, person: HandlerFigures, row: int, weights: tuple[float, float]
) -> list[object]:
    """One person; ``row`` is the spreadsheet row the formulas refer to."""
    f = person.figures
    duty = round(f.on_time_rate * 100, 1) if f.on_time_rate is not None else None
    roles = "、".join(catalog.t(f"roles.{r}") for r in person.roles)
    compound_score = Formula(f'=IF(L{row}="","",ROUND(AVERAGE(H{row},K{row},L{row}),1))')
    total = Formula(
        f'=IF(OR(M{row}="",N{row}=""),"",ROUND(M{row}*{weights[0]:.4g}+N{row}*{weights[1]:.4g},1))'
    )
    return [
        person.name,
        roles,
        person.compound,
        f.cases,
        f.resolved,
        f.on_time,
        f.on_time_rate,
        duty,
        f.rated,
        f.satisfied_share,
        f.satisfaction_score,
        None,
        compound_score,
        None,
        total,
    ]


def write_evaluation_sheet(
    workbook: StreamingWorkbook,
    stats: Statistics,
    catalog: Catalog,
    weights: tuple[float, float],
) -> int:
    table = workbook.sheet(
        catalog.t("ledger.sheet_evaluation"), evaluation_columns(catalog, weights)
    )
    for index, person in enumerate(stats.handlers):
        table.append(evaluation_row(catalog, person, index + 2, weights))
    table.close()
    return table.rows


def export_evaluation(
    out: Path, stats: Statistics, catalog: Catalog, weights: tuple[float, float]
) -> int:
    with StreamingWorkbook(out) as workbook:
        return write_evaluation_sheet(workbook, stats, catalog, weights)
