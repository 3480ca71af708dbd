"""Period reports (leaders and admins): choose the daily huddle, the weekly review or the monthly
bulletin and its period, preview it, download it as HTML, Excel or PDF, generate it into the
archive, and download what the archive holds. Everything is computed by ``gis.reports``."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from gis import reports, ui

user = ui.page("view_reports")
st.title(ui.t("reports.title"))
eng = ui.engine()
lang = ui.lang()

cols = st.columns(3)
kind = cols[0].selectbox(
    ui.t("reports.kind"),
    list(reports.KINDS),
    format_func=lambda k: ui.t(f"reports.kind.{k}"),
    key="reports_kind",
)
default_day = reports.latest_report_day(eng) or pd.Timestamp.now().date()
day = cols[1].date_input(ui.t("reports.day"), value=default_day, key="reports_day")
report_lang = cols[2].radio(
    ui.t("reports.lang"),
    ["zh", "en"],
    index=0 if lang == "zh" else 1,
    format_func=lambda code: {"zh": "中文", "en": "English"}[code],
    horizontal=True,
    key="reports_lang",
)
period = reports.report_period(kind, day)
st.caption(f"{ui.t('reports.period')}: {period.label()}")

key = (kind, str(period.start.date()))
if st.button(ui.t("reports.preview"), type="primary", key="reports_preview"):
    with ui.guard():
        st.session_state["reports_model"] = (key, reports.build_period_report(eng, kind, day))
        st.session_state["reports_files"] = {}
held = st.session_state.get("reports_model")
if held is not None and held[0] == key:
    model = held[1]
    files = st.session_state.setdefault("reports_files", {})

    def rendered(fmt: str) -> bytes:
        """Each file rendered once per report, language and format (a PDF takes seconds)."""
        slot = (key, report_lang, fmt)
        if slot not in files:
            files[slot] = reports.render_report(model, fmt, report_lang, user.username)
        return files[slot]

    html = rendered("html")
    d = st.columns(4)
    for i, fmt in enumerate(reports.FORMATS):
        d[i].download_button(
            ui.t("reports.download", fmt=fmt.upper()),
            data=rendered(fmt),
            file_name=reports.report_file_name(period, report_lang, fmt),
            mime=reports.MEDIA_TYPES[fmt],
            key=f"reports_download_{fmt}",
        )
    fmt = d[3].selectbox(ui.t("reports.arch.format"), list(reports.FORMATS), key="reports_fmt")
    if d[3].button(ui.t("reports.save"), key="reports_save"):
        with ui.guard():
            made = reports.generate_report(
                eng, kind, day, fmt=fmt, lang=report_lang, generated_by=user.username, report=model
            )
            st.success(ui.t("reports.saved", id=made.archive_id))
    components.html(html.decode("utf-8"), height=900, scrolling=True)

st.subheader(ui.t("reports.archive"))
archive = reports.list_archive(eng)
if archive.empty:
    st.info(ui.t("reports.empty_archive"))
else:
    shown = archive[
        [
            "id",
            "kind",
            "period_start",
            "period_end",
            "lang",
            "format",
            "generated_at",
            "generated_by",
            "size_bytes",
        ]
    ].copy()
    shown["kind"] = shown["kind"].map(lambda k: ui.t(f"reports.kind.{k}"))
    names = {
        c: ui.t(f"reports.arch.{c}")
        for c in ("kind", "format", "generated_at", "generated_by", "lang")
    }
    names |= {"period_start": ui.t("reports.arch.start"), "period_end": ui.t("reports.arch.end")}
    names["size_bytes"] = ui.t("reports.arch.size")
    st.dataframe(shown.rename(columns=names), hide_index=True, width="stretch")
    rows = archive.set_index("id")
    pick = st.selectbox(
        ui.t("reports.pick_archived"),
        list(rows.index),
        format_func=lambda i: f"{i} · {rows.loc[i, 'file_name']}",
        key="reports_pick",
    )
    data = reports.archived_bytes(eng, int(pick))
    if data is not None:
        st.download_button(
            ui.t("reports.download", fmt=rows.loc[pick, "format"].upper()),
            data=data,
            file_name=str(rows.loc[pick, "file_name"]),
            mime=reports.MEDIA_TYPES[rows.loc[pick, "format"]],
            key="reports_download_archived",
        )
