"""Leader documents in the chosen language (issue 20): the HTML briefing and the Excel
workbook name things instead of showing codes, round numbers and give the period's last day."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from gis import planning, store
from gis.reports import inclusive_period, render_briefing_html, write_briefing_excel

START, END = pd.Timestamp("2026-08-01"), pd.Timestamp("2026-11-01")


@pytest.fixture(scope="module")
def brief(demo_db):
    e = store.open_store(demo_db)
    grids = store.read_grids(e)
    staff = store.read_table(e, "staff")
    inc = store.read_incidents(e, START, END)
    tax, deps = store.read_table(e, "taxonomy"), store.read_table(e, "departments")
    e.dispose()
    area = grids[grids["level"] == "l2"].geometry.iloc[0]
    return planning.briefing(
        area, inc, grids=grids, staff=staff, taxonomy=tax, departments=deps, period=(START, END)
    )


def raw_codes(brief) -> set[str]:
    """Codes the library's tables hold that a reader must never meet."""
    codes = set(brief.staff["role"]) | set(brief.staff["department"].dropna())
    codes |= set(brief.by_department["department"]) | set(brief.grids["level"])
    codes |= set(brief.open_cases["status"]) | set(brief.open_cases["category_code"])
    codes |= {"lead", "co"}
    return {c for c in codes if isinstance(c, str) and c}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_briefing_names_not_codes_and_inclusive_period(brief, lang):
    page = render_briefing_html(brief, lang)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells
    leaked = raw_codes(brief) & set(cells)
    assert not leaked, leaked
    assert inclusive_period(brief, lang) in page
    assert "2026-10-31" in page and "2026-11-01" not in page
    assert (inclusive_period(brief, "zh") == "2026-08-01 至 2026-10-31") and (
        inclusive_period(brief, "en") == "2026-08-01 – 2026-10-31"
    )


@pytest.mark.parametrize(
    ("lang", "sheets"),
    [("zh", ["摘要", "问题类别", "网格人员", "未结案件"]), ("en", ["Summary", "Grid staff"])],
)
def test_excel_workbook_in_the_language(brief, lang, sheets, tmp_path):
    path = write_briefing_excel(brief, tmp_path / "b.xlsx", lang=lang)
    book = pd.read_excel(path, sheet_name=None)
    assert set(sheets) <= set(book)
    codes = raw_codes(brief)
    for name, frame in book.items():
        assert not any("_" in str(c) for c in frame.columns), (name, list(frame.columns))
        values = {v for v in frame.astype(str).to_numpy().ravel()}
        assert not (values & codes), (name, values & codes)
        for col in frame.select_dtypes("float").columns:
            decimals = frame[col].dropna().map(lambda x: len(repr(float(x)).split(".")[1]))
            assert (decimals <= 3).all(), (name, col)
    staff = book["网格人员" if lang == "zh" else "Grid staff"]
    roles = {"zh": {"网格长", "网格员", "网格辅助员"}, "en": {"Grid leader", "Grid worker"}}
    assert roles[lang] & set(staff.iloc[:, 2])


def test_default_plan_period_can_be_judged():
    # the data end before today: the last 30 days of the data
    assert planning.default_plan_period("2026-10-31 22:10", date(2026, 12, 4)) == (
        date(2026, 10, 2),
        date(2026, 10, 31),
    )
    # live data: from today for 30 days
    assert planning.default_plan_period(date(2026, 12, 4), date(2026, 12, 4)) == (
        date(2026, 12, 4),
        date(2027, 1, 2),
    )
