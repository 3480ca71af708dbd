"""Data: import incident files (upload, the detected column mapping with overrides, coordinate
system, time zone, tolerance and unknown-category policy, a dry-run validation report, the
import with a progress bar, the rejected rows to download), the import history, and export of
the incidents in the sidebar's filters.

Everyone may look at the history and export; importing needs ``import_data`` (admins: an
import writes district-wide incidents, which a grid admin's scope does not cover)."""

from __future__ import annotations

import hashlib
import json
import zoneinfo

import pandas as pd
import streamlit as st

from gis import auth, i18n, ui
from gis.core import coords, settings
from gis.incidents import TARGETS, import_incidents

user = ui.page("view")
#: the language of this run, bound into format functions (AppTest calls them outside the run)
LANG = ui.lang()
may_import = auth.can(user, "import_data")
st.title(ui.t("data.title"))
st.caption(ui.t("data.caption"))

#: the file types the uploader takes (a Shapefile comes zipped)
UPLOAD_TYPES = ["csv", "txt", "tsv", "xlsx", "geojson", "json", "gpkg", "zip"]
CRS_CHOICES = ["wgs84", "cgcs2000", "gcj02", "bd09", "epsg"]


def choice(widget, label: str, options: list, key: str, default, **kw):
    """A selectbox/radio keyed per language (its labels follow the language) whose value is
    carried in ``session_state[key]`` across the switch; ``set_choice`` changes it from code
    (the CRS hint button does)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    wkey = f"{key}_{ui.lang()}"
    if st.session_state.get(wkey) not in options:  # first shown in this language
        st.session_state[wkey] = st.session_state[key]
    out = widget(label, options, key=wkey, **kw)
    st.session_state[key] = out
    return out


def crs_label(name: str) -> str:
    return i18n.t(f"data.crs.{name}", LANG)


def reason_table(reasons: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            ui.t("data.col.reason"): [i18n.import_reason(r, ui.lang()) for r in reasons.index],
            ui.t("data.col.rows"): reasons.to_numpy(),
        }
    )


def rejected_csv(rejected: pd.DataFrame) -> bytes:
    """The rejected rows with ``row`` and ``reason`` (and the reason in Chinese when the page is
    in Chinese), UTF-8 with BOM so that Excel opens it."""
    out = rejected.copy()
    if ui.lang() != "en" and len(out):
        out[ui.t("data.col.reason")] = [i18n.import_reason(r, ui.lang()) for r in out["reason"]]
    return ui.csv_bytes(out)


def accounting(imported: int, rejected: int, total: int, key: str = "data.accounting") -> str:
    return ui.t(
        key, imported=ui.fmt_int(imported), rejected=ui.fmt_int(rejected), total=ui.fmt_int(total)
    )


def set_choice(key: str, value) -> None:
    """Set a ``choice`` widget from code (in a callback, before the widget is drawn)."""
    st.session_state[key] = value
    st.session_state[f"{key}_{ui.lang()}"] = value


def show_last_import(path: str | None) -> None:
    """The result of the import just made (kept across the rerun that follows it), until
    another file is uploaded."""
    done = st.session_state.get("data_done")
    if not done or (path is not None and done["path"] != path):
        return
    st.success(
        ui.t("data.imported", file=done["file"])
        + " "
        + accounting(done["imported"], done["rejected_n"], done["total"], "data.result")
    )
    if done["rejected_n"]:
        st.dataframe(reason_table(done["reasons"]), hide_index=True)
        st.download_button(
            ui.t("data.download_rejected"),
            rejected_csv(done["rejected"]),
            file_name=f"{done['stem']}.rejected.csv",
            mime="text/csv",
            key="data_done_rejected_dl",
        )


def import_panel() -> None:
    if not may_import:
        st.info(ui.t("data.import_denied"))
        return
    upload = st.file_uploader(
        ui.t("data.upload"), type=UPLOAD_TYPES, key="data_upload", help=ui.t("data.upload_help")
    )
    if upload is None:
        show_last_import(None)
        return
    with ui.guard() as outcome:
        path = ui.uploaded_file(upload)
        detected = ui.intake_preview(str(path))
    if outcome.failed:
        return
    show_last_import(str(path))
    fid = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    vector = detected.kind == "vector"
    delimiter = {"\t": "TAB", None: "—"}.get(detected.delimiter, detected.delimiter)
    st.caption(
        ui.t(
            "data.file_info",
            name=detected.file_name,
            rows=ui.fmt_int(detected.row_count),
            kind=ui.t(f"data.kind_file.{detected.kind}"),
            encoding=detected.encoding or "—",
            delimiter=delimiter,
        )
    )

    # ------------------------------------------------------------------ mapping with overrides
    st.subheader(ui.t("data.mapping"))
    st.caption(ui.t("data.mapping_help"))
    targets = [t for t in TARGETS if not (vector and t in ("lon", "lat", "wkt"))]
    options = [""] + detected.columns
    overrides: dict[str, str | None] = {}
    grid = st.columns(4)
    for i, target in enumerate(targets):
        found = detected.mapping.get(target, "")
        chosen = choice(
            grid[i % 4].selectbox,
            f"{ui.t('data.field.' + target)} ←",
            options,
            f"data_map_{fid}_{target}",
            found,
            format_func=lambda c: c or i18n.t("data.no_column", LANG),
        )
        if chosen != found:
            overrides[target] = chosen or None
    ov = tuple(sorted(overrides.items()))
    with ui.guard() as outcome:
        preview = ui.intake_preview(str(path), ov) if ov else detected
    if outcome.failed:
        return
    why = {1.0: "given", 0.9: "name", 0.6: "keyword"}
    mapping = preview.mapping.to_frame()
    st.dataframe(
        pd.DataFrame(
            {
                ui.t("data.col.field"): [ui.t(f"data.field.{f}") for f in mapping["field"]],
                ui.t("data.col.column"): mapping["column"],
                ui.t("data.col.confidence"): mapping["confidence"].round(1),
                ui.t("data.col.why"): [
                    ui.t(f"data.why.{why.get(round(c, 1), 'given')}") for c in mapping["confidence"]
                ],
            }
        ),
        hide_index=True,
        key=f"data_mapping_{ui.lang()}",
    )
    with st.expander(ui.t("data.sample"), expanded=False):
        st.dataframe(preview.sample.head(10), hide_index=True)

    # ------------------------------------------------------------------ options
    st.subheader(ui.t("data.options"))
    c = st.columns(4)
    crs_options = (["file"] if vector else []) + CRS_CHOICES
    crs_key = f"data_crs_{fid}"
    crs_choice = choice(
        c[0].selectbox,
        ui.t("data.crs"),
        crs_options,
        crs_key,
        crs_options[0],
        format_func=crs_label,
        help=ui.t("data.crs_help"),
    )
    crs: str | None = None if crs_choice == "file" else crs_choice
    if crs_choice == "epsg":
        code = ui.keyed_value(c[1].text_input, ui.t("data.epsg"), "data_epsg", "EPSG:4547")
        try:
            crs = coords.normalize_crs(code.strip())
        except ValueError:
            st.error(ui.t("data.bad_epsg", code=code))
            return
    tz = ui.keyed_value(
        c[2].text_input, ui.t("data.tz"), "data_tz", settings.DISTRICT_TZ, help=ui.t("data.tz_help")
    ).strip()
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        st.error(ui.t("data.bad_tz", tz=tz))
        return
    tolerance = ui.keyed_value(
        c[3].number_input,
        ui.t("data.tolerance"),
        "data_tolerance",
        500.0,
        min_value=0.0,
        max_value=100_000.0,
        step=50.0,
        format="%.0f",
        help=ui.t("data.tolerance_help"),
    )
    unknown = choice(
        st.radio,
        ui.t("data.unknown"),
        ["reject", "unclassified"],
        "data_unknown",
        "reject",
        format_func=lambda p: i18n.t(f"data.unknown.{p}", LANG),
        horizontal=True,
    )
    if (
        preview.crs_guess
        and crs in (coords.WGS84, None)
        and preview.crs_guess in (coords.GCJ02, coords.BD09)
    ):
        st.caption(ui.t("data.crs_guess", crs=crs_label(preview.crs_guess)))

    # ------------------------------------------------------------------ dry run
    st.subheader(ui.t("data.check"))
    have = set(preview.mapping)
    missing = []
    if not vector and not ({"lon", "lat"} <= have or "wkt" in have):
        missing.append(ui.t("data.need.coordinates"))
    if not have & {"occurred_at", "reported_at"}:
        missing.append(ui.t("data.need.time"))
    if "category_code" not in have and unknown == "reject":
        missing.append(ui.t("data.need.category"))
    if missing:
        st.error(ui.t("data.need", what="; ".join(missing)))
        return
    with ui.guard() as outcome, st.spinner(ui.t("data.checking")):
        check = ui.intake_check(str(path), ov, crs, tz, unknown, float(tolerance))
    if outcome.failed:
        return
    m = st.columns(5)
    m[0].metric(ui.t("data.total"), ui.fmt_int(check.total))
    m[1].metric(ui.t("data.to_import"), ui.fmt_int(check.imported))
    m[2].metric(ui.t("data.rejected"), ui.fmt_int(check.rejected_count))
    m[3].metric(ui.t("data.duplicates"), ui.fmt_int(check.duplicates))
    m[4].metric(ui.t("data.repeats"), ui.fmt_int(check.repeat_locations))
    st.info(accounting(check.imported, check.rejected_count, check.total))
    if check.crs_hint and check.crs_check:
        here = check.crs if check.crs in check.crs_check else coords.WGS84
        best = min((n for n in check.crs_check if n != here), key=check.crs_check.get)
        st.warning(
            ui.t(
                "data.crs_hint",
                share=f"{check.crs_check[here]:.0%}",
                tol=f"{tolerance:g}",
                crs=crs_label(here),
                best=crs_label(best),
                best_share=f"{check.crs_check[best]:.0%}",
            )
        )
        st.button(
            ui.t("data.use_crs", crs=crs_label(best)),
            key="data_use_crs",
            on_click=set_choice,
            args=(crs_key, best),
        )
    for note in check.notes:
        st.caption(ui.md_text(i18n.import_reason(note, ui.lang())))
    if len(check.unknown_categories):
        st.markdown(f"**{ui.t('data.unknown_list')}**")
        st.caption(ui.t(f"data.unknown_then.{unknown}"))
        st.dataframe(
            pd.DataFrame(
                {
                    ui.t("data.col.category_text"): check.unknown_categories.index.astype(str),
                    ui.t("data.col.rows"): check.unknown_categories.to_numpy(),
                }
            ),
            hide_index=True,
            key=f"data_unknown_table_{ui.lang()}",
        )
    if check.rejected_count:
        st.markdown(f"**{ui.t('data.reasons')}**")
        st.dataframe(reason_table(check.reasons), hide_index=True, key=f"data_reasons_{ui.lang()}")
        with st.expander(ui.t("data.rejected_rows", n=ui.fmt_int(check.rejected_count))):
            st.dataframe(check.rejected.head(500), hide_index=True)
        stem = detected.file_name.rsplit(".", 1)[0]
        st.download_button(
            ui.t("data.download_rejected"),
            rejected_csv(check.rejected),
            file_name=f"{stem}.rejected.csv",
            mime="text/csv",
            key="data_check_rejected_dl",
        )

    # ------------------------------------------------------------------ import
    if check.imported == 0:
        st.caption(ui.t("data.nothing_new"))
    if st.button(ui.t("data.do_import"), type="primary", key="data_go"):
        bar = st.progress(0.0, text=ui.t("data.importing", pct="0%"))

        def progress(fraction: float, message: str) -> None:
            text = ui.t("data.importing", pct=f"{fraction:.0%}")
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"{text} · {message}")

        with ui.guard() as outcome:
            result = import_incidents(
                ui.engine(),
                path,
                imported_by=user.username,
                mapping=dict(ov),
                crs=crs,
                tz=tz,
                unknown=unknown,
                tolerance_m=float(tolerance),
                progress=progress,
            )
        if outcome.failed:
            bar.empty()
            return
        st.session_state["data_done"] = {
            "path": str(path),
            "file": result.file_name,
            "stem": detected.file_name.rsplit(".", 1)[0],
            "imported": result.imported,
            "rejected_n": result.rejected_count,
            "total": result.total,
            "reasons": result.reasons,
            "rejected": result.rejected,
            "batch": result.batch_id,
            "line": result.summary_line(),
        }
        ui.clear_caches("incidents")
        st.rerun()


def history_panel() -> None:
    hist = ui.import_history()
    if hist.empty:
        st.info(ui.t("data.no_history"))
        return

    def reasons(details) -> str:
        try:
            counts = json.loads(details or "{}").get("reasons", {})
        except (TypeError, ValueError):
            return ""
        return "; ".join(f"{i18n.import_reason(r, ui.lang())}: {n}" for r, n in counts.items())

    shown = pd.DataFrame(
        {
            ui.t("data.col.when"): hist["imported_at"].dt.strftime("%Y-%m-%d %H:%M"),
            ui.t("data.col.who"): hist["imported_by"],
            ui.t("data.col.file"): hist["file_name"],
            ui.t("data.col.kind"): [
                ui.t(f"data.kind.{k}") if f"data.kind.{k}" in i18n.CATALOGUE else k
                for k in hist["kind"]
            ],
            ui.t("data.total"): hist["total"],
            ui.t("data.col.imported"): hist["imported"],
            ui.t("data.rejected"): hist["rejected"],
            ui.t("data.reasons"): [reasons(d) for d in hist["details"]],
        }
    )
    st.dataframe(shown, hide_index=True, key=f"data_history_{ui.lang()}")


def export_panel() -> None:
    f = ui.filters()
    scope = (tuple(f.categories), tuple(f.sources), f.grid_code)
    n = ui.home_summary(f.start, f.end, *scope)["in_filter"]
    last = f.end - pd.Timedelta(days=1)
    st.caption(ui.t("data.export_help", start=ui.fmt_date(f.start), end=ui.fmt_date(last)))
    c = st.columns([1, 1, 1, 1])
    c[0].metric(ui.t("data.export_n"), ui.fmt_int(n))
    fmt = choice(
        c[1].selectbox, ui.t("data.format"), list(ui.INCIDENT_EXPORT_FORMATS), "data_fmt", "CSV"
    )
    crs = choice(
        c[2].radio,
        ui.t("data.export_crs"),
        [coords.WGS84, coords.GCJ02],
        "data_export_crs",
        coords.WGS84,
        format_func=crs_label,
    )
    suffix, mime = ui.INCIDENT_EXPORT_FORMATS[fmt]
    lang, tax = ui.lang(), ui.taxonomy()
    name = f"incidents_{f.start:%Y%m%d}_{last:%Y%m%d}_{crs}{suffix}"
    c[3].download_button(
        ui.t("data.download"),
        data=lambda: ui.incidents_file(f.start, f.end, *scope, fmt, crs, lang, tax),
        file_name=name,
        mime=mime,
        key="data_export_dl",
        disabled=n == 0,
        on_click="ignore",
    )


tab_import, tab_history, tab_export = st.tabs(
    [ui.t("data.tab_import"), ui.t("data.tab_history"), ui.t("data.tab_export")]
)
with tab_import:
    import_panel()
with tab_history:
    history_panel()
with tab_export:
    export_panel()
