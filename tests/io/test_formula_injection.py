"""Formula injection (issue 19, Medium): text starting with = + - @ (or a tab / CR) is written
as text, never as a live formula, in every CSV and Excel the project writes (OWASP rule)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from openpyxl import load_workbook

from gis import store
from gis.incidents import export_incidents, import_incidents
from gis.io import neutralize_formulas, write_geo_file, write_table

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _frame() -> pd.DataFrame:
    n = len(HOSTILE) + 2
    return pd.DataFrame({"note": HOSTILE + ["-12.5", "safe"], "n": range(n), "neg": [-1.5] * n})


def _cells_xlsx(path) -> list:
    sheet = load_workbook(path).active
    return [(c.value, c.data_type) for row in sheet.iter_rows(min_row=2) for c in row[:1]]


def test_neutralize_formulas_rule():
    out = neutralize_formulas(_frame())
    assert out["note"].tolist() == ["'" + v for v in HOSTILE] + ["-12.5", "safe"]
    assert out["neg"].tolist() == [-1.5] * len(out)  # numbers stay numbers


def test_write_table_csv_and_excel_hold_no_formula(tmp_path):
    csv = write_table(_frame(), tmp_path / "t.csv")
    back = pd.read_csv(csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert all(v.startswith("'") for v in back["note"][: len(HOSTILE)])
    assert back["note"].iloc[-2] == "-12.5"
    cells = _cells_xlsx(write_table(_frame(), tmp_path / "t.xlsx"))
    assert all(t != "f" for _, t in cells)
    assert cells[0] == ("'" + HOSTILE[0], "s")


def test_map_writer_csv_and_excel_hold_no_formula(tmp_path):
    geo = gpd.GeoDataFrame(_frame(), geometry=shapely.points([(112.9, 35.8)] * 8), crs=4326)
    cells = _cells_xlsx(write_geo_file(geo, tmp_path / "g.xlsx"))
    assert all(t != "f" for _, t in cells)
    back = pd.read_csv(write_geo_file(geo, tmp_path / "g.csv"), dtype=str)
    assert back["note"].iloc[0] == "'" + HOSTILE[0]


def test_incident_export_from_the_store(engine, tiny_grids, tmp_path):
    store.init_db(engine)
    grids = tiny_grids.assign(version=1, valid_from=pd.Timestamp("2020-01-01"), created_by="t")
    store.save_frame(engine, "grids", grids)
    rows = pd.DataFrame(
        {
            "编号": ["E1", "E2"],
            "事件类型": ["违停", "违停"],
            "上报时间": ["2026-05-01 08:00", "2026-05-02 08:00"],
            "经度": ["112.905", "112.906"],
            "纬度": ["35.7925", "35.7925"],
            "地址": ['=HYPERLINK("http://evil/","点此")', "@SUM(1)"],
        }
    )
    path = tmp_path / "in.csv"
    rows.to_csv(path, index=False)
    import_incidents(engine, path, now=pd.Timestamp("2026-06-01"))
    frame = store.read_incidents(engine)
    assert sorted(frame["address"]) == sorted(rows["地址"])  # stored as given
    xlsx = export_incidents(frame, tmp_path / "o.xlsx", lang="zh")
    sheet = load_workbook(xlsx).active
    header = [c.value for c in sheet[1]]
    col = header.index("address")
    cells = [row[col] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type == "s" and c.value.startswith("'") for c in cells)
    back = pd.read_csv(export_incidents(frame, tmp_path / "o.csv"), dtype=str)
    assert all(v.startswith("'") for v in back["address"])
