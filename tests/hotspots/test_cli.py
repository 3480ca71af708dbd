"""``gridlens hotspots | kde | emerging`` on the demo database and on files: the numbers written
are the library's (``gis.hotspots``) on the same incidents and units."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gis import hotspots as hs
from gis import store
from gis.cli import main


@pytest.fixture(scope="module")
def db_inputs(demo_db):
    engine = store.open_store(demo_db)
    grids = store.read_grids(engine)
    inc = store.read_incidents(engine)
    engine.dispose()
    return grids, inc


@pytest.fixture(scope="module")
def files(demo_small, tmp_path_factory):
    """A CSV of parking and encroachment incidents (lon/lat) and a GeoJSON of micro-grids."""
    root = tmp_path_factory.mktemp("cli_files")
    inc = demo_small.incidents
    inc = inc[inc["category_code"].isin(["05-04", "05-05"])].iloc[::3]
    table = pd.DataFrame(
        {
            "event_id": inc["external_id"].to_numpy(),
            "category_code": inc["category_code"].to_numpy(),
            "occurred_at": inc["occurred_at"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
            "lon": inc.geometry.x.to_numpy(),
            "lat": inc.geometry.y.to_numpy(),
        }
    )
    table.loc[len(table)] = ["BAD-1", "05-04", "2026-05-01 08:00:00", None, None]
    csv = root / "incidents.csv"
    table.to_csv(csv, index=False)
    micro = demo_small.grids[demo_small.grids["level"] == "micro"][["code", "name", "geometry"]]
    geojson = root / "micro.geojson"
    micro.to_file(geojson)
    return csv, geojson, table.iloc[:-1], micro


def _lib_points(table: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "category_code": table["category_code"].to_numpy(),
            "occurred_at": pd.to_datetime(table["occurred_at"]).to_numpy(),
        },
        geometry=gpd.points_from_xy(table["lon"], table["lat"]),
        crs=4326,
    )


def test_hotspots_gi_star_from_the_database_equals_the_library(
    demo_db, db_inputs, tmp_path, capsys
):
    grids, inc = db_inputs
    out = tmp_path / "gi.csv"
    rc = main(
        ["hotspots", "--db", demo_db, "--by", "grid:micro", "--category", "05-04",
         "--start", "2026-01-01", "--end", "2026-07-01", "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    got = pd.read_csv(out, dtype={"unit_id": str})
    assert list(got.columns[:7]) == hs_cols()
    sel = inc[
        (inc["category_code"] == "05-04")
        & (inc["occurred_at"] >= "2026-01-01")
        & (inc["occurred_at"] < "2026-07-01")
    ]
    ref = hs.hotspots(hs.count_by_unit(sel, hs.grid_units(grids, "micro")))
    assert got["unit_id"].tolist() == ref["unit_id"].tolist()
    np.testing.assert_array_equal(got["count"], ref["count"])
    np.testing.assert_allclose(got["gi_z"], ref["gi_z"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got["gi_bin"], ref["gi_bin"])
    np.testing.assert_array_equal(got["n_neighbors"], ref["n_neighbors"])
    text = capsys.readouterr().out
    assert f"{len(sel):,} incidents from database; 447 units" in text
    assert f"hot 99%          {int((ref['gi_bin'] == 3).sum()):>7,}" in text


def hs_cols() -> list[str]:
    return ["unit_id", "count", "density_km2", "gi_z", "gi_p", "gi_bin", "n_neighbors"]


def test_hotspots_local_moran_and_band_from_the_database(demo_db, db_inputs, tmp_path, capsys):
    grids, inc = db_inputs
    out = tmp_path / "lisa.geojson"
    rc = main(
        ["hotspots", "--db", demo_db, "--by", "fishnet:200", "--method", "local_moran",
         "--permutations", "199", "--seed", "7", "--category", "05-05", "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    got = gpd.read_file(out)
    for col in ("lisa_i", "lisa_q", "lisa_p", "lisa_cluster", "n_neighbors"):
        assert col in got.columns
    sel = inc[inc["category_code"] == "05-05"]
    units = hs.fishnet_units(hs.study_area(grids), 200)
    ref = hs.hotspots(hs.count_by_unit(sel, units), method="local_moran", permutations=199, seed=7)
    np.testing.assert_allclose(got["lisa_i"], ref["lisa_i"], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got["lisa_q"], ref["lisa_q"])
    np.testing.assert_allclose(got["lisa_p"], ref["lisa_p"])
    assert got["lisa_cluster"].tolist() == ref["lisa_cluster"].tolist()
    capsys.readouterr()
    # an automatic distance band is reported
    assert main(["hotspots", "--db", demo_db, "--by", "fishnet:200", "--weights", "band"]) == 0
    y = hs.count_by_unit(inc, units)["count"].to_numpy()
    band = hs.auto_band(y, hs.unit_centroids_m(units))
    assert f"distance band: {band.band_m:.0f} m ({band.rule})" in capsys.readouterr().out


def test_kde_from_files_equals_the_library(files, tmp_path, capsys):
    csv, geojson, table, micro = files
    out = tmp_path / "heat.csv"
    rc = main(
        ["kde", "--incidents", str(csv), "--grids", str(geojson), "--kernel", "quartic",
         "--bandwidth-m", "250", "--cell-m", "50", "--category", "05-05", "--contours", "3",
         "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["x_m", "y_m", "lon", "lat", "density_km2", "epsg"]
    pts = _lib_points(table[table["category_code"] == "05-05"])
    ref = hs.kde(
        pts, kernel="quartic", bandwidth_m=250, cell_m=50, extent=hs.study_area(micro)
    ).to_frame()
    assert (got["epsg"] == ref.attrs["epsg"]).all() and ref.attrs["epsg"] == 4547
    np.testing.assert_allclose(got["density_km2"], ref["density_km2"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got[["x_m", "y_m"]], ref[["x_m", "y_m"]])
    assert (tmp_path / "heat_contours.geojson").exists()
    text = capsys.readouterr().out
    assert f"{len(pts):,} incidents from {csv} (1 rows without coordinates skipped)" in text
    assert "quartic kernel, bandwidth 250.0 m (given), cell 50.0 m" in text


def test_emerging_from_files_equals_the_library(files, tmp_path, capsys):
    csv, geojson, table, micro = files
    out = tmp_path / "emerging.gpkg"
    rc = main(
        ["emerging", "--incidents", str(csv), "--grids", str(geojson), "--by", "grid:micro",
         "--step", "month", "--category", "05-05", "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    got = gpd.read_file(out)
    pts = _lib_points(table[table["category_code"] == "05-05"])
    units = hs.grid_units(micro.assign(level="micro"), "micro")
    cube = hs.space_time_cube(pts, pts["occurred_at"], units, step="month")
    W, _ = hs.unit_weights(units, "queen")
    ref = hs.emerging_hotspots(cube, W)
    assert got["unit_id"].tolist() == ref["unit_id"].tolist()
    assert got["pattern"].tolist() == ref["pattern"].tolist()
    np.testing.assert_allclose(got["trend_z"], ref["trend_z"], rtol=1e-9, atol=1e-12)
    text = capsys.readouterr().out
    assert "12 month steps 2025-11-01 .. 2026-11-01 (classified: 11)" in text
    n_cons = int((ref["pattern"] == "Consecutive Hot Spot").sum())
    assert n_cons > 0 and f"Consecutive Hot Spot     {n_cons:>7,}" in text


def test_hotspots_h3_from_a_file_without_grids(files, tmp_path):
    csv, _, table, _ = files
    out = tmp_path / "h3.gpkg"
    assert main(["hotspots", "--incidents", str(csv), "--by", "h3:9", "--out", str(out)]) == 0
    got = gpd.read_file(out)
    pts = _lib_points(table)
    ref = hs.hotspots(hs.count_by_unit(pts, hs.h3_units(hs.study_area(points=pts), 9)))
    assert got["unit_id"].tolist() == ref["unit_id"].tolist()
    np.testing.assert_allclose(got["gi_z"], ref["gi_z"], rtol=1e-9, atol=1e-12)
    assert got["count"].sum() == len(table)


def test_cli_errors_are_one_line(files, capsys):
    csv, _, _, _ = files
    assert main(["hotspots", "--incidents", str(csv), "--by", "grid:micro"]) == 1
    assert "needs grids" in capsys.readouterr().err
    assert main(["hotspots", "--incidents", str(csv), "--by", "hexagons"]) == 1
    assert "--by must be" in capsys.readouterr().err
    assert main(["kde", "--incidents", str(csv), "--category", "99-99"]) == 1
    assert "no incidents match" in capsys.readouterr().err


def test_emerging_from_the_database_counts_on_the_cube_as_the_library(
    demo_db, db_inputs, tmp_path, capsys
):
    grids, inc = db_inputs
    out = tmp_path / "em.csv"
    rc = main(
        ["emerging", "--db", demo_db, "--by", "h3:8", "--step", "month", "--category", "05",
         "--out", str(out)]
    )  # fmt: skip
    assert rc == 0
    got = pd.read_csv(out)
    sel = inc[inc["category_code"].str.startswith("05-")]
    units = hs.h3_units(hs.study_area(grids), 8)
    cube = hs.space_time_cube(sel, sel["occurred_at"], units, step="month")
    W, _ = hs.unit_weights(units, "queen")
    ref = hs.emerging_hotspots(cube, W)
    assert got["unit_id"].tolist() == ref["unit_id"].tolist()
    assert got["pattern"].tolist() == ref["pattern"].tolist()
    np.testing.assert_allclose(got["trend_z"], ref["trend_z"], rtol=1e-9, atol=1e-12)
    assert f"{len(sel):,} incidents from database; {len(units):,} units" in capsys.readouterr().out


def test_kde_from_the_database_bins_on_the_cube_fishnet(demo_db, tmp_path, capsys, monkeypatch):
    """``gridlens kde`` on the store counts incidents per 50-m fishnet cell of the cube (as the
    Hotspots page's heat), never reading every incident: equal to the library's KDE of the
    incidents binned by hand on the same fishnet."""
    engine = store.open_store(demo_db)
    inc = store.read_incidents(engine)
    grids = store.read_grids(engine)
    epsg = int(store.get_meta(engine, "fishnet_epsg"))
    engine.dispose()
    inc = inc[inc["category_code"].str.startswith("05-") & inc.geometry.notna()]
    xy = inc.geometry.to_crs(epsg)
    cells = pd.DataFrame(
        {"fx": np.floor(xy.x / 50).astype(int), "fy": np.floor(xy.y / 50).astype(int)}
    )
    binned = cells.value_counts().reset_index(name="n")
    centres = gpd.GeoSeries(
        gpd.points_from_xy((binned["fx"] + 0.5) * 50, (binned["fy"] + 0.5) * 50), crs=epsg
    ).to_crs(4326)
    pts = np.column_stack([centres.x, centres.y])
    want = hs.kde(
        pts, bandwidth_m=300, extent=hs.study_area(grids), weights=binned["n"].to_numpy(float)
    ).to_frame()

    def refused(*args, **kwargs):
        raise AssertionError("kde read every incident")

    monkeypatch.setattr(store, "read_incidents", refused)
    out = tmp_path / "kde.csv"
    args = ["kde", "--db", demo_db, "--category", "05", "--bandwidth-m", "300", "--out", str(out)]
    assert main(args) == 0
    assert f"{len(inc):,} incidents from database (incident cube" in capsys.readouterr().out
    got = pd.read_csv(out)
    assert len(got) == len(want)
    assert np.allclose(got["density_km2"], want["density_km2"], rtol=1e-6, atol=1e-9)
