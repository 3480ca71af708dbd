"""The period reports (日碰头 / 周点评 / 月通报) on the demo district.

Numbers are checked against their peers: the case metrics against ``gridlens cases metrics``'s
CSV for the same period (and the pandas recomputation from the transitions), incident counts
against a SQL count of the incident table, the red light against ``gridlens cases overdue``,
hot spots against the Hotspots page model (``gis.views.add_emerging``) on the incident points,
patrol gaps against ``gridlens gaps``; the exact tests against hand-computed binomial sums.
The three kinds generate from the CLI in all formats and both languages; the HTML passes the
offline check; the PDF's text (``pdftotext``) holds the section titles and its pages are A4.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
import subprocess
from configparser import ConfigParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gis import hotspots as hs
from gis import i18n, reports, store, views
from gis.cli import build_parser, main
from gis.core.errors import InputError
from gis.demo.cases import load_demo_cases
from gis.reports import period_sections as sec
from gis.store import reports as archive_rows
from gis.viz import assert_offline_html

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-10-31"  # the demo's last day: it holds the patrol tracks of demo_small
KINDS = ("daily", "weekly", "monthly")
CASES_FROM = "2026-09-01"


@pytest.fixture(scope="module")
def db(demo_db, tmp_path_factory) -> str:
    """A copy of the demo database for this module (the reports write to its archive), with
    the demo's case histories of the incidents since 2026-09-01 (the periods tested and the
    ones they compare with; all of them would take minutes to load)."""
    path = tmp_path_factory.mktemp("reports") / "reports.db"
    shutil.copyfile(demo_db, path)
    eng = store.open_store(str(path))
    load_demo_cases(eng, seed=42, incidents=store.read_incidents(eng, pd.Timestamp(CASES_FROM)))
    eng.dispose()
    return str(path)


@pytest.fixture(scope="module")
def engine(db):
    eng = store.open_store(db)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def built(engine) -> dict:
    return {k: reports.build_period_report(engine, k, DAY) for k in KINDS}


def cli(*args: str) -> None:
    assert main(list(args)) == 0, args


# --------------------------------------------------------------------------------------------
# Periods and the exact tests


def test_periods_by_hand():
    p = reports.report_period("weekly", "2026-10-29")  # a Thursday
    assert (p.start, p.end) == (pd.Timestamp("2026-10-26"), pd.Timestamp("2026-11-02"))
    assert p.previous().start == pd.Timestamp("2026-10-19")
    assert p.last_year().start == pd.Timestamp("2025-10-27")  # 52 weeks: a Monday again
    m = reports.report_period("monthly", "2026-02-14")
    assert (m.start, m.end, m.days) == (pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01"), 28)
    assert m.previous().start == pd.Timestamp("2026-01-01")
    assert m.last_year().start == pd.Timestamp("2025-02-01")
    d = reports.report_period("daily", "2028-02-29")
    assert d.last_year().start == pd.Timestamp("2027-02-28")
    # without a day: the last complete period before today
    today = pd.Timestamp("2026-12-02").date()  # a Wednesday
    assert reports.report_period("daily", today=today).start == pd.Timestamp("2026-12-01")
    assert reports.report_period("weekly", today=today).start == pd.Timestamp("2026-11-23")
    assert reports.report_period("monthly", today=today).start == pd.Timestamp("2026-11-01")
    with pytest.raises(InputError):
        reports.report_period("yearly", "2026-01-01")


def test_exact_tests_by_hand():
    # 10 against 2 over equal lengths: P(X >= 10 | n=12, p=1/2) doubled
    ch = reports.count_change(10, 1, 2, 1)
    tail = sum(math.comb(12, k) for k in (10, 11, 12)) / 2**12
    assert ch.p_value == pytest.approx(2 * tail)
    assert ch.pct == pytest.approx(400.0)
    assert ch.significant
    # unequal lengths: daily rates; 31 vs 30 days with the same count is a fall
    ch = reports.count_change(30, 31, 30, 30)
    assert ch.pct == pytest.approx((30 / 31 - 1) * 100)
    assert not ch.significant
    # 0 against 0: no test
    assert math.isnan(reports.count_change(0, 1, 0, 1).p_value)
    # Fisher: 8/10 against 2/10, two-sided, by the hypergeometric sum
    r = reports.rate_change(8, 10, 2, 10)
    assert r.pct == pytest.approx(60.0)

    def h(a):  # P(first row has a hits) with margins 10/10, 10 hits
        return math.comb(10, a) * math.comb(10, 10 - a) / math.comb(20, 10)

    assert r.p_value == pytest.approx(
        sum(h(a) for a in range(21) if a <= 10 and h(a) <= h(8) + 1e-12)
    )


# --------------------------------------------------------------------------------------------
# Every number equals its peer


@pytest.mark.parametrize("kind", KINDS)
def test_case_numbers_equal_cli_metrics(built, db, tmp_path, kind):
    r = built[kind]
    p = r.period
    head = r.headline.set_index("metric")
    for per, col in ((p, "value"), (r.previous, "previous")):
        out = tmp_path / f"all_{col}.csv"
        cli("cases", "metrics", "--by", "all", "--start", f"{per.start:%Y-%m-%d}", "--end",
            f"{per.end:%Y-%m-%d}", "--out", str(out), "--db", db)  # fmt: skip
        ref = pd.read_csv(out).iloc[0]
        for m in ("reported", "closed", "overdue_open", "close_rate", "on_time_close_rate"):
            assert head.loc[m, col] == pytest.approx(float(ref[m])), (m, col)
        assert head.loc["score", col] == pytest.approx(float(ref["score"]))
    out = tmp_path / "dept.csv"
    cli("cases", "metrics", "--by", "department", "--start", f"{p.start:%Y-%m-%d}", "--end",
        f"{p.end:%Y-%m-%d}", "--out", str(out), "--db", db)  # fmt: skip
    ref = pd.read_csv(out).dropna(subset=["unit"]).set_index("unit")
    mine = r.departments.set_index("unit")
    assert set(mine.index) == set(ref.index)
    for unit in ref.index:
        for m in ("score", "due", "overdue_open", "on_time_close_rate"):
            a, b = mine.loc[unit, m], ref.loc[unit, m]
            assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(float(b)), (unit, m)
    scores = r.departments["score"].dropna().to_numpy()
    assert (np.diff(scores) <= 0).all()  # 红榜 first, 黑榜 last
    out = tmp_path / "l2.csv"
    cli("cases", "metrics", "--by", "grid:l2", "--start", f"{p.start:%Y-%m-%d}", "--end",
        f"{p.end:%Y-%m-%d}", "--out", str(out), "--db", db)  # fmt: skip
    ref = pd.read_csv(out, dtype={"unit": str}).dropna(subset=["unit"]).set_index("unit")
    mine = r.grids_rank.set_index("unit")
    assert mine["score"].to_dict() == pytest.approx(ref["score"].to_dict(), nan_ok=True)


def test_incident_counts_equal_the_incident_table(built, engine):
    for r in built.values():
        head = r.headline.set_index("metric")
        for per, col in ((r.period, "value"), (r.previous, "previous")):
            n = store.incident_counts(engine, per.start, per.end)["n"].sum()
            assert head.loc["incidents", col] == n
        assert math.isnan(head.loc["incidents", "last_year"])  # before the demo's first day
        by_cat = store.incident_counts(engine, r.period.start, r.period.end).set_index("key")["n"]
        cats = r.categories.set_index("category_code")["count"]
        assert cats.to_dict() == {c: by_cat[c] for c in cats.index}
        assert list(cats.index) == list(by_cat.sort_values(ascending=False).index[: len(cats)]) or (
            sorted(cats.to_numpy(), reverse=True) == list(cats.to_numpy())
        )
        trend = r.trend
        assert trend["count"].iloc[-1] == head.loc["incidents", "value"]


def test_red_light_equals_cli_overdue(built, db, tmp_path):
    r = built["weekly"]
    out = tmp_path / "overdue.csv"
    cli("cases", "overdue", "--at", f"{r.period.end:%Y-%m-%d}", "--out", str(out), "--db", db)
    ref = pd.read_csv(out, dtype={"grid_code": str})
    assert sorted(r.overdue["case_code"]) == sorted(ref["case_code"])
    per_grid = ref.groupby("grid_code").size()
    assert r.red_grids.set_index("grid_code")["overdue_open"].to_dict() == per_grid.to_dict()
    head = r.headline.set_index("metric")
    assert head.loc["overdue_open", "value"] == len(ref)


@pytest.mark.parametrize("kind", ["weekly", "monthly"])
def test_hotspots_equal_the_hotspots_page_model(built, engine, kind):
    r = built[kind]
    a, b = r.patterns.attrs["window"]
    inc = store.read_incidents(engine, a, b)
    inc = pd.DataFrame(
        {"lon": inc.geometry.x, "lat": inc.geometry.y, "occurred_at": inc["occurred_at"]}
    )
    units = r.micro
    ref = views.add_emerging(units, units, inc, step=r.patterns.attrs["step"], start=a, end=b)
    ref = ref.set_index("unit_id")
    mine = r.patterns.set_index("unit_id")
    assert (mine["pattern"] == ref["pattern"].reindex(mine.index)).all()
    expected = ref.index[ref["pattern"].isin(sec.NEW_PATTERNS)]
    assert sorted(r.hotspots["unit_id"]) == sorted(expected)
    now = inc[inc["occurred_at"] >= r.period.start]
    counts = hs.count_by_unit(now[["lon", "lat"]].to_numpy(), units)
    assert mine["count"].to_dict() == counts.set_index("unit_id")["count"].to_dict()


def test_patrol_gaps_equal_cli_gaps(built, db, tmp_path):
    r = built["daily"]
    assert r.patrol is not None and len(r.patrol)
    out = tmp_path / "gaps.csv"
    cli("gaps", "--start", DAY, "--end", "2026-11-01", "--top", "10", "--out", str(out), "--db", db)
    ref = pd.read_csv(out, dtype={"unit_id": str})
    assert r.patrol["unit_id"].tolist() == ref["unit_id"].tolist()
    assert r.patrol["reason_zh"].tolist() == ref["reason_zh"].tolist()
    assert r.patrol["gap_score"].to_numpy() == pytest.approx(ref["gap_score"].to_numpy())


def test_actions_name_what_the_sections_found(built):
    r = built["monthly"]
    text = " ".join(a["zh"] for a in r.actions)
    assert f"超期未结案件{len(r.overdue)}件" in text
    worst = r.departments.dropna(subset=["score"]).iloc[-1]
    assert r.department_name(worst["unit"], "zh") in text
    assert 1 <= len(r.actions) <= 7
    assert all(set(a) == {"zh", "en"} for a in r.actions)


# --------------------------------------------------------------------------------------------
# Formats, CLI, archive


def _pdf_text(path: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: scripts/setup --test installs it")
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _pdf_page_sizes(path: Path) -> list[tuple[float, float]]:
    out = subprocess.run(
        ["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return [
        (float(w), float(h))
        for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_kind_renders_in_every_format(built, tmp_path, lang):
    for kind, r in built.items():
        for fmt in reports.FORMATS:
            data = reports.render_report(r, fmt, lang, "pytest")
            path = tmp_path / reports.report_file_name(r.period, lang, fmt)
            path.write_bytes(data)
            titles = [i18n.t(k, lang) for _, k in reports.SECTIONS]
            if fmt == "html":
                html = data.decode("utf-8")
                assert_offline_html(html)
                assert "data:image/png;base64," in html
                assert all(x in html for x in titles)
                assert r.title(lang) in html
            elif fmt == "xlsx":
                sheets = pd.read_excel(path, sheet_name=None)
                assert list(sheets) == [x[:31] for x in titles]
            else:
                text = _pdf_text(path)
                flat = re.sub(r"\s+", "", text)
                assert all(re.sub(r"\s+", "", x) in flat for x in titles), kind
                assert re.sub(r"\s+", "", r.title(lang)) in flat
                sizes = _pdf_page_sizes(path)
                assert sizes and all(
                    abs(w - 595.3) < 1.5 and abs(h - 841.9) < 1.5 for w, h in sizes
                ), sizes


def test_cli_generates_each_kind_into_the_archive(db, engine, tmp_path):
    before = archive_rows.count_archive(engine)
    runs = [("daily", "zh", "html"), ("weekly", "en", "xlsx"), ("monthly", "zh", "pdf")]
    for kind, lang, fmt in runs:
        out = tmp_path / f"{kind}.{fmt}"
        cli("report", kind, "--date", DAY, "--lang", lang, "--out", str(out), "--by", "pytest",
            "--db", db)  # fmt: skip
        assert out.stat().st_size > 1000
    listing = archive_rows.list_archive(engine)
    assert archive_rows.count_archive(engine) == before + 3
    newest = listing.head(3).iloc[::-1]
    assert newest["kind"].tolist() == ["daily", "weekly", "monthly"]
    assert newest["format"].tolist() == ["html", "xlsx", "pdf"]
    assert (newest["generated_by"] == "pytest").all()
    assert newest.iloc[2]["period_start"] == pd.Timestamp("2026-10-01")
    assert newest.iloc[2]["period_end"] == pd.Timestamp("2026-11-01")
    got = archive_rows.archived_bytes(engine, int(newest.iloc[2]["id"]))
    assert got == (tmp_path / "monthly.pdf").read_bytes()
    fetched = tmp_path / "fetched.pdf"
    cli("report", "fetch", str(int(newest.iloc[2]["id"])), "--out", str(fetched), "--db", db)
    assert fetched.read_bytes() == got


def test_a_failed_run_leaves_the_archive_unchanged(db, engine, tmp_path, capsys, monkeypatch):
    before = archive_rows.count_archive(engine)
    # an output that cannot be written (a folder of that name)
    folder = tmp_path / "taken.html"
    folder.mkdir()
    assert main(["report", "daily", "--date", DAY, "--out", str(folder), "--db", db]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "archive is unchanged" in err

    # a failure while rendering
    def broken(*args, **kw):
        raise MemoryError("out of memory while drawing")

    monkeypatch.setattr(reports.period_archive, "period_pdf_bytes", broken)
    out = tmp_path / "r.pdf"
    assert main(["report", "daily", "--date", DAY, "--out", str(out), "--db", db]) == 1
    err = capsys.readouterr().err
    assert "out of memory while drawing" in err and "archive is unchanged" in err
    assert not out.exists()
    # a wrong suffix
    assert main(["report", "daily", "--out", str(tmp_path / "r.docx"), "--db", db]) == 1
    assert archive_rows.count_archive(engine) == before


# --------------------------------------------------------------------------------------------
# deploy/: every scheduled command is a valid gridlens command


def _gridlens_args(command: str) -> list[str]:
    command = re.sub(r"\$\([^)]*\)", "DATE", command.split(">>")[0])  # $(date +%F)
    words = shlex.split(command)
    first = next(i for i, w in enumerate(words) if w.endswith("/gridlens"))
    return words[first + 1 :]


def test_deploy_commands_parse():
    lines = [
        ln for ln in (ROOT / "deploy" / "crontab").read_text().splitlines()
        if ln.strip() and not ln.startswith("#") and "=" not in ln.split()[0]
    ]  # fmt: skip
    kinds = set()
    for ln in lines:
        args = _gridlens_args(" ".join(ln.split()[5:]))
        parsed = build_parser().parse_args(args)
        kinds.add(parsed.kind)
        assert parsed.by == "cron"
    assert kinds == set(KINDS)
    unit = (ROOT / "deploy" / "gridlens-report@.service").read_text()
    assert "ExecStart=" in unit and "--by systemd" in unit
    for kind in KINDS:
        timer = ConfigParser(strict=False)
        timer.read(ROOT / "deploy" / f"gridlens-report-{kind}.timer")
        assert timer["Timer"]["Unit"] == f"gridlens-report@{kind}.service"
        assert timer["Timer"]["OnCalendar"]
        args = ["report", kind, "--lang", "zh", "--by", "systemd", "--out", "x.pdf"]
        assert build_parser().parse_args(args).func.__name__ == "cmd_report"
