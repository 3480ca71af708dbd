"""Issue 19, Medium: one-line errors instead of tracebacks on the command line and on the Data
page (its error guard): duplicate header names in an incident CSV, a Shapefile without .prj."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gis import store, ui
from gis.cli import main
from gis.core.errors import InputError
from gis.io.files import read_source

DUP = "lon,lat,lon,type,reported_at\n112.93,35.80,112.93,违停,2026-03-01 10:00\n"


class _Shown:
    """Records st.warning / st.error (the guard's only outputs)."""

    def __init__(self):
        self.shown: list[tuple[str, str]] = []

    def warning(self, text):
        self.shown.append(("warning", text))

    def error(self, text):
        self.shown.append(("error", text))


def _one_line(err: str, needle: str) -> None:
    assert "Traceback" not in err and needle in err, err
    assert len(err.strip().splitlines()) == 1, err


def _db(tmp_path):
    db = tmp_path / "t.db"
    engine = store.open_store(str(db))
    store.init_db(engine)
    engine.dispose()
    return db


def test_duplicate_header_names_cli_one_line(tmp_path, capsys):
    (tmp_path / "dup.csv").write_text(DUP, encoding="utf-8")
    code = main(["incidents", "import", str(tmp_path / "dup.csv"), "--db", str(_db(tmp_path))])
    err = capsys.readouterr().err
    assert code == 1
    _one_line(err, "repeats column names ('lon' in columns 1, 3)")


def test_duplicate_header_names_on_the_data_page_guard(monkeypatch):
    shown = _Shown()
    monkeypatch.setattr("gis.ui.errors.st", shown)
    with ui.guard() as outcome:
        read_source(DUP.encode("utf-8"), name="dup.csv")
    assert isinstance(outcome.error, InputError)
    assert shown.shown[0][0] == "warning" and "'lon' in columns 1, 3" in shown.shown[0][1]


@pytest.mark.parametrize("projected", [False, True])
def test_shapefile_without_prj_cli_one_line(tmp_path, capsys, projected):
    frame = gpd.GeoDataFrame(
        {"code": ["140581001001000"], "name": ["a"], "level": ["l1"]},
        geometry=[shapely.box(112.90, 35.79, 112.91, 35.80)],
        crs=4326,
    )
    if projected:
        frame = frame.to_crs(32649)
    frame.to_file(tmp_path / "g.shp", encoding="utf-8")
    (tmp_path / "g.prj").unlink()
    code = main(["grids", "import", str(tmp_path / "g.shp"), "--db", str(_db(tmp_path))])
    err = capsys.readouterr().err
    if projected:
        assert code == 1
        _one_line(err, ".prj")
    else:
        assert "Traceback" not in err
