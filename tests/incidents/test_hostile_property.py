"""Issue 19, property: hostile CSV / Excel / GeoJSON files (quotes, encodings, delimiters,
sheets, title rows, dates, sizes, NUL characters) imported into the store. Every row of the
file is accounted for: ``imported + rejected = rows in the file``, the store gains exactly the
imported rows, and a refused file leaves the store as it was."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.core.errors import InputError
from gis.incidents import import_incidents
from tests.incidents.test_intake import CX, CY, NOW, _load_tiny

HEADER = ["编号", "事件类型", "上报时间", "经度", "纬度", "地址", "描述"]

texts = st.text(
    alphabet=st.sampled_from(list("ab 中文,;\"'\t|\n=+-@<>![]()*_#$\\") + ["\x00", "é"]),
    max_size=12,
)
times = st.one_of(
    st.datetimes(min_value=pd.Timestamp("2020-01-01"), max_value=pd.Timestamp("2026-05-30")).map(
        lambda t: t.strftime("%Y-%m-%d %H:%M" if t.second % 3 == 0 else "%Y/%m/%d %H:%M:%S")
    ),
    st.sampled_from(["", "not a date", "2026-13-45 25:61"]),
)
coords = st.one_of(
    st.tuples(
        st.floats(CX - 0.004, CX + 0.014).map(lambda v: f"{v:.6f}"),
        st.floats(CY - 0.002, CY + 0.007).map(lambda v: f"{v:.6f}"),
    ),
    st.sampled_from([("", ""), ("abc", "35.79"), ("0", "0"), ("999", "35.79")]),
)
rows = st.lists(
    st.tuples(
        st.one_of(st.just(""), st.from_regex(r"E[0-9]{1,3}", fullmatch=True)),
        st.sampled_from(["违停", "占道经营", "不知道的类型", ""]),
        times,
        coords,
        texts,
        st.one_of(texts, st.just("长" * 40_000)),  # a field over the size limit
    ),
    min_size=0,
    max_size=7,
)


def _records(data) -> list[list[str]]:
    return [[i, c, t, x, y, a, d] for i, c, t, (x, y), a, d in data]


def _csv_bytes(records, delimiter: str, encoding: str, broken: int | None, title: bool) -> bytes:
    out = io.StringIO()
    if title:
        out.write("事件登记表" + delimiter * (len(HEADER) - 1) + "\n")
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(HEADER)
    for k, rec in enumerate(records):
        line = io.StringIO()
        if k == broken:  # the last field opens a quote that is never closed
            csv.writer(line, delimiter=delimiter, lineterminator="\n").writerow(rec[:-1])
            head = line.getvalue()[:-1]  # (the writer quotes line breaks only with a terminator)
            out.write(head + delimiter + '"unterminated quote starts here\n')
        else:
            csv.writer(line, delimiter=delimiter, lineterminator="\n").writerow(rec)
            out.write(line.getvalue())
    return out.getvalue().encode(encoding, errors="replace")


def _state(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        inc = conn.execute(sa.text("SELECT COUNT(*) FROM incidents")).scalar()
        bat = conn.execute(sa.text("SELECT COUNT(*) FROM import_batches")).scalar()
    return int(inc), int(bat)


def _check(engine, data: bytes | str, name: str, n_rows: int) -> None:
    before = _state(engine)
    try:
        result = import_incidents(engine, data, name=name, now=NOW)
    except InputError:
        assert _state(engine) == before  # refused: nothing written
        return
    assert result.imported + result.rejected_count == result.total == n_rows, result.summary_line()
    assert _state(engine) == (before[0] + result.imported, before[1] + 1)


@pytest.fixture
def store_engine(engine, tiny_grids):
    _load_tiny(engine, tiny_grids)
    return engine


SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@SETTINGS
@given(
    data=rows,
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    broken=st.one_of(st.none(), st.integers(0, 6)),
    title=st.booleans(),
)
def test_hostile_csv_every_row_accounted_for(
    store_engine, data, delimiter, encoding, broken, title
):
    records = _records(data)
    if encoding == "gb18030":  # what GB18030 cannot hold
        records = [[v.replace("é", "e") for v in r] for r in records]
    broken = broken if broken is not None and broken < len(records) else None
    if broken is not None:  # a stray quote beside values over several lines is ambiguous
        # (gis.io.files.split_csv_records says so): with a broken row, one-line values only
        records = [[v.replace("\n", " ") for v in r] for r in records]
    raw = _csv_bytes(records, delimiter, encoding, broken, title)
    _check(store_engine, raw, "hostile.csv", len(records))


@SETTINGS
@given(data=rows, split=st.integers(0, 7), cover=st.booleans(), title=st.booleans())
def test_hostile_excel_every_row_accounted_for(store_engine, data, split, cover, title):
    records = [[v.replace("\x00", "") for v in r] for r in _records(data)]  # xlsx holds no NUL
    records = [[v[:30_000] for v in r] for r in records]  # nor cells over 32,767 characters
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        if cover:
            pd.DataFrame({"说明": ["封面"]}).to_excel(xw, sheet_name="封面", index=False)
        for sheet, part in (("一", records[:split]), ("二", records[split:])):
            frame = pd.DataFrame(part, columns=HEADER)
            if title:
                frame.to_excel(xw, sheet_name=sheet, index=False, startrow=1)
                xw.sheets[sheet].cell(row=1, column=1, value="事件登记表")
            else:
                frame.to_excel(xw, sheet_name=sheet, index=False)
    _check(store_engine, buf.getvalue(), "hostile.xlsx", len(records))


@SETTINGS
@given(data=rows)
def test_hostile_geojson_every_row_accounted_for(store_engine, data):
    features = []
    for i, c, t, (x, y), a, d in data:
        try:
            geometry = {"type": "Point", "coordinates": [float(x), float(y)]}
        except ValueError:
            geometry = None
        props = {"编号": i, "事件类型": c, "上报时间": t, "地址": a, "描述": d}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    _check(store_engine, text.encode("utf-8"), "hostile.geojson", len(features))
