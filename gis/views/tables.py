"""Tables a person reads, in their language: translated headers and values, sensible rounding,
no ``None``. The library's frames keep their machine column names (the CLI writes them); these
functions turn them into what the Grids page shows (history, recent changes, the impact
preview's staff, the validation report)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from gis import i18n
from gis.grids import KIND_ZH

#: what an empty cell shows
BLANK = "—"


def _text(value) -> str:
    """A cell as text: None/NaN/NaT as :data:`BLANK`."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return BLANK
    return str(value)


def _when(value) -> str:
    if value is None or pd.isna(value):
        return BLANK
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def action_name(action, lang: str) -> str:
    """An edit action (``reshape``, ``split`` ..., ``loaded``, ``restore``) in ``lang``."""
    key = f"grids.op.{action}" if f"grids.op.{action}" in i18n.CATALOGUE else f"grids.act.{action}"
    return i18n.t(key, lang) if key in i18n.CATALOGUE else _text(action)


def _table(frame: pd.DataFrame, spec: list[tuple[str, str, Callable]], lang: str) -> pd.DataFrame:
    """``spec``: (column, catalogue key of the header, value formatter), in the shown order."""
    out = {}
    for col, key, fmt in spec:
        if col in frame.columns:
            out[i18n.t(key, lang)] = [fmt(v) for v in frame[col]]
    return pd.DataFrame(out)


def history_table(history: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """``gis.grids.grid_history`` for people: version, dates, current, the action in words,
    who, when, why, name, the parent's name, area (m², whole)."""
    yes, no = i18n.t("grids.yes", lang), i18n.t("grids.no", lang)
    return _table(
        history,
        [
            ("version", "col.version", lambda v: BLANK if pd.isna(v) else str(int(v))),
            ("valid_from", "col.valid_from", _when),
            ("valid_to", "col.valid_to", _when),
            ("current", "col.current", lambda v: yes if v is True or v == 1 else no),
            ("action", "col.action", lambda a: action_name(a, lang)),
            ("edited_by", "col.by", _text),
            ("edited_at", "col.at", _when),
            ("reason", "col.reason", _text),
            ("name", "col.name", _text),
            ("parent_code", "col.parent", lambda c: names.get(c, _text(c))),
            ("area_m2", "col.area_m2", lambda a: BLANK if pd.isna(a) else f"{a:,.0f}"),
        ],
        lang,
    )


def edit_log_table(log: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """``gis.grids.edit_log`` for people: the action in words, who, when, why, the grids acted
    on by name, and how many grids the edit touched."""

    def grid_names(text) -> str:
        codes = [c.strip() for c in str(text or "").split(",") if c.strip()]
        return "、".join(names.get(c, c) for c in codes) if codes else BLANK

    return _table(
        log,
        [
            ("action", "col.action", lambda a: action_name(a, lang)),
            ("edited_by", "col.by", _text),
            ("edited_at", "col.at", _when),
            ("reason", "col.reason", _text),
            ("targets", "col.targets", grid_names),
            ("n_grids", "col.n_grids", lambda n: BLANK if pd.isna(n) else str(int(n))),
        ],
        lang,
    )


def staff_table(staff: pd.DataFrame, names: dict[str, str], departments: dict[str, str], lang: str):
    """The impact preview's staff for people: name, role and department in words, the grid by
    name, what happens to their grid (changed / retired) and its new code."""
    return _table(
        staff,
        [
            ("name", "table.name", _text),
            ("role", "table.role", lambda r: i18n.t(f"staff.{r}", lang)),
            ("department", "col.department", lambda d: departments.get(d, _text(d))),
            ("grid_code", "col.grid", lambda c: names.get(c, _text(c))),
            ("change", "col.status", lambda c: i18n.t(f"grids.staff_{c}", lang)),
            ("new_code", "col.new_code", lambda c: c or BLANK),
            ("phone", "table.phone", _text),
        ],
        lang,
    )


def problems_table(problems: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A validation report's problems for people: the kind and severity in words, the grids,
    the message in ``lang`` only, the area (m², one decimal)."""
    zh = lang == "zh"
    message = "message_zh" if zh and "message_zh" in problems.columns else "message"
    return _table(
        problems,
        [
            ("kind", "col.kind", lambda k: KIND_ZH.get(k, k) if zh else str(k).replace("_", " ")),
            ("severity", "col.severity", lambda s: i18n.t(f"severity.{s}", lang)),
            ("codes", "col.codes", _text),
            (message, "col.message", _text),
            ("area_m2", "col.area_m2", lambda a: BLANK if pd.isna(a) else f"{a:,.1f}"),
        ],
        lang,
    )


def units_table(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The Hotspots page's unit table for people: the unit's name and id, counts, density
    (whole per km²), Gi* z (2 decimals), p (3 decimals) and its bin in words, local Moran's
    class and emerging pattern in words (those present)."""

    def p_value(p) -> str:
        return BLANK if pd.isna(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")

    def words(prefix: str) -> Callable:
        def fmt(v) -> str:
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                return BLANK
            key = f"{prefix}.{int(v) if prefix == 'hotspots.bin' else v}"
            return i18n.t(key, lang) if key in i18n.CATALOGUE else str(v)

        return fmt

    return _table(
        frame,
        [
            ("unit_name", "hotspots.col.name", _text),
            ("unit_id", "hotspots.col.unit", _text),
            ("count", "table.count", lambda n: f"{int(n):,}"),
            ("density_km2", "hotspots.col.density", lambda d: BLANK if pd.isna(d) else f"{d:,.0f}"),
            ("gi_z", "hotspots.col.gi_z", lambda z: BLANK if pd.isna(z) else f"{z:.2f}"),
            ("gi_p", "hotspots.col.gi_p", p_value),
            ("gi_bin", "hotspots.col.gi_bin", words("hotspots.bin")),
            ("lisa_p", "hotspots.col.lisa_p", p_value),
            ("lisa_cluster", "hotspots.col.lisa", words("hotspots.lisa")),
            ("pattern", "hotspots.col.pattern", words("hotspots.pattern")),
        ],
        lang,
    )
