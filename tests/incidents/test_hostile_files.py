"""Issue 19, files a careless or hostile user brings: an unbalanced quote, a workbook of several
sheets, a title row above the header, bad bytes, NUL characters, huge fields. Every row of the
file is accounted for (imported + rejected = rows in the file) and the broken ones say where."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from gis.cli import main
from gis.core.errors import InputError
from gis.incidents import detect, import_incidents
from gis.io import read_geo_file, read_source
from gis.io.files import MAX_FIELD_CHARS, read_table
from gis.patrol import import_tracks
from tests.incidents.test_intake import CX, CY, NOW, _load_tiny

HEADER = ["编号", "事件类型", "上报时间", "经度", "纬度", "地址", "描述"]


def _lines(n: int = 30, start: int = 0) -> list[str]:
    return [
        f"E{i},违停,2026-05-01 08:{i % 60:02d},{CX + 0.0001 * (i % 40):.6f},{CY:.6f},某路{i}号,"
        f"描述{i}"
        for i in range(start, start + n)
    ]


def _quote_file(tmp_path, broken_at: int = 5):
    """30 rows; data row ``broken_at`` (0-based) ends with an unterminated quote."""
    lines = _lines()
    lines[broken_at] = lines[broken_at].rsplit(",", 1)[0] + ',"unterminated quote starts here'
    path = tmp_path / "quote.csv"
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


def _count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar())


# --- High 1: an unbalanced quote ------------------------------------------------------------------


def test_unbalanced_quote_rejects_its_line_and_keeps_the_rest(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    path = _quote_file(tmp_path)
    check = import_incidents(engine, path, now=NOW, dry_run=True)  # the Data page's dry run
    assert (check.total, check.imported, check.rejected_count) == (30, 29, 1)
    result = import_incidents(engine, path, now=NOW)
    assert (result.total, result.imported, result.rejected_count) == (30, 29, 1)
    reason = result.rejected["reason"].iloc[0]
    assert "line 7" in reason and "quote" in reason  # header = line 1, row 6 = line 7
    assert _count(engine) == 29
    with engine.connect() as conn:
        descs = [r[0] for r in conn.execute(sa.text("SELECT description FROM incidents"))]
    assert not any("\n" in (d or "") for d in descs)


def test_unbalanced_quote_closed_by_a_later_stray_quote(engine, tiny_grids, tmp_path):
    """A quote opened at line 4 and 'closed' by a quote inside line 9's text: rows between
    must not disappear into one description."""
    _load_tiny(engine, tiny_grids)
    lines = _lines(12)
    lines[2] = lines[2].rsplit(",", 1)[0] + ',"opened here'
    lines[7] = lines[7].rsplit(",", 1)[0] + ',closed" here'
    path = tmp_path / "stray.csv"
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    result = import_incidents(engine, path, now=NOW, dry_run=True)
    assert result.total == 12
    assert result.imported == 11
    assert "line 4" in result.rejected["reason"].iloc[0]


def test_quoted_newlines_stay_one_field(tmp_path):
    """A genuine multi-line quoted description is one field of one row."""
    text = ",".join(HEADER) + "\n" + _lines(1)[0].rsplit(",", 1)[0] + ',"第一行\n第二行"\n'
    text += _lines(1, 1)[0] + "\n"
    frame, info = read_source(text.encode(), name="x.csv")
    assert len(frame) == 2 and len(info.malformed) == 0
    assert frame["描述"].iloc[0] == "第一行\n第二行"


def test_table_reader_refuses_saying_where(tmp_path):
    """The reader of grid/analysis files (gis.io.read_table) names the line and the file."""
    path = _quote_file(tmp_path)
    with pytest.raises(InputError, match=r"quote\.csv: line 7"):
        read_table(path)


# --- High 2: every sheet ---------------------------------------------------------------------------


def _sheet(rows: list[str]) -> pd.DataFrame:
    return pd.DataFrame([r.split(",") for r in rows], columns=HEADER)


def test_every_sheet_with_coordinates_is_read(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xw:
        pd.DataFrame({"说明": ["本表为五月事件", "共两页"]}).to_excel(
            xw, sheet_name="封面", index=False
        )
        _sheet(_lines(10)).to_excel(xw, sheet_name="一月", index=False)
        _sheet(_lines(10, 10)).to_excel(xw, sheet_name="二月", index=False)
    result = import_incidents(engine, path, now=NOW)
    assert (result.total, result.imported) == (20, 20)
    assert "sheets read: 一月, 二月 (of 一月, 二月, 封面)" in result.notes
    assert _count(engine) == 20
    only = import_incidents(engine, path, now=NOW, sheet="二月", dry_run=True)
    assert only.total == 10  # all already imported: rejected as such, still counted
    assert detect(path).sheets == ["一月", "二月"]
    with pytest.raises(InputError, match="no sheet '三月'.*封面"):
        import_incidents(engine, path, now=NOW, sheet="三月")


def test_cli_sheet_option(engine, tiny_grids, tmp_path, capsys):
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI opens the SpatiaLite file by path")
    _load_tiny(engine, tiny_grids)
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xw:
        _sheet(_lines(4)).to_excel(xw, sheet_name="a", index=False)
        _sheet(_lines(6, 4)).to_excel(xw, sheet_name="b", index=False)
    db = engine.url.database
    assert main(["incidents", "import", str(path), "--db", db, "--sheet", "b"]) == 0
    out = capsys.readouterr().out
    assert "6 imported + 0 rejected = 6 total" in out and "sheets read: b" in out


# --- Low: a title row, encodings, NUL characters, huge fields --------------------------------------


def test_title_row_above_header_is_skipped(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    csv_path = tmp_path / "titled.csv"
    body = "\n".join(["2026年5月事件登记表,,,,,,", ",".join(HEADER), *_lines(5)]) + "\n"
    csv_path.write_text(body, encoding="utf-8-sig")
    xlsx = tmp_path / "titled.xlsx"
    raw = pd.DataFrame(
        [["2026年5月事件登记表"] + [None] * 6, HEADER, *[r.split(",") for r in _lines(5, 5)]]
    )
    raw.to_excel(xlsx, index=False, header=False)
    for path in (csv_path, xlsx):
        result = import_incidents(engine, path, now=NOW, dry_run=True)
        assert (result.total, result.imported) == (5, 5), path.name


def test_encoding_refusal_names_file_and_byte(tmp_path):
    data = (",".join(HEADER) + "\n" + _lines(1)[0] + "\n").encode("utf-8")
    bad = data + b"E9,\xff\xfe\xff,x\n"
    path = tmp_path / "bad.csv"
    path.write_bytes(bad)
    with pytest.raises(InputError, match=rf"bad\.csv: .*byte {len(data) + 3}"):
        read_source(path)


def test_nul_and_oversized_fields_rejected_with_reason(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    lines = _lines(5)
    lines[1] = lines[1].rsplit(",", 1)[0] + ",含\x00字符"
    lines[3] = (
        lines[3].rsplit(",", 1)[0] + "," + "长" * (1 << 20)
    )  # a field of a million characters
    path = tmp_path / "big.csv"
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    before = _count(engine)
    result = import_incidents(engine, path, now=NOW)
    assert (result.total, result.imported, result.rejected_count) == (5, 3, 2)
    reasons = " | ".join(result.rejected["reason"])
    assert "NUL" in reasons and f"longer than {MAX_FIELD_CHARS}" in reasons
    assert _count(engine) == before + 3


def test_file_without_ids_is_idempotent_by_content(engine, tiny_grids, tmp_path):
    """The same incidents written differently (other column order, number and date formats,
    an extra column, Excel instead of CSV) are recognised as already imported."""
    _load_tiny(engine, tiny_grids)
    first = pd.DataFrame(
        {
            "事件类型": ["违停", "违停", "占道经营"],
            "上报时间": ["2026-05-01 08:00", "2026-05-02 09:30", "2026-05-03 10:15"],
            "经度": [f"{CX:.6f}", f"{CX + 0.001:.6f}", f"{CX + 0.002:.6f}"],
            "纬度": [f"{CY:.6f}"] * 3,
            "地址": ["某路1号", "某路2号", "某路 3号"],
        }
    )
    first.to_csv(tmp_path / "a.csv", index=False)
    done = import_incidents(engine, tmp_path / "a.csv", now=NOW)
    assert done.imported == 3
    second = first.assign(
        上报时间=["2026/5/1 8:00", "2026/05/02 09:30:00", "2026-05-03T10:15"],
        经度=[f"{CX:.4f}", f"{CX + 0.001:.8f}", f"{CX + 0.002:.6f}"],
        地址=["某路1号", " 某路2号 ", "某路  3号"],
        备注=["a", "b", "c"],
    )[["备注", "地址", "纬度", "经度", "上报时间", "事件类型"]]
    second.to_excel(tmp_path / "b.xlsx", index=False)
    again = import_incidents(engine, tmp_path / "b.xlsx", now=NOW)
    assert (again.imported, again.rejected_count) == (0, 3)
    assert set(again.reasons.index) == {"already imported (external_id exists)"}
    assert _count(engine) == 3


def test_swapped_lon_lat_gets_a_hint(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    lines = [line.split(",") for line in _lines(6)]
    for r in lines:
        r[3], r[4] = r[4], r[3]
    path = tmp_path / "swapped.csv"
    path.write_text(
        "\n".join([",".join(HEADER), *(",".join(r) for r in lines)]) + "\n", encoding="utf-8"
    )
    result = import_incidents(engine, path, now=NOW, dry_run=True)
    assert result.imported == 0
    assert any(n.startswith("coordinates look swapped: ") and "100%" in n for n in result.notes)
    plain = import_incidents(engine, _quote_file(tmp_path), now=NOW, dry_run=True)
    assert not any("swapped" in n for n in plain.notes)


def test_shapefile_without_dbf_refused_and_without_prj_noted(tmp_path):
    frame = gpd.GeoDataFrame(
        {"time": ["2026-05-01 08:00"], "category": ["违停"]},
        geometry=[shapely.Point(CX, CY)],
        crs=4326,
    )
    frame.to_file(tmp_path / "a.shp", encoding="utf-8")
    (tmp_path / "a.dbf").unlink()
    with pytest.raises(InputError, match=r"a\.shp: the Shapefile's \.dbf is missing"):
        read_source(tmp_path / "a.shp")
    frame.to_file(tmp_path / "b.shp", encoding="utf-8")
    (tmp_path / "b.prj").unlink()
    _, info = read_source(tmp_path / "b.shp")
    assert any("no .prj" in n for n in info.notes)
    projected = frame.to_crs(4547)
    projected.to_file(tmp_path / "c.shp", encoding="utf-8")
    (tmp_path / "c.prj").unlink()
    with pytest.raises(InputError, match=r"no \.prj .* not degrees.*--crs"):
        read_geo_file(tmp_path / "c.shp")


def test_track_fix_in_the_future_is_dropped(engine, tiny_grids, tmp_path):
    _load_tiny(engine, tiny_grids)
    t0 = pd.Timestamp("2026-05-31 23:50:30")
    rows = [
        (f"{CX + 0.00005 * k:.6f}", f"{CY:.6f}", f"{t0 + pd.Timedelta(seconds=60 * k)}", "S1")
        for k in range(20)
    ]  # 10 before NOW, 10 after
    pd.DataFrame(rows, columns=["lon", "lat", "time", "staff_code"]).to_csv(
        tmp_path / "t.csv", index=False
    )
    result = import_tracks(engine, tmp_path / "t.csv", now=NOW)
    assert (result.total, result.imported) == (20, 10)
    assert set(result.dropped["reason"]) == {"time in the future"}
