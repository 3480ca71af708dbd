"""The Reports page (AppTest on a per-test copy of the demo district): leaders and admins only;
each kind previewed in both languages with its three files rendered (the library's model and
bytes, checked against a report built here); generated into the archive and downloaded back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gis import auth, i18n, reports, store
from gis.store import reports as archive_rows
from gis.viz import assert_offline_html
from tests.ui.apptest import new_app, sign_in

PAGE = "pages/reports.py"
DAY = "2026-10-31"


def run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(username: str, password: str):
    at = sign_in(new_app(), username, password)
    at.switch_page(PAGE).run()
    return at


def button(at, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def test_only_leaders_and_admins_open_the_page(page_db):
    assert [r for r in auth.PERMISSIONS if auth.PERMISSIONS[r] >= {"view_reports"}] == [
        "leader",
        "admin",
    ]
    at = sign_in(new_app(), "analyst", "analyst-demo")
    with pytest.raises(ValueError, match="navigation page"):  # not in an analyst's navigation
        at.switch_page(PAGE)


def test_leader_previews_each_kind_in_both_languages_and_archives(page_db):
    at = open_page("leader", "leader-demo")
    assert not at.exception, at.exception
    assert at.title[0].value == "定期报告"
    assert str(at.date_input(key="reports_day").value) == DAY  # the last day on record
    eng = store.open_store(page_db)
    for kind in reports.KINDS:
        at.selectbox(key="reports_kind").set_value(kind)
        run(at)
        button(at, "预览").click()
        run(at)
        key, model = at.session_state["reports_model"]
        ref = reports.build_period_report(eng, kind, DAY)
        assert key == (kind, str(ref.period.start.date()))
        assert model.headline.equals(ref.headline)
        assert model.departments.equals(ref.departments)
        for lang in ("zh", "en") if kind == "monthly" else ("zh",):  # a PDF takes seconds
            at.radio(key="reports_lang").set_value(lang)
            run(at)
            files = at.session_state["reports_files"]
            for fmt in reports.FORMATS:
                data = files[(key, lang, fmt)]
                assert len(data) > 1000
                if fmt == "html":
                    assert_offline_html(data.decode("utf-8"))
                    assert ref.title(lang) in data.decode("utf-8")
                elif fmt == "pdf":
                    assert data.startswith(b"%PDF")
                else:
                    assert data[:2] == b"PK"
    # into the archive, then listed and downloadable
    before = archive_rows.count_archive(eng)
    at.selectbox(key="reports_fmt").set_value("pdf")
    run(at)
    button(at, "生成并存档").click()
    run(at)
    assert any(re.search(r"已存档（编号 \d+）", s.value) for s in at.success)
    assert archive_rows.count_archive(eng) == before + 1
    row = archive_rows.list_archive(eng).iloc[0]
    assert (row["kind"], row["format"], row["generated_by"]) == ("monthly", "pdf", "leader")
    assert at.selectbox(key="reports_pick").value == row["id"]
    # in English
    at.session_state["lang"] = "en"
    run(at)
    assert at.title[0].value == "Period reports"
    eng.dispose()


def test_every_label_of_the_page_is_in_both_languages():
    source = (Path(__file__).resolve().parents[2] / PAGE).read_text(encoding="utf-8")
    keys = set(re.findall(r'\bt\(\s*"([a-z_.]+)"', source))
    keys |= {f"reports.kind.{k}" for k in reports.KINDS}
    keys |= {k for k in i18n.CATALOGUE if k.startswith("reports.")}
    assert len(keys) > 60
    missing = sorted(k for k in keys if set(i18n.CATALOGUE.get(k, {})) != set(i18n.LANGS))
    assert not missing, missing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_labels_format(lang):
    # every templated action text formats with the parameters the model gives it
    params = dict(pct=12.0, p=0.01, category="x", n=3, grids="a", sup=1, grid="g", k=2,
                  unit="u", score=50.0, grade="D", rate=0.5, reason="r", name="n", verdict="v")  # fmt: skip
    for key in [k for k in i18n.CATALOGUE if k.startswith("reports.act.")]:
        assert i18n.t(key, lang, **params)
